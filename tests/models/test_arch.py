"""Architecture facts live in models/arch.py only: the tied-head rule, pre-tokenizers, supported
architectures per capability, and the one dtype parser with one meaning of ``auto``."""

import json
import re
from pathlib import Path

import pytest

from codeladder.errors import LadderError
from codeladder.models.arch import (ARCHITECTURES, detect_pre_tokenizer, head_is_stored, parse_dtype, require_arch,
                                    resolve_dtype, supported)

SRC = Path(__file__).resolve().parents[2] / "src" / "codeladder"
ARCH = SRC / "models" / "arch.py"


def _files_matching(pattern: str) -> list[str]:
    found = []
    for path in SRC.rglob("*.py"):
        if path != ARCH and re.search(pattern, path.read_text()):
            found.append(str(path.relative_to(SRC)))
    return found


def test_only_arch_knows_the_tied_head_rule():
    # the config key as a key, or the head's tensor name: anything else reads the rule from arch.py
    assert _files_matching(r"""["']tie_word_embeddings["']|["']lm_head\.weight["']""") == []


def test_only_arch_holds_pre_tokenizer_regexes():
    assert _files_matching(r"\\p\{N\}") == []


def test_supported_architectures_per_capability_agree_with_what_each_reads():
    assert set(supported("load")) == set(ARCHITECTURES) >= {"qwen2", "llama", "qwen3", "mistral"}
    assert set(supported("gguf")) <= set(supported("load")) and set(supported("tiny")) <= set(supported("gguf"))
    with pytest.raises(LadderError, match="mistral' cannot be exported to GGUF; supported: qwen2, llama, qwen3"):
        require_arch("mistral", "gguf")
    with pytest.raises(LadderError, match="'gpt2' is not supported; codeladder loads qwen2, llama, qwen3, mistral"):
        require_arch("gpt2")


def test_gguf_export_refuses_an_architecture_it_cannot_write_in_one_line(tmp_path):
    from codeladder.models.gguf_export import export_gguf
    from codeladder.models.tiny import TinySpec, build_tiny_model

    folder = build_tiny_model(tmp_path / "m", TinySpec(arch="llama", layers=1))  # Mistral's tensors, a llama config
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="mistral", architectures=["MistralForCausalLM"])
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(LadderError, match="cannot be exported to GGUF") as caught:
        export_gguf(folder, tmp_path / "m.gguf")
    assert "\n" not in str(caught.value) and not (tmp_path / "m.gguf").exists()


def test_tied_head_rule():
    assert not head_is_stored("lm_head.weight", {"tie_word_embeddings": True})
    assert head_is_stored("lm_head.weight", {}) and head_is_stored("model.norm.weight", True)


def test_one_dtype_parser_with_one_meaning_of_auto():
    assert parse_dtype("bf16") == "bfloat16" and parse_dtype("auto") == "auto"
    with pytest.raises(LadderError, match="--dtype float8: choose one of float32, float16, bfloat16, auto"):
        parse_dtype("float8")
    with pytest.raises(LadderError, match="--dtype auto: choose one of float32, float16, bfloat16$"):
        parse_dtype("auto", allow_auto=False)
    assert resolve_dtype("auto", stored="bfloat16") == "bfloat16"  # nothing computed: what is stored
    assert resolve_dtype("auto", stored="bfloat16", device="cuda:0") == "bfloat16"
    assert resolve_dtype("auto", stored="bfloat16", device="cpu") == "float32"  # CPU computes half in float32
    assert resolve_dtype("auto", stored=None) == "float32"  # a quantized GGUF stores no torch dtype
    assert resolve_dtype("float16", stored="bfloat16", device="cpu") == "float16"


def test_the_tiny_tokenizer_is_recognised_as_qwen2(tiny_model):
    assert detect_pre_tokenizer(json.loads((tiny_model / "tokenizer.json").read_text())) == "qwen2"
    assert detect_pre_tokenizer({}) == "gpt2"
