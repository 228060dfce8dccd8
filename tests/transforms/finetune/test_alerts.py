"""Training alerts (``--stop-if``): real runs of a tiny model that explode or cross a line, stopped with their last
good weights kept and the rule named; the rule language refused in one line."""

import json

import pytest
import torch
from safetensors.torch import load_file

from codeladder.errors import LadderError
from codeladder.pipeline import RecipePlanParams, load_recipe, plan_recipe
from codeladder.transforms.finetune import finetune
from codeladder.transforms.finetune.alerts import alert_rules, parse_rule
from codeladder.transforms.finetune.params import FinetuneParams
from codeladder.transforms.finetune.run import TrainingStopped

from conftest import ladder
from ft_helpers import sft_rows, write_jsonl


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_jsonl(tmp_path_factory.mktemp("alerts") / "sft.jsonl", sft_rows(8))


def weights(folder):
    return load_file(str(folder / "model.safetensors"))


def test_an_exploding_full_run_stops_within_one_logging_step_and_keeps_the_base(tiny_model, data, tmp_path):
    out = tmp_path / "boom"
    done = ladder("finetune", str(tiny_model), "--data", str(data), "--method", "full", "--lr", "10",
                  "--max-steps", "8", "--batch-size", "4", "--val-split", "0", "--stop-if", "loss > 10",
                  "-o", str(out), check=False)
    assert done.returncode != 0
    message = " ".join(done.stderr.split())
    assert "training stopped at step 2" in message and ("loss > 10" in message or "not finite" in message)
    assert "Traceback" not in done.stderr
    report = json.loads((out / "train_report.json").read_text())
    alert = report["alert"]
    assert alert["step"] == 2 and alert["kept_weights_of_step"] == 0 and report["steps"] == 2
    loss = alert["values"]["loss"]
    assert alert["rule"] == ("loss > 10" if loss == loss and loss != float("inf") else "loss is not finite")
    # the base exploded at update 1 (lr 10): step 2's loss condemns those weights, so the base's own are kept
    base, kept = weights(tiny_model), weights(out / "merged")
    assert base.keys() == kept.keys() and all(torch.equal(base[k], kept[k]) for k in base)
    lineage = json.loads((out / "merged" / "ladder.json").read_text())
    assert lineage["stages"][-1]["params"]["stopped_by_alert"]["step"] == 2
    assert not (out / "checkpoints").exists()


def test_a_rule_on_a_healthy_lora_run_keeps_the_weights_before_the_condemned_update(tiny_model, data, tmp_path):
    out = tmp_path / "lora"
    params = FinetuneParams(base=tiny_model, data=data, output=out, rank=4, alpha=8, max_steps=6, batch_size=2,
                            val_split=0, lr=1e-2, stop_if="learning_rate < 0.0099", merge=True)  # cosine crosses it
    with pytest.raises(TrainingStopped, match=r"learning_rate < 0.0099") as stopped:
        finetune(params)
    assert f"written to {out / 'adapter'}, {out / 'merged'};" in str(stopped.value)
    alert = stopped.value.report["alert"]
    assert alert["step"] >= 2 and alert["kept_weights_of_step"] == alert["step"] - 2
    assert alert["values"]["learning_rate"] < 0.0099
    report = json.loads((out / "train_report.json").read_text())
    assert report["alert"] == alert and (out / "adapter" / "adapter_model.safetensors").is_file()


def test_rules_that_never_fire_leave_the_run_alone(tiny_model, data, tmp_path):
    params = FinetuneParams(base=tiny_model, data=data, output=tmp_path / "calm", rank=4, alpha=8, max_steps=2,
                            batch_size=4, val_split=0, stop_if=["loss > 1000", "grad_norm > 1e9"])
    report = finetune(params)
    assert report["alert"] is None and report["steps"] == 2
    assert report["hyperparameters"].get("stop_if") is None  # a rule does not shape the training


def test_the_rule_language():
    assert alert_rules("loss > 10, grad_norm>=1e2,val_loss<.5") == ("loss > 10", "grad_norm >= 100", "val_loss < 0.5")
    assert parse_rule("val_loss < 0.5").fires({"eval_loss": 0.4}) and not parse_rule("loss > 1").fires({"x": 5})
    for bad in ("loss >> 10", "loss > ten", "> 10", "loss"):
        with pytest.raises(ValueError, match="write METRIC OP NUMBER"):
            alert_rules(bad)


def test_a_bad_rule_is_one_line_naming_the_flag(tiny_model, data, tmp_path):
    done = ladder("finetune", str(tiny_model), "--data", str(data), "--stop-if", "loss is big", "-o",
                  str(tmp_path / "x"), check=False)
    assert done.returncode == 2 and "--stop-if" in done.stderr and "write METRIC OP NUMBER" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "x").exists()


def test_a_recipe_stage_sets_its_rules(tmp_path):
    recipe = tmp_path / "r.yaml"
    (tmp_path / "rows.jsonl").write_text('{"prompt": "p", "completion": "c"}\n')
    recipe.write_text("name: alerts\nstages:\n  - name: base\n    verb: tiny\n  - name: sft\n    verb: finetune\n"
                      "    inputs: {base: base, data: rows.jsonl}\n"
                      "    config: {max_steps: 2, stop_if: ['loss > 10', 'grad_norm>100']}\n")
    plan = plan_recipe(RecipePlanParams(recipe=str(recipe)))
    assert plan["runnable"] and plan["stages"][1]["config"]["stop_if"] == ["loss > 10", "grad_norm>100"]
    recipe.write_text(recipe.read_text().replace("'loss > 10'", "'loss >> 10'"))
    with pytest.raises(LadderError, match=r"r.yaml:8: stage .sft. \(finetune\): config.stop_if = .*write METRIC OP"):
        load_recipe(recipe)
