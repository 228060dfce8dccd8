"""A new user's first hour (issue 8): nothing of theirs lost, damaged or edited inputs reported, one line for
every bad input of `ladder eval` and `ladder run`, and runs that survive being shared or interrupted."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from codeladder.errors import LadderError
from codeladder.runs import RunDir
from conftest import ladder

ENV = {**os.environ, "COLUMNS": "200"}


def one_line_error(done) -> str:
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_overwrite_never_deletes_a_users_folder(tmp_path):
    project = tmp_path / "my-project"
    project.mkdir()
    (project / "train.py").write_text("print('mine')\n")
    message = one_line_error(ladder("eval", "humaneval", "--limit", "2", "--output", ".", "--overwrite",
                                    cwd=project, check=False))
    assert "train.py" in message and "not a codeladder run" in message
    assert (project / "train.py").read_text() == "print('mine')\n"


def test_overwrite_removes_only_the_run_files(tmp_path):
    run = tmp_path / "run"
    ladder("eval", "humaneval", "--limit", "2", "--output", str(run), cwd=tmp_path)
    ladder("eval", "humaneval", "--limit", "3", "--output", str(run), "--overwrite", cwd=tmp_path)
    assert len((run / "results.jsonl").read_text().splitlines()) == 3
    assert sorted(p.name for p in run.iterdir() if not p.name.startswith(".")) == [
        "backend.json", "config.json", "results.jsonl", "samples.jsonl", "summary.json"]


def test_a_second_eval_on_the_same_folder_is_refused(tmp_path):
    run = RunDir(tmp_path / "run")
    run.prepare({"benchmark": "humaneval"})
    try:
        message = one_line_error(ladder("eval", "humaneval", "--limit", "2", "--output", str(run.path),
                                        cwd=tmp_path, check=False))
        assert "another ladder process" in message and str(os.getpid()) in message
    finally:
        run.unlock()
    ladder("eval", "humaneval", "--limit", "2", "--output", str(run.path), cwd=tmp_path)


def test_concurrent_evals_never_interleave(tmp_path):
    """Two real processes, the second started while the first runs: one runs, the other is refused; no
    duplicated rows. (Started together, 20 tasks could finish before the second process had imported.)"""
    out = str(tmp_path / "run")
    command = [sys.executable, "-m", "codeladder.cli.main", "eval", "mbpp", "--output", out]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=tmp_path)
    results, deadline = tmp_path / "run" / "results.jsonl", time.monotonic() + 60
    while time.monotonic() < deadline and not results.exists():
        time.sleep(0.02)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                              cwd=tmp_path)
    codes = sorted([first.wait(120), second.wait(120)])
    assert codes == [0, 2], (first.stderr.read(), second.stderr.read())
    rows = results.read_text().splitlines()
    assert len(rows) == 500


def test_damaged_middle_line_is_reported_not_cut(tmp_path):
    run = tmp_path / "run"
    ladder("eval", "humaneval", "--limit", "4", "--output", str(run), cwd=tmp_path)
    lines = (run / "samples.jsonl").read_text().splitlines()
    lines[1] = lines[1][:20]
    damaged = "\n".join(lines) + "\n"
    (run / "samples.jsonl").write_text(damaged)
    message = one_line_error(ladder("eval", "humaneval", "--limit", "4", "--output", str(run), cwd=tmp_path,
                                    check=False))
    assert "samples.jsonl:2" in message and "damaged" in message
    assert (run / "samples.jsonl").read_text() == damaged


def test_an_edited_samples_file_is_not_reported_with_the_old_score(tmp_path):
    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "completion": "    return False\n"}) + "\n")
    run = str(tmp_path / "run")
    ladder("eval", "humaneval", "--samples", str(samples), "--output", run, cwd=tmp_path)
    from codeladder.benchmarks import get_benchmark

    reference = get_benchmark("humaneval").load()[0].reference
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "solution": reference}) + "\n")
    message = one_line_error(ladder("eval", "humaneval", "--samples", str(samples), "--output", run, cwd=tmp_path,
                                    check=False))
    assert "samples_sha256" in message and "--overwrite" in message
    done = ladder("eval", "humaneval", "--samples", str(samples), "--output", run, "--overwrite", "--json",
                  cwd=tmp_path)
    assert json.loads(done.stdout)["pass_at_k"] == {"1": 1.0}


def test_a_failed_eval_does_not_block_the_corrected_retry(tmp_path):
    run = str(tmp_path / "run")
    one_line_error(ladder("eval", "humaneval", "--model", str(tmp_path / "missing-model"), "--output", run,
                          cwd=tmp_path, check=False))
    ladder("eval", "humaneval", "--limit", "2", "--output", run, cwd=tmp_path)


def test_a_stopped_run_does_not_look_finished(tmp_path):
    """kill -9 while a resumed run extends an old one: the old summary.json must not stay behind."""
    run = tmp_path / "run"
    ladder("eval", "mbpp", "--limit", "2", "--output", str(run), cwd=tmp_path)
    assert (run / "summary.json").exists()
    command = [sys.executable, "-m", "codeladder.cli.main", "eval", "mbpp", "--output", str(run), "--limit", "500"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len((run / "results.jsonl").read_text().splitlines()) < 10:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (run / "summary.json").exists()


def test_ctrl_c_prints_the_resume_hint(tmp_path):
    command = [sys.executable, "-m", "codeladder.cli.main", "eval", "mbpp", "--output", str(tmp_path / "run")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                               cwd=tmp_path, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    results = tmp_path / "run" / "results.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (results.exists() and results.stat().st_size):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "run the same command again to resume" in err and "Traceback" not in err


@pytest.mark.parametrize("row, expected", [
    ({"task_id": "HumanEval/0", "solution": 42}, "must be a string"),
    ({"task_id": ["HumanEval/0"], "solution": "pass"}, "task_id must be a string"),
    ({"task_id": "HumanEval/9999", "solution": "pass"}, "not a humaneval task"),
    ({"task_id": "HumanEval/0"}, "needs a 'solution'"),
    ([1, 2], "expected a JSON object"),
])
def test_malformed_samples_rows_name_the_line(tmp_path, row, expected):
    samples = tmp_path / "samples.jsonl"
    samples.write_text("\n" + json.dumps(row) + "\n")
    message = one_line_error(ladder("eval", "humaneval", "--samples", str(samples), cwd=tmp_path, check=False))
    assert "samples.jsonl:2" in message and expected in message


def test_binary_input_files_are_one_line(tmp_path):
    blob = tmp_path / "blob.jsonl"
    blob.write_bytes(b"\xff\xfe\x00garbage\x89PNG\n")
    message = one_line_error(ladder("eval", "humaneval", "--samples", str(blob), cwd=tmp_path, check=False))
    assert "blob.jsonl:1" in message and "UTF-8" in message


def test_mbpp_integer_task_ids_and_own_samples_are_scored(tmp_path):
    from codeladder.benchmarks import get_benchmark

    tasks = get_benchmark("mbpp").load()[:2]
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": int(t.task_id.split("/")[1]), "solution": t.reference}) + "\n"
                               for t in tasks))
    run = tmp_path / "run"
    done = ladder("eval", "mbpp", "--samples", str(samples), "--output", str(run), "--json", cwd=tmp_path)
    assert json.loads(done.stdout)["num_samples"] == 2 and json.loads(done.stdout)["pass_at_k"] == {"1": 1.0}
    again = ladder("eval", "mbpp", "--samples", str(run / "samples.jsonl"), "--output", str(tmp_path / "re"),
                   "--json", cwd=tmp_path)
    assert json.loads(again.stdout)["pass_at_k"] == {"1": 1.0}


@pytest.mark.parametrize("flags, named", [
    (["--timeout", "-1"], "--timeout"),
    (["--temperature", "-1"], "--temperature"),
    (["--limit", "0"], "--limit"),
    (["--top-p", "0"], "--top-p"),
    (["--max-new-tokens", "0"], "--max-new-tokens"),
    (["--workers", "0"], "--workers"),
    (["--memory", "1"], "--memory"),
    (["--n-ctx", "8"], "--n-ctx"),
    (["--batch-size", "0"], "--batch-size"),
    (["--mode", "both"], "--mode"),
    (["--strategy", "nope"], "nope"),
])
def test_out_of_range_eval_flags_are_one_line_and_leave_nothing(tmp_path, flags, named):
    message = one_line_error(ladder("eval", "humaneval", "--output", str(tmp_path / "run"), *flags, cwd=tmp_path,
                                    check=False))
    assert named in message
    assert not (tmp_path / "run").exists()


def test_k_above_the_samples_per_task_is_refused(tmp_path):
    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "completion": "    return False\n"}) + "\n")
    message = one_line_error(ladder("eval", "humaneval", "--samples", str(samples), "--k", "1,5", cwd=tmp_path,
                                    check=False))
    assert "--k" in message and "HumanEval/0" in message


def test_flags_show_no_python_types_and_version_prints(tmp_path):
    help_text = ladder("eval", "--help").stdout
    assert "<bool>" not in help_text and "BOOLEAN" not in help_text
    assert ladder("--version").stdout.startswith("codeladder ")


def test_progress_lines_reach_a_log_that_is_not_a_terminal(tmp_path):
    done = ladder("eval", "mbpp", "--limit", "3", "--output", str(tmp_path / "run"), cwd=tmp_path)
    assert "executing: 3/3 (100%)" in done.stderr


def test_run_output_problems_are_found_before_generating(tmp_path, tiny_model):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    message = one_line_error(ladder("run", str(tiny_model), "--prompt", "def f():", "-o", str(folder),
                                    cwd=tmp_path, check=False))
    assert "-o" in message and "a-folder" in message


def test_the_run_folder_refuses_a_file(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(LadderError, match="is a file"):
        RunDir(target).prepare({})


@pytest.mark.parametrize("args, named", [
    (["bench", "{model}", "--iterations", "0"], "--iterations"),
    (["bench", "{model}", "--batch-sizes", "0"], "--batch-sizes"),
    (["perplexity", "{model}", "--text", "{text}", "--stride", "0"], "--stride"),
    (["perplexity", "{model}", "--text", "{text}", "--max-length", "1"], "--max-length"),
    (["parity", "{model}", "{model}", "--greedy-tokens", "-1"], "--greedy-tokens"),
    (["run", "{model}", "--prompt", "def f():", "--max-new-tokens", "0"], "--max-new-tokens"),
    (["run", "{model}", "--prompt", "def f():", "--temperature", "-1"], "--temperature"),
    (["run", "{model}", "--batch-jsonl", "{binary}"], "UTF-8"),
    (["parity", "{model}", "{model}", "--prompts", "{empty}"], "no prompts"),
])
def test_out_of_range_flags_of_the_measuring_verbs_are_one_line(tmp_path, tiny_model, args, named):
    text, binary, empty = tmp_path / "code.py", tmp_path / "batch.jsonl", tmp_path / "empty.jsonl"
    text.write_text("def f(x):\n    return x + 1\n" * 20)
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    empty.write_text("\n")
    filled = [a.format(model=tiny_model, text=text, binary=binary, empty=empty) for a in args]
    assert named in one_line_error(ladder(*filled, cwd=tmp_path, check=False))
