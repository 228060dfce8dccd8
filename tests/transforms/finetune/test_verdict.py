"""The training verdict: the rule on recorded loss curves, then real runs of the tiny model through the CLI and the
library whose reports say no-measurable-learning and diverged, read by the recipe gates' own reader."""

import json
import math

import pytest
from conftest import ladder
from ft_helpers import sft_rows, write_jsonl

from codeladder.pipeline.gates import metrics, parse_gate, read_results
from codeladder.transforms.finetune import finetune
from codeladder.transforms.finetune.params import FinetuneParams
from codeladder.transforms.finetune.verdict import judge_training, step_noise

# the demo's defect: "loss 8.336 -> 8.320 reads like success"
FLAT = [8.336, 8.329, 8.341, 8.320]
FALLING = [8.33, 8.24, 8.12, 8.07, 8.05, 8.02, 8.01, 8.00, 8.00]


@pytest.mark.parametrize("losses, val, verdict", [
    (FLAT, [], "no-measurable-learning"),
    (FALLING, [], "learned"),
    (FALLING, [7.99], "learned"),
    (FALLING, [8.30], "no-measurable-learning"),  # the training rows fell, the held-out ones did not
    ([8.35, 19.8, 25.4, 43.0, 30.3, 31.7], [], "diverged"),
    ([8.35, 8.30, float("nan"), 8.2], [], "diverged"),
    (FALLING, [float("inf")], "diverged"),
    ([8.35], [], "no-measurable-learning"),
    ([], [], "no-measurable-learning"),
    ([2.0, 2.6, 1.4, 2.3, 1.7, 2.5, 1.5, 2.4, 1.6, 2.2, 1.8, 1.9], [], "no-measurable-learning"),  # noise > drop
])
def test_the_rule_on_recorded_curves(losses, val, verdict):
    judged = judge_training(losses, val)
    assert judged["verdict"] == verdict, judged["verdict_reason"]
    flags = {k: judged[k] for k in ("verdict_learned", "verdict_no_measurable_learning", "verdict_diverged")}
    assert sum(flags.values()) == 1 and flags[f"verdict_{verdict.replace('-', '_')}"] == 1
    assert judged["verdict_rule"]["rule"].startswith("k = max(1, n//4)")


def test_the_rules_numbers_are_recorded_and_redo_by_hand():
    rule = judge_training(FLAT, [])["verdict_rule"]
    assert (rule["n"], rule["k"]) == (4, 1)
    assert rule["first_mean"] == 8.336 and rule["last_mean"] == 8.320 and rule["drop"] == pytest.approx(0.016)
    # second differences 0.019, 0.033 -> median 0.026 -> sigma = 1.4826 * 0.026 / sqrt(6)
    assert rule["sigma"] == pytest.approx(1.4826 * 0.026 / math.sqrt(6), abs=1e-6)
    assert rule["threshold"] == pytest.approx(max(2 * rule["sigma"] * math.sqrt(2), 0.01 * 8.336), abs=1e-6)
    rule = judge_training(FALLING, [7.99])["verdict_rule"]
    assert rule["k"] == 2 and rule["first_mean"] == pytest.approx(8.285) and rule["val_drop"] == pytest.approx(0.295)
    assert step_noise([1.0, 2.0, 3.0, 4.0, 5.0]) == 0.0  # a straight trend is not noise


@pytest.fixture(scope="module")
def sft_data(tmp_path_factory):
    return write_jsonl(tmp_path_factory.mktemp("verdict") / "sft.jsonl", sft_rows(12))


def test_a_run_that_does_not_move_says_so_at_the_end_and_lists_its_targets(tiny_model, sft_data, tmp_path):
    out = tmp_path / "flat"
    done = ladder("finetune", str(tiny_model), "--data", str(sft_data), "-o", str(out), "--lr", "1e-7",
                  "--max-steps", "4", "--val-split", "0", "--rank", "8")
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("verdict: no-measurable-learning (loss 8.") and "within noise" in last
    report = json.loads((out / "train_report.json").read_text())
    assert report["verdict"] == "no-measurable-learning" and report["verdict_rule"]["n"] == 4
    assert report["hyperparameters"]["target_modules"] == ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj",
                                                           "up_proj", "v_proj"]
    assert report["guards"]["adapter"]["modules"] == 14
    found = metrics(read_results(out))  # what a recipe gate reads
    assert parse_gate("verdict_learned == 0").check(found)["passed"]
    assert parse_gate("verdict_diverged == 0").check(found)["passed"]
    assert found["verdict_rule.threshold"] == report["verdict_rule"]["threshold"]


def test_a_run_whose_loss_rises_is_diverged_and_fails_the_demos_gate(tiny_model, sft_data, tmp_path):
    out = tmp_path / "hot"
    report = finetune(FinetuneParams(base=tiny_model, data=sft_data, output=out, method="full", lr=3.0, max_steps=8,
                                     batch_size=4, val_split=0, seed=0))
    assert report["verdict"] == "diverged" and report["verdict_diverged"] == 1, report["step_losses"]
    assert report["verdict_rule"]["last_mean"] > report["verdict_rule"]["first_mean"] + report["verdict_rule"][
        "threshold"]
    assert not parse_gate("verdict_diverged == 0").check(metrics(read_results(out)))["passed"]
