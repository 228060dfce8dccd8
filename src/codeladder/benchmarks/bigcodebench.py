"""BigCodeBench (full, 1140 tasks; hard, 148): library-heavy tasks with unittest suites.

Data versions (``--data-version``): v0.1.4, upstream's current one (the default; reproduced offline from v0.1.0
with upstream's published fixes), and v0.1.0. Modes: ``complete`` (the model continues ``complete_prompt``; the
solution is ``code_prompt`` + completion) and ``instruct`` (the model writes the whole solution from
``instruct_prompt``). The tests need many libraries: ``ladder env create bigcodebench`` makes the environment
whose interpreter runs them. A library the task declares (``libs``) or its tests import that the environment
lacks is ``error`` (an environment problem); a module only the sample imports that is missing is ``failed``,
as the official harness counts it.

The solution must share a process with its unittest suite (the tests patch its module), so the
program is :mod:`codeladder.benchmarks.bcb_runner`: a runner that never executes the sample and
decides from the report of a forked host that does, with tampering detected (see its docstring).
"""

from __future__ import annotations

import ast
import functools
import json
from pathlib import Path

from codeladder.benchmarks.base import Benchmark, Task, TestProgram
from codeladder.errors import LadderError


def expected_tests(test_source: str) -> list[str]:
    """The test methods of ``TestCases`` as written in the dataset's test code (by AST, never run)."""
    for node in ast.parse(test_source).body:
        if isinstance(node, ast.ClassDef) and node.name == "TestCases":
            return sorted(n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                          and n.name.startswith("test"))
    return []


def imported_modules(source: str) -> list[str]:
    """Every module a piece of code imports (``a.b`` gives ``a`` and ``a.b``), by AST."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    found = set()
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
        for name in names:
            parts = name.split(".")
            found.update(".".join(parts[:i + 1]) for i in range(len(parts)))
    return sorted(found)


@functools.cache
def _runner_source() -> str:
    return Path(__file__).with_name("bcb_runner.py").read_text(encoding="utf-8")  # not imported: it is the program


def program(solution: str, test: str, libs: list[str]) -> str:
    """The in-process program for one sample: :mod:`bcb_runner`'s source, then a call of its ``main``
    with what the runner needs: the sample, the tests, the test methods and modules found statically."""
    test_imports = imported_modules(test)
    job = {"solution": solution, "test": test, "tests": expected_tests(test), "watch": test_imports,
           "preload": sorted(set(test_imports) | set(libs)),
           "needed": sorted({m.split(".")[0] for m in [*libs, *test_imports]})}  # missing: error, else failed
    return f"{_runner_source()}\n\nmain({json.dumps(job)!r})\n"


class BigCodeBench(Benchmark):
    name = "bigcodebench"
    files = {"v0.1.4": ("bigcodebench-v0.1.4.jsonl.gz",
                        "1f2202c537653e7e5cf9d6ae741dabde56e0c7aa3b2848a7a2edd002633b9218"),
             "v0.1.0": ("bigcodebench-v0.1.0.jsonl.gz",
                        "58142744edaf6036387f8761701f1b353432b0ed33f2edec1de8a59e7431ef7a")}
    default_timeout_s = 240.0  # upstream's per-task limit (TIMEOUT_LIMIT): reference solutions run for minutes
    default_memory_mb = 4096
    sanity_expectation = ("expect >= 97% with `ladder env create bigcodebench` (docs/bigcodebench.md lists the tasks "
                          "that cannot pass here); without it, tasks whose libraries are missing are status 'error'")
    modes = ("complete", "instruct")
    mode = "complete"
    versions = ("v0.1.4", "v0.1.0")
    environment = "bigcodebench"

    def __init__(self) -> None:
        self.use_version(self.versions[0])

    def use_version(self, version: str) -> None:
        if version not in self.files:
            raise LadderError(f"--data-version {version}: {self.name} has {', '.join(self.versions)}")
        self.data_version = version
        self.data_file, self.sha256 = self.files[version]
        self.source = f"BigCodeBench {version} (Apache-2.0)"

    def _rows_to_tasks(self, rows: list[dict]) -> list[Task]:
        return [
            Task(task_id=r["task_id"], prompt=r["complete_prompt"], instruction=r["instruct_prompt"],
                 entry_point=r["entry_point"], reference=r["code_prompt"] + r["canonical_solution"],
                 style="function" if self.mode == "complete" else "description",
                 data={"test": r["test"], "code_prompt": r["code_prompt"], "libs": r["libs"]})
            for r in rows
        ]

    def solution_from_completion(self, task: Task, completion: str) -> str:
        return task.data["code_prompt"] + completion if self.mode == "complete" else completion

    def test_program(self, task: Task, solution: str) -> TestProgram:
        try:
            compile(solution, "<solution>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return TestProgram(solution)  # fails to compile in the sandbox too: status syntax_error
        libs = task.data["libs"]
        libs = ast.literal_eval(libs) if isinstance(libs, str) else list(libs)
        return TestProgram(program(solution, task.data["test"], libs), loopback=True)  # socket tasks: 1038, 1040


class BigCodeBenchHard(BigCodeBench):
    name = "bigcodebench-hard"
    files = {"v0.1.4": ("bigcodebench-hard-v0.1.4.jsonl.gz",
                        "c68b0a658a6e0eb2078d9d84b8e8bdaa9fb26566e0b07dfb130ca88c54a8290a"),
             "v0.1.0": ("bigcodebench-hard-v0.1.0.jsonl.gz",
                        "146fcfe20136eac0cf1d32938522b987ca84fc7adfcef55065b9d5ab44166b64")}
