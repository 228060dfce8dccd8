"""Model I/O on real files: import, check, export, lineage, and the tokenizer kept byte for byte."""

import json
import shutil

import pytest
import torch

from codeladder.measure.check import check_model
from codeladder.models.gguf_export import export_gguf
from conftest import ladder


def state(folder):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).state_dict()


def test_tiny_model_passes_check(tiny_model):
    report = check_model(tiny_model)
    assert report.ok, report.as_dict()
    assert [s.name for s in report.stages] == ["config", "tokenizer", "tensors", "finite", "tied_embeddings",
                                               "forward", "generate"]


def test_every_writer_keeps_the_tokenizer_and_appends_lineage(tiny_model, tmp_path):
    first = tmp_path / "bf16"
    ladder("import", str(tiny_model), "-o", str(first), "--dtype", "bfloat16")
    second = tmp_path / "exported"
    ladder("export", str(first), "--format", "safetensors", "--dtype", "float16", "-o", str(second))
    for folder in (first, second):
        assert check_model(folder).ok
        for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
            assert (folder / name).read_bytes() == (tiny_model / name).read_bytes(), name
    lineage = json.loads((second / "ladder.json").read_text())
    assert [s["stage"] for s in lineage["stages"]] == ["tiny", "import", "export"]  # ladder tiny writes lineage too
    assert lineage["stages"][1]["params"]["dtype"] == "bfloat16"
    assert lineage["stages"][2]["inputs"][0]["files"]["model.safetensors"]
    assert json.loads((second / "config.json").read_text())["dtype"] == "float16"
    weights = state(second)
    original = state(tiny_model)
    assert all(torch.equal(weights[k], original[k].to(torch.bfloat16).to(torch.float16).float()) for k in original)


def test_gguf_round_trip_equals_the_f16_export(tiny_model, tmp_path):
    gguf_file = tmp_path / "tiny-f16.gguf"
    ladder("export", str(tiny_model), "--type", "f16", "-o", str(gguf_file))
    back = tmp_path / "back"
    ladder("import", str(gguf_file), "-o", str(back), "--dtype", "float16")
    done = ladder("check", str(back), "--json")
    assert json.loads(done.stdout)["ok"] is True
    weights, original = state(back), state(tiny_model)
    assert set(weights) == set(original)
    for name, tensor in original.items():
        assert torch.equal(weights[name], tensor.to(torch.float16).float()), name
    from transformers import AutoTokenizer

    rebuilt, source = AutoTokenizer.from_pretrained(back), AutoTokenizer.from_pretrained(tiny_model)
    code = "def f(x):\n\tif x:\n        return  x + 12345  \n<|im_start|>user\n"
    assert rebuilt(code)["input_ids"] == source(code)["input_ids"]
    assert rebuilt.chat_template == source.chat_template


def test_sharded_writes_and_reads(tiny_model, tmp_path):
    from codeladder.models.checkpoint import CheckpointWriter
    from safetensors import safe_open

    config = json.loads((tiny_model / "config.json").read_text())
    writer = CheckpointWriter(tmp_path / "sharded", tokenizer_source=tiny_model, config=config,
                              max_shard_bytes=400_000)
    with safe_open(str(tiny_model / "model.safetensors"), framework="pt") as f:
        for name in f.keys():
            writer.add(name, f.get_tensor(name))
    out = writer.finish("reshard", {})
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1
    assert check_model(out).ok


def test_corrupt_weights_fail_check_with_one_line(tiny_model, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    with open(broken / "model.safetensors", "r+b") as f:
        f.truncate(50_000)
    done = ladder("check", str(broken), "--json", check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is False
    failed = [s for s in report["stages"] if not s["ok"]]
    assert failed[0]["name"] == "tensors" and "\n" not in failed[0]["detail"]
    done = ladder("import", str(broken), "-o", str(tmp_path / "x"), check=False)
    assert done.returncode == 2 and "truncated or corrupt" in done.stderr and "Traceback" not in done.stderr


def test_nan_weights_fail_check(tiny_model, tmp_path):
    from safetensors.torch import load_file, save_file

    poisoned = tmp_path / "nan"
    shutil.copytree(tiny_model, poisoned)
    tensors = load_file(str(poisoned / "model.safetensors"))
    tensors["model.norm.weight"][0] = float("nan")
    save_file(tensors, str(poisoned / "model.safetensors"), metadata={"format": "pt"})
    stages = {s.name: s for s in check_model(poisoned).stages}
    assert not stages["finite"].ok and "model.norm.weight" in stages["finite"].detail


def test_hub_ids_are_refused_offline(tmp_path):
    done = ladder("import", "Qwen/Qwen2.5-Coder-1.5B", "-o", str(tmp_path / "x"), check=False)
    assert done.returncode == 2 and "hub" in done.stderr


def test_q8_0_export_reports_fallbacks_for_rows_that_do_not_fit(tmp_path):
    from codeladder.models.tiny import TinySpec, build_tiny_model

    odd = build_tiny_model(tmp_path / "odd", TinySpec(hidden=48, heads=4, kv_heads=2, intermediate=80))
    report = export_gguf(odd, tmp_path / "odd.gguf", "q8_0")
    assert report.fallbacks  # rows of 48 or 80 do not fill 32-wide blocks everywhere
    assert all(kind == "f16" for kind in report.fallbacks.values())


@pytest.mark.parametrize("scheme", ["nf4", "int8"])
def test_in_framework_quantization_writes_a_checked_folder(tiny_model, tmp_path, scheme):
    out = tmp_path / scheme
    text = (tiny_model / "tokenizer.json").read_text()[:3000]
    text_file = tmp_path / "text.txt"
    text_file.write_text(text)
    done = ladder("quantize", str(tiny_model), "--scheme", scheme, "-o", str(out), "--text", str(text_file), "--json")
    report = json.loads(done.stdout)
    assert report["fp16_bytes"] == 2 * report["parameters"]
    assert report["bytes"] == (out / "model.safetensors").stat().st_size
    assert abs(report["perplexity_delta"]) < 0.2 * report["perplexity_before"]
    assert check_model(out).ok
    assert (out / "tokenizer.json").read_bytes() == (tiny_model / "tokenizer.json").read_bytes()
    lineage = json.loads((out / "ladder.json").read_text())
    assert lineage["stages"][-1]["stage"] == "quantize" and lineage["stages"][-1]["params"]["scheme"] == scheme
    config = json.loads((out / "config.json").read_text())
    assert config["quantization_config"]["quant_method"] == "bitsandbytes"


def test_a_chain_through_every_writer_keeps_tokenizer_and_lineage(tiny_model, tmp_path):
    """import -> export -> prune -> merge -> merge-adapter -> quantize: each output checks, keeps the
    tokenizer byte for byte, and carries the whole lineage."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    steps = [
        ("import", ["import", str(tiny_model), "-o", "{out}", "--dtype", "float32"]),
        ("export", ["export", "{prev}", "--format", "safetensors", "-o", "{out}"]),
        ("prune", ["prune", "{prev}", "--method", "magnitude", "--sparsity", "0.3", "-o", "{out}"]),
        ("merge", ["merge", "{prev}", str(tiny_model), "--method", "slerp", "--t", "0.5", "-o", "{out}"]),
    ]
    previous, stages = tiny_model, ["tiny"]
    for index, (stage, args) in enumerate(steps):
        out = tmp_path / f"{index}-{stage}"
        ladder(*[a.format(out=out, prev=previous) for a in args])
        stages.append(stage)
        assert check_model(out).ok, stage
        for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
            assert (out / name).read_bytes() == (tiny_model / name).read_bytes(), (stage, name)
        assert [s["stage"] for s in json.loads((out / "ladder.json").read_text())["stages"]] == stages
        previous = out
    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(previous),
                                LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj"]))
    peft_model.save_pretrained(tmp_path / "adapter")
    for stage, args in (("merge-adapter", ["merge-adapter", str(previous), str(tmp_path / "adapter"), "-o", "{out}"]),
                        ("quantize", ["quantize", "{prev}", "--scheme", "nf4", "-o", "{out}"])):
        out = tmp_path / stage
        ladder(*[a.format(out=out, prev=previous) for a in args])
        stages.append(stage)
        assert check_model(out).ok, stage
        assert (out / "tokenizer.json").read_bytes() == (tiny_model / "tokenizer.json").read_bytes(), stage
        assert [s["stage"] for s in json.loads((out / "ladder.json").read_text())["stages"]] == stages
        previous = out


@pytest.mark.parametrize("model_type, sizes", [
    ("qwen2", dict(num_key_value_heads=2)), ("qwen2", dict(tie_word_embeddings=True)),
    ("llama", dict(attention_bias=True, mlp_bias=True, head_dim=32)), ("llama", dict(num_key_value_heads=1)),
    ("qwen3", dict(num_key_value_heads=2)), ("qwen3", dict(attention_bias=True, head_dim=16)),
    ("mistral", dict()), ("mistral", dict(head_dim=8))])
def test_the_integrity_layout_equals_transformers_own_model(tmp_path, model_type, sizes):
    """The tensor layout require_model_folder checks (written out, no model code imported) is exactly
    the state dict transformers builds for the config, defaults left out of config.json included."""
    from transformers import AutoConfig, AutoModelForCausalLM

    from codeladder.models.integrity import expected_tensors

    config = AutoConfig.for_model(model_type, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=96, vocab_size=300, **sizes)
    config.save_pretrained(tmp_path)
    expected, tied = expected_tensors(tmp_path, json.loads((tmp_path / "config.json").read_text()))
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    assert expected == {name: tuple(t.shape) for name, t in model.state_dict().items()}
    assert tied == bool(config.tie_word_embeddings)
