"""`ladder recipe run demo` end to end on the tiny model, killed (SIGKILL) in the middle of its merge stage, then
`ladder recipe resume` completes without redoing the finetune stage; a failed gate stops the run with its value in
lineage.json; the same eval through the CLI, the Python API and a recipe stage writes the same summary numbers."""

import hashlib
import json
import os
import signal
import subprocess
import sys

from codeladder.benchmarks import get_benchmark
from codeladder.evaluate import EvalParams, evaluate
from codeladder.pipeline import RecipeRunParams, run_recipe
from recipe_helpers import run_cli

NUMBERS = ("pass_at_k", "ci95", "num_tasks", "num_samples", "statuses", "dataset_sha256", "template_hash")


def ladder(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codeladder.cli.main", *args], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "COLUMNS": "200", **(env or {})})


def stages_of(run) -> dict:
    return {s["name"]: s for s in json.loads((run / "lineage.json").read_text())["stages"]}


def test_demo_killed_during_merge_resumes_without_redoing_finetune(tmp_path):
    run = tmp_path / "demo-run"
    killed = ladder("recipe", "run", "demo", "-o", str(run), env={"CODELADDER_CRASH_AT": "merged:mid-shard"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    before = stages_of(run)
    assert [before[n]["status"] for n in ("base", "sft", "merged", "pruned")] == ["done", "done", "running", "pending"]
    report = run / "sft" / "train_report.json"
    trained_at = report.stat().st_mtime_ns

    resumed = ladder("recipe", "resume", str(run))
    assert resumed.returncode == 0, resumed.stderr
    assert "sft (finetune): finished earlier, outputs verified; skipped" in resumed.stderr
    after = stages_of(run)
    assert all(s["status"] == "done" for s in after.values())
    # each stage's own peak resident memory: training a tiny model peaks above building it, and both are real sizes
    assert 100 < after["base"]["peak_rss_mb"] < after["sft"]["peak_rss_mb"] < 16_000
    assert (after["sft"]["attempts"], after["merged"]["attempts"]) == (1, 2)
    assert after["sft"]["outputs"] == before["sft"]["outputs"] and report.stat().st_mtime_ns == trained_at
    gates = [g for s in after.values() for g in s["gates"]]
    assert len(gates) == 5 and all(isinstance(g["value"], float) and g["passed"] for g in gates)
    assert {g["expr"] for g in after["pruned"]["gates"]} == {"perplexity_ratio <= 1.05", "sparsity_achieved >= 0.15"}
    merged_inputs = after["merged"]["inputs"]["models"]
    assert [i["ref"] for i in merged_inputs] == ["stage base", "stage sft.merged"]
    assert merged_inputs[1]["sha256"] == after["sft"]["outputs"]["merged"]["sha256"]
    summary = json.loads((run / "eval" / "summary.json").read_text())
    assert summary["num_tasks"] == 20 and summary["backend"] == "llamacpp"
    assert after["eval"]["gates"][0]["value"] == summary["num_tasks"] == 20  # the demo's eval gate: its scope
    assert not [p.name for p in run.iterdir() if ".partial-" in p.name]  # the killed writer's staging is gone
    claims = ladder("contracts", "check", "--run", str(run), "--json")  # the shipped demo contract, on these outputs
    outcome = json.loads(claims.stdout)
    assert claims.returncode == 0 and outcome["counts"]["fail"] == 0, claims.stdout
    assert outcome["counts"]["not-applicable"] == 0 and outcome["counts"]["pass"] == 7


GATED = """\
name: gated
stages:
  - name: ref
    verb: eval
    config: {benchmark: humaneval, limit: 3}
    gates: ["humaneval.pass@1 >= 0.5", "humaneval.pass@1 < 0.5"]
  - name: after
    verb: eval
    config: {benchmark: humaneval, limit: 1}
"""


def test_a_failed_gate_stops_the_run_and_says_which_number_missed(tmp_path, capsys):
    recipe, run = tmp_path / "gated.yaml", tmp_path / "run"
    recipe.write_text(GATED)
    code, out, err = run_cli(capsys, "recipe", "run", str(recipe), "-o", str(run))
    assert code == 1
    assert "stopped: stage 'ref' (eval): gate 'humaneval.pass@1 < 0.5' failed: humaneval.pass@1 = 1, which misses " \
           "< 0.5" in " ".join(err.split())
    stages = stages_of(run)
    assert stages["ref"]["status"] == "gate_failed" and stages["after"]["status"] == "pending"
    assert stages["ref"]["gates"] == [{"expr": "humaneval.pass@1 >= 0.5", "value": 1.0, "passed": True},
                                      {"expr": "humaneval.pass@1 < 0.5", "value": 1.0, "passed": False}]
    code, _, err = run_cli(capsys, "recipe", "resume", str(run))  # re-checked from the files, not rerun
    assert code == 1 and "gate 'humaneval.pass@1 < 0.5' failed" in " ".join(err.split())
    assert stages_of(run)["ref"]["attempts"] == 1


def samples_file(tmp_path):
    rows = []
    for index, task in enumerate(get_benchmark("humaneval").load()[:4]):
        wrong = "def nothing():\n    pass\n"
        rows += [{"task_id": task.task_id, "solution": task.reference},
                 {"task_id": task.task_id, "solution": task.reference if index < 2 else wrong}]
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_the_same_eval_from_the_cli_the_api_and_a_recipe_writes_the_same_numbers(tmp_path, capsys):
    samples = samples_file(tmp_path)
    code, _, _ = run_cli(capsys, "eval", "humaneval", "--samples", str(samples), "--limit", "4", "--k", "1,2",
                         "--output", str(tmp_path / "cli"))
    assert code == 0
    evaluate(EvalParams(benchmark="humaneval", samples=str(samples), limit=4, k=(1, 2), output=str(tmp_path / "api")))
    recipe = tmp_path / "score.yaml"
    recipe.write_text("stages:\n  - name: score\n    verb: eval\n    inputs: {samples: samples.jsonl}\n"
                      "    config: {benchmark: humaneval, limit: 4, k: [1, 2]}\n    gates: ['pass@1 >= 0.75']\n")
    result = run_recipe(RecipeRunParams(recipe=str(recipe), output=tmp_path / "recipe"))
    assert result["stopped"] is None
    summaries = [json.loads((tmp_path / where / "summary.json").read_text())
                 for where in ("cli", "api", "recipe/score")]
    assert summaries[0]["pass_at_k"] == {"1": 0.75, "2": 1.0}
    for key in NUMBERS:
        assert summaries[0][key] == summaries[1][key] == summaries[2][key], key
    recorded = result["lineage"]["stages"][0]["inputs"]["samples"]
    assert recorded["sha256"] == hashlib.sha256(samples.read_bytes()).hexdigest() and recorded["ref"] == str(samples)


def test_a_gate_on_a_number_the_results_lack_is_refused_before_anything_runs(tmp_path, capsys):
    recipe, run = tmp_path / "typo.yaml", tmp_path / "run"
    recipe.write_text("stages:\n  - name: ref\n    verb: eval\n    config: {benchmark: humaneval, limit: 1}\n"
                      "    gates: ['pass_at_one >= 0.5']\n")
    code, _, err = run_cli(capsys, "recipe", "run", str(recipe), "-o", str(run))
    assert code == 2 and f"{recipe}:5: stage 'ref' (eval): gate 'pass_at_one >= 0.5': the eval stage's " \
                         "results never hold 'pass_at_one'" in " ".join(err.split())
    assert not run.exists()  # refused at plan: nothing ran


def test_a_fixed_gate_is_re_judged_on_resume_not_re_run(tmp_path, capsys):
    """A verb that declares no result fields (`tiny`) can only be checked after it ran: the stage's work stands,
    the fixed gate is judged on resume without running the stage again."""
    recipe, run = tmp_path / "typo.yaml", tmp_path / "run"
    recipe.write_text("stages:\n  - name: base\n    verb: tiny\n    gates: ['parameterz > 0']\n")
    code, _, err = run_cli(capsys, "recipe", "run", str(recipe), "-o", str(run))
    assert code == 2 and "stage 'base' (tiny): gate 'parameterz > 0': the stage's results have no 'parameterz' " \
                         "(they have: parameters" in " ".join(err.split())
    assert stages_of(run)["base"]["status"] == "gate_failed" and stages_of(run)["base"]["attempts"] == 1
    copy = run / "recipe.yaml"
    copy.write_text(copy.read_text().replace("parameterz", "parameters"))
    code, _, err = run_cli(capsys, "recipe", "resume", str(run))
    assert code == 0 and "finished earlier, outputs verified; skipped" in err
    assert stages_of(run)["base"]["status"] == "done" and stages_of(run)["base"]["attempts"] == 1
    assert stages_of(run)["base"]["gates"][0]["passed"] is True
