"""``ladder tune`` on a tiny model with a real Optuna study in SQLite: pruning, ``kill -9`` and resume, two workers
on one study, the scout → full hand-over, ``best.yaml`` as a recipe, and the refusals."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ladder

SPACE = "rank: [4, 8]\nalpha_ratio: [2]\nlr: {low: 1.0e-6, high: 1.0e-1, log: true}\nepochs: 1\n"


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    path = tmp_path_factory.mktemp("tune") / "rows.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"Write add{i}(x) that returns x plus {i}.",
                                        "completion": f"def add{i}(x):\n    return x + {i}\n"}) + "\n"
                            for i in range(24)))
    return path


def tune_args(tiny_model, rows, study, *extra):
    space = study.parent / f"{study.name}-space.yaml"
    space.write_text(SPACE)
    return ["tune", str(tiny_model), "--data", str(rows), "--space", str(space), "--max-steps", "6",
            "--eval-every", "2", "--batch-size", "2", "--val-split", "0.25", "-o", str(study), *extra]


def read_study(study):
    return json.loads((study / "study.json").read_text())


def spawn(args):
    return subprocess.Popen([sys.executable, "-m", "codeladder.cli.main", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})


def test_a_study_prunes_resumes_after_kill_9_and_writes_a_recipe(tiny_model, rows, tmp_path):
    study = tmp_path / "study"
    args = tune_args(tiny_model, rows, study, "--budget", "8")
    worker = spawn(args)
    deadline = time.time() + 300
    while time.time() < deadline:  # kill it while a trial runs, after two have finished
        done = read_study(study)["finished"] if (study / "study.json").exists() else 0
        if done >= 2 and len(list((study / "trials").iterdir())) > done:
            break
        time.sleep(0.2)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    before = {t["number"]: t for t in read_study(study)["trials"] if t["state"] in ("COMPLETE", "PRUNED")}
    assert len(before) >= 2
    summary = json.loads(ladder(*args, "--json").stdout)
    trials = summary["trials"]
    assert summary["finished"] == 8 and summary["states"]["RUNNING"] == 0
    killed = [t for t in trials if t["state"] == "FAIL"]
    assert killed and all("process was gone" in t["error"] for t in killed)
    assert set(summary["failed_on_resume"]) == {t["number"] for t in killed}
    for number, trial in before.items():  # finished work kept as it was, never run again
        assert next(t for t in trials if t["number"] == number) == trial
    assert summary["states"]["PRUNED"] >= 1  # a learning rate of 1e-6 does not keep up with 1e-2
    pruned = next(t for t in trials if t["state"] == "PRUNED")
    report = json.loads((study / "trials" / f"trial-{pruned['number']:04d}" / "train_report.json").read_text())
    assert report["tune"]["pruned_at_step"] is not None and report["steps"] < 6
    best = summary["best"]
    assert best["value"] == min(t["value"] for t in trials if t["state"] == "COMPLETE")
    plan = json.loads(ladder("recipe", "plan", str(study / "best.yaml"), "--json").stdout)
    assert plan["runnable"] and plan["stages"][0]["config"]["lr"] == best["params"]["lr"]
    assert plan["stages"][0]["config"]["alpha"] == 2 * best["params"]["rank"]
    assert plan["stages"][0]["config"]["epochs"] == 1  # the space's fixed value, as the trials trained
    ladder("report", str(study), "--format", "md", "-o", str(tmp_path / "r.md"))
    text = (tmp_path / "r.md").read_text()
    assert "## Hyperparameter studies" in text and "8/8 trials finished (lora, val\\_loss minimised)" in text
    assert f"| {pruned['number']} | pruned | — |" in text and f"| {best['value']:.4f} |" in text


def test_two_workers_share_one_study_and_stop_at_the_budget(tiny_model, rows, tmp_path):
    study = tmp_path / "shared"
    args = tune_args(tiny_model, rows, study, "--budget", "6", "--pruner", "none")
    workers = [spawn(args), spawn(args)]
    for worker in workers:
        out, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err
    summary = read_study(study)
    finished = [t for t in summary["trials"] if t["state"] == "COMPLETE"]
    assert len(finished) == 6 and len({t["worker"] for t in finished}) == 2
    assert len({t["number"] for t in finished}) == 6
    assert all(t["error"] == "over the budget: another worker took the last trial"
               for t in summary["trials"] if t["state"] == "FAIL")


def test_a_scout_hands_its_best_to_a_full_study(tiny_model, rows, tmp_path):
    scout = tmp_path / "scout"
    ladder(*tune_args(tiny_model, rows, scout, "--budget", "3", "--scout", "--scout-share", "0.5",
                      "--pruner", "none"))
    scouted = read_study(scout)
    assert (scout / "scout_data.jsonl").read_text().count("\n") == 12
    full = tmp_path / "full"
    summary = json.loads(ladder(*tune_args(tiny_model, rows, full, "--from-scout", str(scout), "--top", "2",
                                           "--pruner", "none"), "--json").stdout)
    ranked = sorted((t for t in scouted["trials"] if t["state"] == "COMPLETE"), key=lambda t: t["value"])[:2]
    assert [t["params"] for t in summary["trials"]] == [t["params"] for t in ranked]
    assert summary["finished"] == 2 and summary["from_scout"]["trials"] == [t["number"] for t in ranked]


@pytest.mark.parametrize("extra,message", [
    (("--objective", "pass@1", "--eval-benchmark", "humaneval"), "--eval-benchmark humaneval: a test split"),
    (("--objective", "pass@1"), "--objective pass@1: name the split"),
    (("--val-split", "0"), "--val-split 0: the val_loss objective needs held-out rows"),
])
def test_refusals_are_one_line(tiny_model, rows, tmp_path, extra, message):
    done = ladder(*tune_args(tiny_model, rows, tmp_path / "s"), *extra, check=False)
    assert done.returncode == 2 and message in " ".join(done.stderr.split()) and "Traceback" not in done.stderr


def test_a_bad_space_and_a_changed_study_are_refused(tiny_model, rows, tmp_path):
    space = tmp_path / "bad.yaml"
    space.write_text("rank: [4, 8]\nmomentum: [0.9]\n")
    done = ladder("tune", str(tiny_model), "--data", str(rows), "--space", str(space), "-o", str(tmp_path / "b"),
                  check=False)
    assert done.returncode == 2 and "'momentum' is not searchable" in done.stderr
    study = tmp_path / "s"
    ladder(*tune_args(tiny_model, rows, study, "--budget", "1"))
    done = ladder(*tune_args(tiny_model, rows, study, "--budget", "2", "--method", "qlora"), check=False)
    assert done.returncode == 2 and "was made with other inputs" in done.stderr
    done = ladder(*tune_args(tiny_model, rows, study, "--budget", "2", "--study-name", "other"), check=False)
    assert done.returncode == 2 and "holds study 'ladder-tune'; give study 'other' a folder of its own" in done.stderr


def test_pass_at_1_on_a_training_split_is_an_objective(tiny_model, rows, tmp_path):
    study = tmp_path / "p1"
    summary = json.loads(ladder(*tune_args(tiny_model, rows, study, "--budget", "1", "--objective", "pass@1",
                                           "--eval-benchmark", "mbpp-train", "--eval-limit", "2"), "--json").stdout)
    trial = summary["trials"][0]
    assert summary["direction"] == "maximize" and trial["state"] == "COMPLETE"
    run = study / "trials" / "trial-0000" / "eval"
    eval_summary = json.loads((run / "summary.json").read_text())
    assert eval_summary["benchmark"] == "mbpp-train" and eval_summary["num_tasks"] == 2
    assert trial["value"] == eval_summary["pass_at_k"]["1"]
    assert eval_summary["model"].endswith("trial-0000/merged")


OPEN = """
import sys
from codeladder.tune.params import TuneParams
from codeladder.tune.space import default_space
from codeladder.tune.study import open_study
params = TuneParams(base=sys.argv[1], data=sys.argv[2], output=sys.argv[3])
open_study(params, default_space("lora"))
"""


def test_workers_that_start_together_both_open_a_new_study(tiny_model, rows, tmp_path):
    for attempt in range(4):  # without the creation lock, most attempts lost one worker to the schema race
        study = tmp_path / f"race{attempt}"
        study.mkdir()
        workers = [subprocess.Popen([sys.executable, "-c", OPEN, str(tiny_model), str(rows), str(study)],
                                    stderr=subprocess.PIPE, text=True) for _ in range(2)]
        errors = [w.communicate(timeout=120)[1] for w in workers]
        assert [w.returncode for w in workers] == [0, 0], errors
