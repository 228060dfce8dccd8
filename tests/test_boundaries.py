"""Import boundaries: checked in fresh interpreters (backends know nothing of benchmarks; scoring pre-generated
samples, forking sandbox workers, listing verbs, reports and contracts never load torch) and on the source (no
import cycle, however hidden; nothing imports the CLI; transforms never reach the sandbox but through measure/)."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest


def loaded_after(statement: str) -> list[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_backends_import_no_benchmark_and_no_engine_library():
    modules = loaded_after("import codeladder.backends")
    assert not [m for m in modules if m.startswith("codeladder.benchmarks")]
    assert not [m for m in modules if m.split(".")[0] in ("torch", "transformers", "llama_cpp")]


@pytest.mark.parametrize("package", ["codeladder.sandbox", "codeladder.scoring"])
def test_sandbox_and_scoring_import_no_torch(package):
    assert "torch" not in loaded_after(f"import {package}")


@pytest.mark.parametrize("package", ["codeladder.benchmarks", "codeladder.prompts", "codeladder.runs",
                                     "codeladder.analysis", "codeladder.report", "codeladder.contracts",
                                     "codeladder.pipeline", "codeladder.verbs"])
def test_light_packages_import_no_torch(package):
    assert "torch" not in loaded_after(f"import {package}")


SRC = Path(__file__).resolve().parents[1] / "src"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the codeladder modules it imports, counting every import statement: module level, inside
    functions and under TYPE_CHECKING (``from pkg import name`` counts ``pkg.name`` when that is a module)."""
    files = {_module_name(path): path for path in (SRC / "codeladder").rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            else:
                continue
            graph[name] |= {target for target in targets if target in files and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_modules_hidden_or_not():
    graph = import_graph()
    assert len(graph) > 150
    assert cycles(graph) == []
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]  # the check itself


def test_nothing_outside_cli_imports_cli_and_nothing_in_transforms_imports_the_sandbox():
    graph = import_graph()
    assert not [(m, t) for m, targets in graph.items() for t in targets
                if t.startswith("codeladder.cli") and not m.startswith("codeladder.cli")]
    assert not [(m, t) for m, targets in graph.items() for t in targets
                if m.startswith("codeladder.transforms") and t.startswith("codeladder.sandbox")]


def test_the_architecture_doc_names_every_package_and_module():
    doc = (SRC.parent / "docs" / "architecture.md").read_text()
    packages = [p.name for p in (SRC / "codeladder").iterdir() if p.is_dir() and not p.name.startswith("__")]
    modules = [p.name for p in (SRC / "codeladder").glob("*.py") if p.name != "__init__.py"]
    assert len(packages) >= 15 and len(modules) >= 10
    assert [p for p in packages if f"`{p}/`" not in doc] == []
    assert [m for m in modules if m not in doc] == []
