"""Export a Hugging Face model folder to GGUF that llama.cpp loads and runs.

F32/F16/Q8_0/Q5_0/Q4_0 are written with the ``gguf`` package (it quantizes those in numpy). K-quants
(Q4_K, Q5_K, Q6_K) are made by llama.cpp's own quantizer (:mod:`codeladder.models.llamacpp_quant`)
from an F16 file: it is the reference implementation, so we do not port it. The types, their
llama.cpp numbers and fallbacks are the ``export`` registry (:mod:`codeladder.models.export_types`);
which architectures export, and how, is :mod:`codeladder.models.arch`.
Tensors that cannot take the asked type (rows not a multiple of the block size) fall back, and
the report lists them: a K-quant falls back to the 32-wide type of its class (Q4_K -> Q4_0), a
32-wide type to F16. The file is written in two passes with one tensor in memory at a time, through
the one writer (:func:`codeladder.models.checkpoint.gguf_output`): staged, renamed into place, with
its lineage in the sidecar ``NAME.gguf.ladder.json``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from codeladder.errors import LadderError
from codeladder.models.arch import detect_pre_tokenizer, head_is_stored, require_arch
from codeladder.models.checkpoint import gguf_output
from codeladder.models.export_types import gguf_type
from codeladder.models.integrity import full_config, read_config, read_json_file, require_model_folder
from codeladder.models.lazy import weight_files
from codeladder.models.llamacpp_quant import k_quant_tensors, llama_cpp_quantize
from codeladder.models.output import crash_point, partial_path


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


def _add_tokenizer(writer, folder: Path, vocab_size: int) -> None:
    from transformers import AutoTokenizer

    gguf = _gguf()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    raw = read_json_file(folder / "tokenizer.json", "GGUF export needs the fast tokenizer file (tokenizer.json); "
                         "save the tokenizer with transformers to make one")
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


@dataclass
class _Planned:
    hf_name: str
    name: str
    source: Path
    shape: tuple[int, ...]
    kind: str  # f32, f16, q8_0, q4_0, q5_0, or raw (bytes taken from llama.cpp's quantizer)
    raw: object = None  # (uint8 array, GGMLQuantizationType) when kind == "raw"


def _choose_kind(name: str, shape: tuple[int, ...], wanted: str, overrides: dict, report: ExportReport) -> str:
    if len(shape) == 1 or wanted == "f32":
        return "f32"
    if wanted == "f16":
        return "f16"
    if name in overrides:
        return "raw"
    kind = gguf_type(wanted).data["fallback"] or wanted
    if shape[-1] % 32:
        kind = "f16"
    if kind != wanted:
        report.fallbacks[name] = kind
    return kind


def _qtype(gguf, kind: str):
    return getattr(gguf.GGMLQuantizationType, gguf_type(kind).data["qtype"])


def _declare(writer, gguf, item: "_Planned") -> None:
    if item.kind == "raw":
        data, qtype = item.raw
        writer.add_tensor_info(item.name, data.shape, np.dtype(np.uint8), data.nbytes, raw_dtype=qtype)
        return
    count = int(np.prod(item.shape))
    if item.kind in ("f32", "f16"):
        dtype = np.dtype(np.float32 if item.kind == "f32" else np.float16)
        writer.add_tensor_info(item.name, item.shape, dtype, count * dtype.itemsize)
        return
    block, size = gguf.GGML_QUANT_SIZES[_qtype(gguf, item.kind)]
    byte_shape = (*item.shape[:-1], item.shape[-1] // block * size)
    writer.add_tensor_info(item.name, byte_shape, np.dtype(np.uint8), count // block * size,
                           raw_dtype=_qtype(gguf, item.kind))


def _write_gguf(folder: Path, out: Path, wanted: str, report: ExportReport, overrides: dict | None = None,
                show_progress: bool = False) -> None:
    """Two passes, so one tensor at a time is in memory: plan every tensor's type and write the
    header; then load, convert and write the tensors one by one."""
    from safetensors import safe_open

    gguf = _gguf()
    overrides = overrides or {}
    config = full_config(folder, read_config(folder))
    model_arch = require_arch(config.get("model_type"), "gguf", f"{folder}/config.json: model_type")
    arch = getattr(gguf.MODEL_ARCH, model_arch.gguf)
    names = gguf.get_tensor_name_map(arch, config["num_hidden_layers"])
    plan: list[_Planned] = []
    for path in weight_files(folder):
        with safe_open(str(path), framework="pt") as f:
            for hf_name in filter(lambda n: head_is_stored(n, config), f.keys()):
                name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
                if name is None:
                    raise LadderError(f"{path}: tensor {hf_name!r} has no GGUF name for {model_arch.model_type}")
                shape = tuple(f.get_slice(hf_name).get_shape())
                kind = _choose_kind(name, shape, wanted, overrides, report)
                plan.append(_Planned(hf_name, name, path, shape, kind, overrides.get(name)))
    writer = gguf.GGUFWriter(str(out), gguf.MODEL_ARCH_NAMES[arch])
    writer.add_name(folder.name)
    writer.add_file_type(gguf_type(wanted).data["file_type"])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    _add_hparams(writer, config)
    _add_tokenizer(writer, folder, config["vocab_size"])
    for item in plan:
        _declare(writer, gguf, item)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    heads, kv_heads = config["num_attention_heads"], config.get("num_key_value_heads", config["num_attention_heads"])
    from codeladder.progress import progress_bar

    with progress_bar(f"exporting tensors ({wanted})", len(plan), show_progress) as advance:
        _write_planned(writer, gguf, plan, model_arch.rotary_permute, heads, kv_heads, report, advance)


def _write_planned(writer, gguf, plan: list, permute: bool, heads: int, kv_heads: int, report: ExportReport,
                   advance) -> None:
    import torch
    from safetensors import safe_open

    try:
        for item in plan:
            advance(1)
            if item.kind == "raw":
                writer.write_tensor_data(np.ascontiguousarray(item.raw[0]))
                report.tensors += 1
                continue
            with safe_open(str(item.source), framework="pt") as f:
                array = f.get_tensor(item.hf_name).to(torch.float32).numpy()
            if permute and item.hf_name.endswith("q_proj.weight"):
                array = llama_permute(array, heads)
            elif permute and item.hf_name.endswith("k_proj.weight"):
                array = llama_permute(array, kv_heads)
            if item.kind in ("f32", "f16"):
                data = array.astype(np.float32 if item.kind == "f32" else np.float16)
            else:
                data = gguf.quants.quantize(array, _qtype(gguf, item.kind))
            writer.write_tensor_data(data)
            report.tensors += 1
            crash_point("mid-gguf")
    finally:
        writer.close()


def _export_k_quant(folder: Path, stage: Path, out: Path, type: str, report: ExportReport, show_progress: bool,
                    verbose: bool) -> None:
    """F16 first, llama.cpp's quantizer on it, then our file with its K-quantized tensors; the scratch
    files live in a hidden sibling that a killed run's successor removes."""
    scratch = partial_path(out, ".work")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    try:
        f16, quantized = scratch / "f16.gguf", scratch / "k.gguf"
        _write_gguf(folder, f16, "f16", ExportReport(str(f16), "f16"), show_progress=show_progress)
        llama_cpp_quantize(f16, quantized, gguf_type(type).data["file_type"], verbose)
        crash_point("after-llama-quantize")
        f16.unlink()
        reader, k_tensors = k_quant_tensors(quantized)
        _write_gguf(folder, stage, type, report, overrides=k_tensors, show_progress=show_progress)
        del reader, k_tensors
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def export_gguf(folder: str | Path, out: str | Path, type: str = "f16", show_progress: bool = False,
                verbose: bool = False, stage: str = "export", params: dict | None = None) -> ExportReport:
    """Write ``folder`` as a GGUF file ``out`` and its lineage sidecar ``out.ladder.json`` (staged beside
    it, renamed into place when complete); ``verbose`` shows llama.cpp's own log for K-quants.
    ``stage``/``params`` name the lineage stage (``ladder quantize`` records its own)."""
    folder, out = Path(folder), Path(out)
    entry = gguf_type(type)
    require_model_folder(folder)
    report = ExportReport(path=str(out), type=type)
    with gguf_output(out, folder, [folder], stage, {"format": "gguf", "type": type, **(params or {})}) as staged:
        if entry.data["engine"] == "numpy":
            _write_gguf(folder, staged.path, type, report, show_progress=show_progress)
        else:
            _export_k_quant(folder, staged.path, out, type, report, show_progress, verbose)
        report.bytes = staged.path.stat().st_size
        staged.report = report
    return report
