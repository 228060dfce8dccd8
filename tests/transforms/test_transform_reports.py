"""Every transform writes ``report.json`` through the writer, and lineage for its output."""

import json

import pytest

from codeladder.models.tiny import TinySpec, build_tiny_model


@pytest.fixture(scope="module")
def second(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("second") / "m", TinySpec(seed=2))


def _report(folder):
    return json.loads((folder / "report.json").read_text())


def test_merge_writes_report_json_and_the_legacy_name(tiny_model, second, tmp_path):
    from codeladder.transforms.merge import merge_models

    returned = merge_models([tiny_model, second], "slerp", tmp_path / "m", t=0.3)
    written = _report(tmp_path / "m")
    assert written == json.loads((tmp_path / "m" / "merge_report.json").read_text()) == returned
    assert written["method"] == "slerp" and written["t"] == 0.3 and written["summary"]["tensors"]


def test_slerp_takes_the_base_as_its_first_endpoint(tiny_model, second, tmp_path):
    from codeladder.transforms.merge import merge_models

    report = merge_models([second], "slerp", tmp_path / "m", base=tiny_model, t=0.5)
    assert report["base"] == str(tiny_model) and report["models"] == [str(second)]


def test_prune_writes_report_json(tiny_model, tmp_path):
    from codeladder.transforms.prune import prune_model

    returned = prune_model(tiny_model, tmp_path / "p", method="magnitude", sparsity=0.25)
    written = _report(tmp_path / "p")
    assert written == returned and written["method"] == "magnitude" and written["sparsity_achieved"] > 0.2


def test_merge_adapter_writes_report_json(tiny_model, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from codeladder.transforms.adapter import merge_adapter

    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model),
                   LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj"])).save_pretrained(tmp_path / "lora")
    returned = merge_adapter(tiny_model, tmp_path / "lora", tmp_path / "out")
    assert _report(tmp_path / "out") == returned and returned["scale"] == 2.0 and returned["modules"] == 2


def test_quantize_writes_report_json_in_a_folder_and_in_a_gguf_sidecar(tiny_model, tmp_path):
    from codeladder.models.lineage import read_sidecar
    from codeladder.transforms.quantize import quantize

    returned = quantize(tiny_model, "nf4", tmp_path / "q")
    assert _report(tmp_path / "q") == returned
    assert returned["bytes"] == (tmp_path / "q" / "model.safetensors").stat().st_size
    gguf = quantize(tiny_model, "q8_0", tmp_path / "q.gguf")
    sidecar = read_sidecar(tmp_path / "q.gguf")
    assert sidecar["report"] == gguf and gguf["scheme"] == "q8_0" and "fallbacks" in gguf
    assert [s["stage"] for s in sidecar["lineage"]["stages"]] == ["tiny", "quantize"]
    assert sidecar["lineage"]["stages"][-1]["params"]["scheme"] == "q8_0"
