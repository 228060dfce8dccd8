"""Export a Hugging Face model folder to GGUF that llama.cpp loads and runs.

F32/F16/Q8_0/Q4_0 are written with the ``gguf`` package (it quantizes those in numpy). K-quants
(Q4_K, Q6_K) are made by llama.cpp's own quantizer (``llama_model_quantize`` through
llama-cpp-python) from an F16 file: it is the reference implementation, so we do not port it.
Tensors that cannot take the asked type (rows not a multiple of the block size) fall back to a
wider type, and the report lists them. Tensors are read one at a time from the safetensors files.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from codeladder.errors import LadderError
from codeladder.models.checkpoint import weight_files

NUMPY_TYPES = ("f32", "f16", "q8_0", "q4_0")
LLAMA_CPP_TYPES = {"q4_k": 15, "q6_k": 18, "q5_k": 17}  # llama_ftype: MOSTLY_Q4_K_M, MOSTLY_Q6_K, MOSTLY_Q5_K_M
TYPES = (*NUMPY_TYPES, *LLAMA_CPP_TYPES)
ARCHITECTURES = {"qwen2": "QWEN2", "llama": "LLAMA", "qwen3": "QWEN3"}
# Pre-tokenizer regexes llama.cpp knows, recognised from tokenizer.json.
_QWEN2_REGEX_START = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
_LLAMA3_REGEX_START = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"


@dataclass
class ExportReport:
    path: str
    type: str
    tensors: int = 0
    fallbacks: dict[str, str] = field(default_factory=dict)  # tensor -> type it got instead
    bytes: int = 0


def _gguf():
    try:
        import gguf
    except ImportError:
        raise LadderError("GGUF export needs the gguf package: pip install -e '.[gguf]'") from None
    return gguf


def detect_pre_tokenizer(tokenizer_json: dict) -> str:
    text = json.dumps(tokenizer_json.get("pre_tokenizer") or {})
    if _LLAMA3_REGEX_START.replace("\\", "\\\\") in text:
        return "llama-bpe"
    if _QWEN2_REGEX_START.replace("\\", "\\\\") in text:
        return "qwen2"
    return "gpt2"


def _add_tokenizer(writer, folder: Path, vocab_size: int) -> None:
    from transformers import AutoTokenizer

    gguf = _gguf()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    raw = json.loads((folder / "tokenizer.json").read_text())
    if raw.get("model", {}).get("type") != "BPE":
        raise LadderError(f"{folder}/tokenizer.json: only BPE tokenizers export to GGUF here")
    vocab = tokenizer.get_vocab()
    by_id = {i: t for t, i in vocab.items()}
    special = {t.content for t in tokenizer.added_tokens_decoder.values() if t.special}
    added = {t.content for t in tokenizer.added_tokens_decoder.values()}
    tokens, types = [], []
    for i in range(vocab_size):
        token = by_id.get(i)
        if token is None:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        else:
            tokens.append(token)
            types.append(gguf.TokenType.CONTROL if token in special else
                         gguf.TokenType.USER_DEFINED if token in added else gguf.TokenType.NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in raw["model"].get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(detect_pre_tokenizer(raw))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for kind, token in (("eos", tokenizer.eos_token), ("bos", tokenizer.bos_token), ("pad", tokenizer.pad_token)):
        if token is not None and token in vocab:
            getattr(writer, f"add_{kind}_token_id")(vocab[token])
    writer.add_add_bos_token(False)
    if getattr(tokenizer, "chat_template", None):
        writer.add_chat_template(tokenizer.chat_template)


def _add_hparams(writer, config: dict) -> None:
    heads = config["num_attention_heads"]
    writer.add_context_length(config.get("max_position_embeddings", 4096))
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(config.get("num_key_value_heads", heads))
    writer.add_layer_norm_rms_eps(config.get("rms_norm_eps", 1e-6))
    rope = config.get("rope_theta") or (config.get("rope_parameters") or {}).get("rope_theta") or 10000.0
    writer.add_rope_freq_base(float(rope))
    head_dim = config.get("head_dim") or config["hidden_size"] // heads
    if config["model_type"] == "qwen3" or head_dim != config["hidden_size"] // heads:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    writer.add_rope_dimension_count(head_dim)


def llama_permute(weights: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's rotary layout for the llama architecture's q/k projections."""
    return (weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _tensor_type(gguf, name: str, array: np.ndarray, wanted: str, report: ExportReport):
    """(data to write, raw dtype or None); 1-D tensors stay F32, blocks that do not fit fall back."""
    qtypes = {"q8_0": gguf.GGMLQuantizationType.Q8_0, "q4_0": gguf.GGMLQuantizationType.Q4_0}
    if array.ndim == 1 or wanted == "f32":
        return array.astype(np.float32), None
    if wanted == "f16":
        return array.astype(np.float16), None
    block = gguf.GGML_QUANT_SIZES[qtypes[wanted]][0]
    if array.shape[-1] % block:
        report.fallbacks[name] = "f16"
        return array.astype(np.float16), None
    return gguf.quants.quantize(array.astype(np.float32), qtypes[wanted]), qtypes[wanted]


def _write_numpy_gguf(folder: Path, out: Path, wanted: str, report: ExportReport) -> None:
    import torch
    from safetensors import safe_open

    gguf = _gguf()
    config = json.loads((folder / "config.json").read_text())
    arch_name = config.get("model_type")
    if arch_name not in ARCHITECTURES:
        raise LadderError(f"{folder}/config.json: model_type {arch_name!r} cannot be exported; "
                          f"supported: {', '.join(ARCHITECTURES)}")
    arch = getattr(gguf.MODEL_ARCH, ARCHITECTURES[arch_name])
    names = gguf.get_tensor_name_map(arch, config["num_hidden_layers"])
    writer = gguf.GGUFWriter(str(out), gguf.MODEL_ARCH_NAMES[arch])
    writer.add_name(folder.name)
    writer.add_file_type({"f32": 0, "f16": 1, "q8_0": 7, "q4_0": 2}[wanted])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    _add_hparams(writer, config)
    _add_tokenizer(writer, folder, config["vocab_size"])
    heads, kv_heads = config["num_attention_heads"], config.get("num_key_value_heads", config["num_attention_heads"])
    for path in weight_files(folder):
        with safe_open(str(path), framework="pt") as f:
            for hf_name in f.keys():
                if hf_name == "lm_head.weight" and config.get("tie_word_embeddings"):
                    continue
                name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
                if name is None:
                    raise LadderError(f"{path}: tensor {hf_name!r} has no GGUF name for {arch_name}")
                array = f.get_tensor(hf_name).to(torch.float32).numpy()
                if arch_name == "llama" and hf_name.endswith("q_proj.weight"):
                    array = llama_permute(array, heads)
                elif arch_name == "llama" and hf_name.endswith("k_proj.weight"):
                    array = llama_permute(array, kv_heads)
                data, raw_type = _tensor_type(gguf, name, array, wanted, report)
                writer.add_tensor(name, data, raw_dtype=raw_type)
                report.tensors += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _llama_cpp_quantize(source: Path, out: Path, ftype: int) -> None:
    try:
        import llama_cpp
    except ImportError:
        raise LadderError("K-quants are made by llama.cpp's quantizer: pip install -e '.[llamacpp]'") from None
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = 0
    if llama_cpp.llama_model_quantize(str(source).encode(), str(out).encode(), params) != 0:
        raise LadderError(f"{source}: llama.cpp could not quantize this file")


def _read_back_types(out: Path, wanted: str, report: ExportReport) -> None:
    gguf = _gguf()
    reader = gguf.GGUFReader(str(out))
    expected = {"q4_k": {"Q4_K", "Q6_K", "Q5_K"}, "q6_k": {"Q6_K"}, "q5_k": {"Q5_K", "Q6_K"}}.get(wanted)
    for tensor in reader.tensors:
        kind = tensor.tensor_type.name
        if expected and len(tensor.shape) > 1 and kind not in expected:
            report.fallbacks[tensor.name] = kind.lower()


def export_gguf(folder: str | Path, out: str | Path, type: str = "f16") -> ExportReport:
    folder, out = Path(folder), Path(out)
    if type not in TYPES:
        raise LadderError(f"--type {type}: choose one of {', '.join(TYPES)}")
    if not (folder / "config.json").exists():
        raise LadderError(f"{folder}: not a model folder (no config.json)")
    out.parent.mkdir(parents=True, exist_ok=True)
    report = ExportReport(path=str(out), type=type)
    if type in NUMPY_TYPES:
        _write_numpy_gguf(folder, out, type, report)
    else:
        with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
            f16 = Path(tmp) / "f16.gguf"
            _write_numpy_gguf(folder, f16, "f16", report)
            report.fallbacks.clear()
            _llama_cpp_quantize(f16, out, LLAMA_CPP_TYPES[type])
        _read_back_types(out, type, report)
    report.bytes = out.stat().st_size
    return report
