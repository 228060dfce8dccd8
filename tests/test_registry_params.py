"""One registry, typed verbs: a toy benchmark added from a test module in one file plus one registry call
appears in `ladder ls`, in `eval --help` and runs; every verb's CLI is generated from its params class; the
CLI and the Python call give the same result."""

import json
from pathlib import Path

import pytest
import typer

from codeladder.benchmarks import Benchmark, Task, TestProgram
from codeladder.cli import main as cli_main
from codeladder.verbs import all_verbs
from codeladder.errors import LadderError
from codeladder.evaluate import EvalParams, evaluate
from codeladder.registry import registry
from conftest import run_cli


class ToyBenchmark(Benchmark):
    """Two tasks defined in code: double a number, reverse a string."""

    name = "toy-bench"
    data_file = ""
    sha256 = ""

    def load(self) -> list[Task]:
        return [Task("Toy/0", "def double(x):\n", "Double x.", "double", "def double(x):\n    return 2 * x\n"),
                Task("Toy/1", "def rev(s):\n", "Reverse s.", "rev", "def rev(s):\n    return s[::-1]\n")]

    def test_program(self, task: Task, solution: str) -> TestProgram:
        check = "assert double(3) == 6\n" if task.entry_point == "double" else "assert rev('ab') == 'ba'\n"
        return TestProgram(solution + "\n" + check)


@pytest.fixture(scope="module", autouse=True)
def toy_registered():
    registry("benchmark").add("toy-bench", "a toy benchmark registered by a test", ToyBenchmark)
    yield
    registry("benchmark").remove("toy-bench")


def test_a_registered_benchmark_is_listed_helped_and_evaluated(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # the help lists every choice on one line
    code, out, _ = run_cli(capsys, "ls", "benchmark", "--json")
    assert code == 0
    toy = next(row for row in json.loads(out) if row["name"] == "toy-bench")
    assert toy["summary"] == "a toy benchmark registered by a test" and toy["source"].endswith("test_registry_params.py")
    code, out, _ = run_cli(capsys, "eval", "--help")
    assert code == 0 and "toy-bench" in out
    code, out, _ = run_cli(capsys, "eval", "toy-bench", "--output", str(tmp_path / "run"), "--json")
    assert code == 0, out
    assert json.loads(out)["pass_at_k"] == {"1": 1.0} and json.loads(out)["num_samples"] == 2


def test_the_cli_and_the_python_call_give_the_same_result(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "eval", "mbpp", "--limit", "4", "--k", "1", "--output", str(tmp_path / "cli"),
                           "--json")
    assert code == 0
    from_cli = json.loads(out)
    from_python = evaluate(EvalParams(benchmark="mbpp", limit=4, k=(1,), output=str(tmp_path / "py")))
    for key in ("pass_at_k", "num_tasks", "num_samples", "statuses", "template_hash", "dataset_sha256"):
        assert from_cli[key] == from_python[key], key
    rows = lambda run: [(r["task_id"], r["passed"]) for r in map(json.loads, (run / "results.jsonl").open())]  # noqa: E731
    assert sorted(rows(tmp_path / "cli")) == sorted(rows(tmp_path / "py"))


def test_params_validate_the_same_way_from_python(tmp_path):
    with pytest.raises(LadderError, match="--n 0"):
        EvalParams(n=0)
    with pytest.raises(LadderError, match="--strategy nope"):
        EvalParams(strategy="nope")
    with pytest.raises(LadderError, match="--k 1,5"):
        EvalParams(k="1,5", n=2)
    assert EvalParams(k="1,10", n=10).k == (1, 10)


def test_every_verb_option_comes_from_its_params_class_with_help():
    app = cli_main.build_app()
    command = typer.main.get_command(app)
    for verb in all_verbs():
        sub = command
        for part in verb.name.split():  # "data pairs" is the sub-command pairs of the group data
            sub = sub.commands[part]
        names = {p.name for p in sub.params}
        fields = set(verb.params.model_fields) - {"backend_options"}
        assert fields <= names, (verb.name, fields - names)
        for param in sub.params:
            assert (getattr(param, "help", None) or "").strip(), (verb.name, param.name)
        assert Path(verb.source).name in (sub.help or ""), verb.name
