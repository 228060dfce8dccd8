"""LoRA, QLoRA and full fine-tuning of a real tiny model through TRL, with the guards and outputs checked."""

import json
import math

import pytest
import torch

from codeladder.errors import LadderError
from codeladder.measure.check import check_model
from codeladder.transforms.finetune import finetune
from codeladder.transforms.finetune.params import FinetuneParams

from ft_helpers import sft_rows, write_jsonl



@pytest.fixture(scope="module")
def sft_data(tmp_path_factory):
    return write_jsonl(tmp_path_factory.mktemp("data") / "sft.jsonl", sft_rows(12))


FAST = dict(rank=8, alpha=16, batch_size=4, val_split=0.25, seed=0)


def params(base, data, out, **changes) -> FinetuneParams:
    return FinetuneParams(base=base, data=data, output=out, **{**FAST, **changes})


def logits(folder, ids):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder) if not hasattr(folder, "forward") else folder
    with torch.no_grad():
        return model.eval()(ids).logits


def test_lora_loss_falls_from_ln_vocab_and_merge_equals_peft(tiny_model, sft_data, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = tmp_path / "run"
    report = finetune(params(tiny_model, sft_data, out, epochs=3, lr=5e-3, merge=True))
    assert report == json.loads((out / "train_report.json").read_text())
    ln_vocab = math.log(4096)
    assert abs(report["guards"]["first_loss"]["loss"] - ln_vocab) < 0.1 * ln_vocab
    assert abs(report["step_losses"][0] - ln_vocab) < 0.1 * ln_vocab
    epochs = report["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert set(epochs[0]) == {"epoch", "train_loss", "val_loss", "learning_rate", "tokens_per_s", "peak_memory_mb"}
    assert epochs[2]["train_loss"] < epochs[1]["train_loss"] < epochs[0]["train_loss"] < ln_vocab
    assert all(e["val_loss"] is not None and e["tokens_per_s"] > 0 and e["peak_memory_mb"] > 0 for e in epochs)
    assert report["verdict"] == "learned" and report["verdict_learned"] == 1, report["verdict_reason"]
    assert report["verdict_rule"]["val_loss_last"] == epochs[2]["val_loss"]
    assert report["hyperparameters"]["target_modules"] == ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj",
                                                           "up_proj", "v_proj"]
    assert report["guards"]["adapter"]["modules"] == 14  # 7 projections x 2 layers
    mask = report["guards"]["label_mask"]
    assert mask["first_example"]["supervised_text"].startswith("def add") and "user" not in \
        mask["first_example"]["supervised_text"]
    assert report["guards"]["stop_token"]["supervised"] and report["guards"]["stop_token"]["pad_equals_eos"]
    assert not (out / "checkpoints").exists()

    ids = torch.tensor([[5, 77, 901, 14, 300, 2, 9, 1000]])
    expected = logits(PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model),
                                                out / "adapter").merge_and_unload(), ids)
    got = logits(out / "merged", ids)
    assert not torch.allclose(got, logits(tiny_model, ids), atol=1e-3)  # it did train
    assert torch.allclose(got, expected, atol=1e-5), (got - expected).abs().max()
    assert check_model(out / "merged").ok
    assert (out / "merged" / "tokenizer.json").read_bytes() == (tiny_model / "tokenizer.json").read_bytes()
    lineage = json.loads((out / "merged" / "ladder.json").read_text())
    assert [s["stage"] for s in lineage["stages"]] == ["tiny", "finetune", "merge-adapter"]
    stage = lineage["stages"][1]["params"]
    assert len(stage["data_sha256"]) == 64 and stage["lr"] == 5e-3 and stage["rank"] == 8 and stage["epochs"] == 3
    assert stage["target_modules"] == ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"]


def test_targets_that_match_nothing_are_listed(tiny_model, sft_data, tmp_path):
    with pytest.raises(LadderError) as error:
        finetune(params(tiny_model, sft_data, tmp_path / "x", target_modules="q_proj,wq,attn.c_attn"))
    message = str(error.value)
    assert "2 name(s) match no linear layer" in message and "wq, attn.c_attn" in message
    assert "its layers are named down_proj, gate_proj" in message
    assert not (tmp_path / "x" / "adapter").exists()


def test_wrongly_templated_data_is_stopped_by_the_label_mask(tiny_model, tmp_path):
    templated = [{"prompt": "", "completion": f"<|im_start|>user\nWrite add{i}(x).<|im_end|>\n<|im_start|>assistant\n"
                                              f"def add{i}(x):\n    return x + {i}\n<|im_end|>\n"} for i in range(6)]
    data = write_jsonl(tmp_path / "templated.jsonl", templated)
    with pytest.raises(LadderError, match="label mask: line 1: the supervised tokens hold the chat template's turn "
                                          "header '<\\|im_start\\|>user'"):
        finetune(params(tiny_model, data, tmp_path / "x", template="raw", val_split=0))
    twice = [{"prompt": f"<|im_start|>user\nWrite add{i}(x).<|im_end|>\n<|im_start|>assistant\n",
              "completion": f"def add{i}(x):\n    return x + {i}\n"} for i in range(6)]
    data = write_jsonl(tmp_path / "twice.jsonl", twice)
    with pytest.raises(LadderError, match="line 1: field 'prompt' already holds the chat template's turn header"):
        finetune(params(tiny_model, data, tmp_path / "y", val_split=0))
    cut = write_jsonl(tmp_path / "long.jsonl", [{"prompt": "x = 1\n" * 200, "completion": "y"}] * 3)
    with pytest.raises(LadderError, match="no training row has a supervised token left"):
        finetune(params(tiny_model, cut, tmp_path / "z", val_split=0, max_length=16))


def test_qlora_trains_on_cpu_with_bitsandbytes(tiny_model, sft_data, tmp_path):
    report = finetune(params(tiny_model, sft_data, tmp_path / "q", method="qlora", max_steps=2, val_split=0))
    assert report["steps"] == 2 and all(math.isfinite(x) for x in report["step_losses"])
    assert report["guards"]["adapter"]["modules"] == 14
    assert (tmp_path / "q" / "adapter" / "adapter_model.safetensors").is_file()
    config = json.loads((tmp_path / "q" / "adapter" / "adapter_config.json").read_text())
    assert config["r"] == 8 and config["peft_type"] == "LORA"


def test_full_finetune_writes_merged_only(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", [
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": f"add{i}?"},
                      {"role": "assistant", "content": f"def add{i}(x):\n    return x + {i}\n"}]} for i in range(6)])
    out = tmp_path / "full"
    report = finetune(params(tiny_model, data, out, method="full", max_steps=3, lr=1e-3, val_split=0))
    assert report["steps"] == 3 and "adapter" not in report["guards"]
    assert sorted(p.name for p in out.iterdir()) == ["merged", "train_report.json"]
    assert report["guards"]["label_mask"]["first_example"]["supervised_text"].startswith("def add")
    assert check_model(out / "merged").ok
    lineage = json.loads((out / "merged" / "ladder.json").read_text())
    assert [s["stage"] for s in lineage["stages"]] == ["tiny", "finetune"]
    assert lineage["stages"][1]["params"]["data_sha256"] and lineage["stages"][1]["params"]["method"] == "full"
    ids = torch.tensor([[5, 77, 901, 14]])
    assert not torch.allclose(logits(out / "merged", ids), logits(tiny_model, ids), atol=1e-4)


def test_refusals_before_training(tiny_model, sft_data, tmp_path):
    with pytest.raises(LadderError, match="--packing: packed rows are not isolated"):
        finetune(params(tiny_model, sft_data, tmp_path / "p", packing=True, device="cpu"))
    assert not (tmp_path / "p").exists()  # the early output checks leave nothing behind
    with pytest.raises(LadderError, match="--merge: --method full writes OUT/merged/ by itself"):
        finetune(params(tiny_model, sft_data, tmp_path / "m", method="full", merge=True))
    with pytest.raises(LadderError, match="must not be the base model folder"):
        finetune(params(tiny_model, sft_data, tiny_model / "out"))
    messages = write_jsonl(tmp_path / "m.jsonl", [{"messages": [{"role": "user", "content": "a"},
                                                                {"role": "assistant", "content": "b"}]}])
    with pytest.raises(LadderError, match="'messages' rows need a chat template \\(--template raw\\)"):
        finetune(params(tiny_model, messages, tmp_path / "r", template="raw"))


def test_an_output_it_would_refuse_is_refused_before_training(tiny_model, sft_data, tmp_path):
    out = tmp_path / "taken"
    (out / "adapter").mkdir(parents=True)
    (out / "adapter" / "notes.txt").write_text("mine")
    with pytest.raises(LadderError, match="adapter: exists and is not a model folder codeladder wrote"):
        finetune(params(tiny_model, sft_data, out, max_steps=1))
    (out / "adapter" / "notes.txt").unlink()
    (out / "merged").write_text("mine")
    with pytest.raises(LadderError, match="merged: exists and is not a folder"):
        finetune(params(tiny_model, sft_data, out, max_steps=1, merge=True))
    assert sorted(p.name for p in out.iterdir()) == ["adapter", "merged"]  # no checkpoints, no report: no training
    assert (out / "merged").read_text() == "mine" and not any((out / "adapter").iterdir())
