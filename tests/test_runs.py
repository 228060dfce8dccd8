"""Run folders: atomic appends, torn-line repair, resume after kill -9 with nothing redone or lost."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codeladder.benchmarks import get_benchmark
from codeladder.errors import LadderError
from codeladder.runs import Appender, RunDir, read_jsonl
from conftest import ladder


def test_torn_last_line_is_cut_off(tmp_path):
    path = tmp_path / "rows.jsonl"
    with Appender(path) as out:
        out.write({"a": 1})
        out.write({"a": 2})
    with open(path, "ab") as f:
        f.write(b'{"a": 3, "tor')
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}]
    assert path.read_bytes().endswith(b'{"a": 2}\n')


def test_run_folder_refuses_other_settings(tmp_path):
    run = RunDir(tmp_path / "run")
    run.prepare({"benchmark": "humaneval", "n": 1})
    run.unlock()
    run.prepare({"benchmark": "humaneval", "n": 2})  # no sample yet: a failed first try must not block the retry
    with Appender(run.samples) as out:
        out.write({"task_id": "HumanEval/0", "sample_index": 0})
    run.unlock()
    run.prepare({"benchmark": "humaneval", "n": 2})
    run.unlock()
    with pytest.raises(LadderError, match="n=2"):
        run.prepare({"benchmark": "humaneval", "n": 4})
    run.prepare({"benchmark": "humaneval", "n": 4}, overwrite=True)
    assert not run.samples.exists()
    run.unlock()


def ten_samples_per_task(path: Path) -> Path:
    """1,640 samples: alternately the canonical solution and a wrong one."""
    with open(path, "w") as f:
        for task in get_benchmark("humaneval").load():
            for i in range(10):
                solution = task.reference if i % 2 == 0 else task.prompt + "    return None\n"
                f.write(json.dumps({"task_id": task.task_id, "solution": solution}) + "\n")
    return path


def verdicts(run: Path) -> dict:
    return {(r["task_id"], r["sample_index"]): (r["passed"], r["status"]) for r in read_jsonl(run / "results.jsonl")}


def test_kill_9_then_rerun_finishes_exactly_once(tmp_path):
    samples = ten_samples_per_task(tmp_path / "samples.jsonl")
    reference_run = tmp_path / "uninterrupted"
    ladder("eval", "humaneval", "--samples", str(samples), "--output", str(reference_run), "--json")
    expected = verdicts(reference_run)
    assert len(expected) == 1640

    crashed = tmp_path / "crashed"
    command = [sys.executable, "-m", "codeladder.cli.main", "eval", "humaneval", "--samples", str(samples),
               "--output", str(crashed), "--json"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    results = crashed / "results.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if results.exists() and results.read_bytes().count(b"\n") >= 300:
            break
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    partial = results.read_bytes().count(b"\n")
    assert 300 <= partial < 1640, "the run must be killed part-way"

    out = ladder("eval", "humaneval", "--samples", str(samples), "--output", str(crashed), "--json")
    summary = json.loads(out.stdout)
    rows = read_jsonl(results)
    assert len(rows) == 1640
    assert len({(r["task_id"], r["sample_index"]) for r in rows}) == 1640
    assert verdicts(crashed) == expected
    assert summary["num_samples"] == 1640
    assert summary["pass_at_k"]["1"] == pytest.approx(0.5)
    assert json.loads((crashed / "summary.json").read_text()) == summary
