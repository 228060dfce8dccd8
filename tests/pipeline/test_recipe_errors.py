"""A bad recipe gets one clear line naming the file, the line, the stage and the field: a typo in a field name,
a list given as a string, a missing input, quantize before finetune (and a few more), from the CLI and Python."""

import pytest

from codeladder.errors import LadderError
from codeladder.pipeline import RecipePlanParams, load_recipe, plan_recipe
from recipe_helpers import GOOD, run_cli, write_recipe


def error_of(tmp_path, text: str) -> str:
    with pytest.raises(LadderError) as caught:
        load_recipe(write_recipe(tmp_path, text))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_good_recipe_plans(tmp_path):
    plan = plan_recipe(RecipePlanParams(recipe=str(write_recipe(tmp_path, GOOD))))
    assert [s["name"] for s in plan["stages"]] == ["base", "sft", "pruned", "q"]
    assert plan["runnable"] and plan["warnings"] == []
    assert plan["stages"][3]["outputs"] == {"output": "RUN_DIR/q/model.gguf"}
    assert plan["stages"][1]["inputs"]["data"] == str(tmp_path / "rows.jsonl")


def test_a_typo_in_a_field_name(tmp_path):
    message = error_of(tmp_path, GOOD.replace("sparsity: 0.2", "sparsty: 0.2"))
    assert message == (f"{tmp_path}/recipe.yaml:13: stage 'pruned' (prune): config.sparsty: unknown field; "
                       "did you mean 'sparsity'?")


def test_a_list_given_as_a_string(tmp_path):
    text = GOOD + "  - name: merged\n    verb: merge\n    inputs: {models: \"base,sft\"}\n    config: {method: linear}\n"
    message = error_of(tmp_path, text)
    assert message.startswith(f"{tmp_path}/recipe.yaml:21: stage 'merged' (merge): inputs.models: expects a list")
    assert "'base,sft'" in message


def test_gates_given_as_a_string(tmp_path):
    message = error_of(tmp_path, GOOD.replace('gates: ["size_ratio <= 0.7"]', 'gates: "size_ratio <= 0.7"'))
    assert message.startswith(f"{tmp_path}/recipe.yaml:18: stage 'q' (quantize): gates: expects a list")


def test_a_missing_input(tmp_path):
    message = error_of(tmp_path, GOOD.replace("inputs: {folder: sft}", "inputs: {}"))
    assert message == (f"{tmp_path}/recipe.yaml:10: stage 'pruned' (prune): inputs.folder: missing; this verb "
                       "needs it (an earlier stage's name or a path)")


def test_an_input_naming_no_stage(tmp_path):
    message = error_of(tmp_path, GOOD.replace("inputs: {folder: sft}", "inputs: {folder: sfft}"))
    assert message == (f"{tmp_path}/recipe.yaml:12: stage 'pruned' (prune): inputs.folder: 'sfft' names no earlier "
                       "stage (earlier: base, sft) and no file")


def test_an_input_naming_a_later_stage(tmp_path):
    message = error_of(tmp_path, GOOD.replace("inputs: {folder: sft}", "inputs: {folder: q}"))
    assert "'q' is a stage that runs later" in message and ":12: stage 'pruned'" in message


def test_quantize_before_finetune(tmp_path):
    text = GOOD.replace("inputs: {base: base, data: rows.jsonl}", "inputs: {base: early, data: rows.jsonl}")
    text = text.replace("  - name: sft\n", "  - name: early\n    verb: quantize\n    inputs: {folder: base}\n"
                                           "    config: {scheme: int8}\n  - name: sft\n")
    path = write_recipe(tmp_path, text)
    with pytest.raises(LadderError) as caught:
        plan_recipe(RecipePlanParams(recipe=str(path)))
    assert str(caught.value) == (f"{path}:10: stage 'sft' (finetune) changes weights after stage 'early' (quantize): "
                                 "quantize comes last (distill -> finetune -> dpo -> merge -> prune -> quantize); "
                                 "move it after, or pass --allow-order")
    plan = plan_recipe(RecipePlanParams(recipe=str(path), allow_order=True))
    assert [w.split(": stage ")[1].split(" changes")[0] for w in plan["warnings"]] == [
        "'sft' (finetune)", "'pruned' (prune)", "'q' (quantize)"]  # each weight-changing stage downstream of it


def test_other_departures_are_warnings(tmp_path):
    text = GOOD.replace("inputs: {base: base, data: rows.jsonl}", "inputs: {base: pre, data: rows.jsonl}")
    text = text.replace("  - name: sft\n", "  - name: pre\n    verb: prune\n    inputs: {folder: base}\n"
                                           "  - name: sft\n")
    plan = plan_recipe(RecipePlanParams(recipe=str(write_recipe(tmp_path, text))))
    assert plan["warnings"] == [f"{tmp_path}/recipe.yaml:9: stage 'sft' (finetune) comes after stage 'pre' (prune); "
                                "the usual order is distill -> finetune -> dpo -> merge -> prune -> quantize"]


@pytest.mark.parametrize("old, new, expected", [
    ("verb: prune", "verb: prnue", "verb 'prnue' is no stage; did you mean 'prune'?"),
    ("sparsity: 0.2", "sparsity: 2", "config.sparsity = 2: Input should be less than 1"),
    ("sparsity: 0.2", "output: x", "config.output: set by the runner (RUN_DIR/pruned); remove it"),
    ("sparsity: 0.2", "folder: x", "config.folder: is an input; put it under inputs:"),
    ('"size_ratio <= 0.7"', '"size_ratio is small"', "gates[0]: 'size_ratio is small' is not a gate"),
    ("method: magnitude", "method: magic", "--method magic: choose one of"),
    ("scheme: q8_0", "scheme: q8_0, scheme: q4_0", "key 'scheme' is given twice"),
    ("inputs: {folder: sft}", "inputs: {folder: sft.merge}", "inputs.folder: stage 'sft' has no output 'merge' (it "
                                                             "has: merged, adapter)"),
])
def test_more_errors_name_the_line_and_field(tmp_path, old, new, expected):
    assert expected in error_of(tmp_path, GOOD.replace(old, new))


def test_a_gate_on_a_benchmark_the_stage_does_not_run(tmp_path):
    text = GOOD + "  - name: score\n    verb: eval\n    inputs: {model: q}\n    config: {benchmark: mbpp}\n" \
                  "    gates: ['humaneval.pass@1 >= 0.5']\n"
    assert "names humaneval, but this stage evaluates mbpp" in error_of(tmp_path, text)


def test_the_cli_prints_one_line_and_exits_2(tmp_path, capsys):
    path = write_recipe(tmp_path, GOOD.replace("sparsity: 0.2", "sparsty: 0.2"))
    code, out, err = run_cli(capsys, "recipe", "plan", str(path))
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [f"error: {path}:13: stage 'pruned' (prune): config.sparsty: unknown field; "
                                        "did you mean 'sparsity'?"]


def test_run_refuses_a_planned_verb_before_doing_anything(tmp_path, capsys):
    text = GOOD.replace("verb: finetune", "verb: submit").replace(", merge: true, max_steps: 2", "")
    path = write_recipe(tmp_path, text)
    plan = plan_recipe(RecipePlanParams(recipe=str(path)))
    assert not plan["runnable"] and "not in this version of codeladder yet" in plan["warnings"][0]
    code, _, err = run_cli(capsys, "recipe", "run", str(path), "-o", str(tmp_path / "run"))
    assert code == 2 and "verb 'submit' is not in this version of codeladder yet" in err
    assert not (tmp_path / "run").exists()


def test_a_gate_on_a_metric_the_stage_never_produces_is_refused_at_plan(tmp_path):
    text = GOOD.replace("config: {method: lora, merge: true, max_steps: 2}",
                        "config: {method: lora, merge: true, max_steps: 2}\n    gates: ['train_los <= 20']")
    message = error_of(tmp_path, text)
    assert message.startswith(f"{tmp_path}/recipe.yaml:") and "stage 'sft' (finetune): " in message
    assert "never hold 'train_los'; did you mean 'train_loss'?" in message
    line = int(message.split(":")[1])
    assert "train_los" in (tmp_path / "recipe.yaml").read_text().splitlines()[line - 1]
    for gate in ("train_loss <= 20", "verdict_diverged == 0", "guards.first_loss.ratio < 2", "rows.train >= 1"):
        load_recipe(write_recipe(tmp_path, GOOD.replace("max_steps: 2}", f"max_steps: 2}}\n    gates: ['{gate}']")))


def test_paired_gates_belong_on_compare_stages(tmp_path):
    text = GOOD + "  - name: score\n    verb: eval\n    inputs: {model: q}\n    config: {benchmark: mbpp}\n" \
                  "    gates: ['gained(mbpp)']\n"
    assert "judges a paired comparison: put it on a compare stage" in error_of(tmp_path, text)
    text = GOOD + "  - name: score\n    verb: eval\n    inputs: {model: q}\n    config: {benchmark: mbpp}\n" \
                  "  - name: cmp\n    verb: compare\n    inputs: {before: score, after: score}\n" \
                  "    gates: ['gained(mbpp)', 'not_worse(mbpp, 2pp)']\n"
    load_recipe(write_recipe(tmp_path, text))
    assert "write gained(BENCHMARK) or not_worse(BENCHMARK, 2pp)" in error_of(tmp_path, text.replace(
        "not_worse(mbpp, 2pp)", "not_worse(mbpp)"))
