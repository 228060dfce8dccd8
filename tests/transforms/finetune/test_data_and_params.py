"""Bad input is one line naming the file, line and field; no model is loaded for any of these."""

import json
import math

import pytest

from codeladder.errors import LadderError
from codeladder.transforms.finetune.data import read_rows, split_rows
from codeladder.transforms.finetune.guards import judge_dpo, judge_first_loss
from codeladder.transforms.finetune.params import FinetuneParams


@pytest.mark.parametrize("line, message", [
    ('{"prompt": "p"}', "line 2: field 'completion' must be a string (it is missing)"),
    ('{"prompt": "p", "completion": 3}', "line 2: field 'completion' must be a string (it is a int)"),
    ('{"prompt": "p", "completion": "  "}', "line 2: field 'completion' is empty"),
    ('{"messages": [{"role": "user", "content": "hi"}]}', "line 2: field 'messages' must be a list of at least 2"),
    ('{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}',
     "line 2: field 'messages[1]' must be a non-empty assistant turn"),
    ('{"messages": [{"role": "bot", "content": "a"}, {"role": "assistant", "content": "b"}]}',
     "line 2: field 'messages[0]' must be"),
    ('{"text": "x"}', "line 2: no training fields"),
    ('{"prompt": "p", "completion": ', "line 2: not valid JSON"),
    ('[1, 2]', "line 2: expected a JSON object"),
])
def test_bad_rows_name_line_and_field(tmp_path, line, message):
    path = tmp_path / "d.jsonl"
    path.write_text('{"prompt": "a", "completion": "b"}\n' + line + "\n")
    with pytest.raises(LadderError) as error:
        read_rows(path)
    assert str(error.value) == f"{path} {message}" or str(error.value).startswith(f"{path} {message}")
    assert "\n" not in str(error.value)


def test_preference_rows_and_mixed_shapes(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": "a"}) + "\n")
    with pytest.raises(LadderError, match="line 1: fields 'chosen' and 'rejected' are identical"):
        read_rows(path, preference=True)
    path.write_text(json.dumps({"prompt": "p", "chosen": "a"}) + "\n")
    with pytest.raises(LadderError, match="line 1: field 'rejected' must be a string"):
        read_rows(path, preference=True)
    mixed = tmp_path / "m.jsonl"
    mixed.write_text(json.dumps({"prompt": "p", "completion": "c"}) + "\n" + json.dumps(
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}) + "\n")
    with pytest.raises(LadderError, match="line 2: a 'messages' row in a file of 'prompt_completion' rows"):
        read_rows(mixed)
    with pytest.raises(LadderError, match="no such file"):
        read_rows(tmp_path / "missing.jsonl")


def test_contamination_is_carried(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b", "contaminated": True}) + "\n")
    assert read_rows(path, preference=True).contaminated


def test_split_is_seeded_and_holds_out_at_least_one():
    rows = [{"line": i} for i in range(1, 11)]
    train, val = split_rows(rows, 0.2, seed=3)
    assert len(val) == 2 and len(train) == 8 and split_rows(rows, 0.2, seed=3) == (train, val)
    assert len(split_rows(rows, 0.01, 0)[1]) == 1 and split_rows(rows, 0, 0)[1] == []


def test_params_are_checked_at_the_boundary(tmp_path):
    with pytest.raises(LadderError, match="--method sft: choose one of lora, qlora, full, dpo"):
        FinetuneParams(base=tmp_path, data=tmp_path / "d", output=tmp_path / "o", method="sft")
    with pytest.raises(LadderError, match="--rank 0"):
        FinetuneParams(base=tmp_path, data=tmp_path / "d", output=tmp_path / "o", rank=0)
    params = FinetuneParams(base=tmp_path, data=tmp_path / "d", output=tmp_path / "o", method="full",
                            target_modules="q_proj, v_proj")
    assert params.target_modules == ("q_proj", "v_proj") and params.resolved_lr() == 2e-5


def test_first_loss_judgement():
    ln_v = math.log(4096)
    assert judge_first_loss(ln_v, 4096, True)["verdict"] == "ok"
    with pytest.raises(LadderError, match="far above ln\\(vocab\\)"):
        judge_first_loss(15.0, 4096, None)  # the 14-17 nats/token once accepted as "decreasing"
    warned = judge_first_loss(7.5, 151936, None)
    assert warned["verdict"] == "warning" and "chat template" in warned["message"]
    assert judge_first_loss(1.2, 151936, None)["verdict"] == "ok"


def test_dpo_stuck_at_ln2_is_an_error():
    steps = [{"loss": math.log(2), "reward_margin": 0.0}] * 3
    with pytest.raises(LadderError, match="stayed at ln 2"):
        judge_dpo(steps)
    assert judge_dpo([{"loss": 0.69, "reward_margin": 0.0}, {"loss": 0.6, "reward_margin": 0.2}])["last_margin"] == 0.2
