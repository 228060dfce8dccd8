"""Stages are verbs: each stage entry holds the very params class (and library function) the CLI verb is
generated from; the pipeline imports neither the CLI nor torch; gates parse safely and read result files."""

import json
import subprocess
import sys

import pytest

from codeladder.verbs import all_verbs
from codeladder.pipeline.gates import metrics, parse_gate, read_results
from codeladder.pipeline.library import shipped
from codeladder.pipeline import RecipePlanParams, plan_recipe
from codeladder.registry import registry


def test_every_stage_is_a_verb_of_the_table_with_its_params_class():
    verbs = {verb.name: verb for verb in all_verbs()}
    for entry in registry("stage").entries():
        verb = entry.data["verb"]
        assert verbs[verb.name] is verb and entry.params is verb.params and entry.name in verb.stages, entry.name
        assert entry.load() is verb.load(), entry.name


def test_the_pipeline_imports_no_cli_and_no_torch():
    code = "import json, sys\nimport codeladder.pipeline\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert not [m for m in modules if m.startswith("codeladder.cli") or m.split(".")[0] == "torch"]


@pytest.mark.parametrize("name", sorted(shipped()))
def test_every_shipped_recipe_plans_here(name):
    plan = plan_recipe(RecipePlanParams(recipe=name))
    assert plan["stages"] and all(s["gates"] for s in plan["stages"] if s["verb"] == "eval")
    if name == "demo":
        assert plan["runnable"] and plan["warnings"] == []


def test_gates_parse_without_eval():
    gate = parse_gate("humaneval.pass@1>=0.55")
    assert (gate.metric, gate.op, gate.bound, gate.expr) == ("humaneval.pass@1", ">=", 0.55, "humaneval.pass@1 >= 0.55")
    for bad in ("__import__('os').system('x') >= 1", "pass@1 >= 0.5 or True", "pass@1 => 0.5", 0.5, ["x"]):
        with pytest.raises(ValueError, match="is not a gate"):
            parse_gate(bad)


def test_metrics_from_each_result_kind(tmp_path):
    summary = {"benchmark": "mbpp-plus", "pass_at_k": {"1": 0.25, "10": 0.5}, "pass_at_k_base": {"1": 0.3},
               "ci95": [0.1, 0.4], "timings": {"total_s": 3.0}}
    found = metrics(summary)
    assert found["mbpp-plus.pass@1"] == found["pass@1"] == 0.25 and found["mbpp-plus.pass@10"] == 0.5
    assert (found["pass@1_base"], found["ci95_low"], found["timings.total_s"]) == (0.3, 0.1, 3.0)
    assert metrics({"perplexity_before": 2.0, "perplexity_after": 2.1, "size_vs_fp16": 0.3}) == {
        "perplexity_before": 2.0, "perplexity_after": 2.1, "size_vs_fp16": 0.3, "perplexity_ratio": 2.1 / 2.0,
        "size_ratio": 0.3}
    assert metrics({"epochs": [{"train_loss": 3.0}, {"train_loss": 2.0, "val_loss": 2.5}]})["val_loss"] == 2.5
    (tmp_path / "report.json").write_text(json.dumps({"summary": {"norm_ratio_min": 0.9}}))
    assert metrics(read_results(tmp_path))["norm_ratio_min"] == 0.9
    check = parse_gate("pass@1 >= 0.3").check(found)
    assert check == {"expr": "pass@1 >= 0.3", "value": 0.25, "passed": False}


def test_cp_copies_the_recipe_and_its_data_files_and_the_copy_plans_from_there(tmp_path, capsys):
    from recipe_helpers import run_cli

    code, out, _ = run_cli(capsys, "recipe", "cp", "demo", str(tmp_path / "mine.yaml"))
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo_sft.jsonl", "demo_text.txt", "mine.yaml"]
    plan = plan_recipe(RecipePlanParams(recipe=str(tmp_path / "mine.yaml")))
    assert plan["stages"][1]["inputs"]["data"] == str(tmp_path / "demo_sft.jsonl") and plan["runnable"]
    code, out, _ = run_cli(capsys, "recipe", "show", "demo")
    assert code == 0 and out == (tmp_path / "mine.yaml").read_text()
    code, _, err = run_cli(capsys, "recipe", "show", "nope")
    assert code == 2 and "no shipped recipe of that name (shipped: demo," in err
