"""``ladder quantize``: GGUF schemes through the exporter, and in-framework int8 / NF4 / FP4 weight-only.

In-framework schemes use bitsandbytes, measured here against the alternatives on CPU
(2026-11): bitsandbytes 0.50 quantizes, runs, saves and reloads int8 and NF4 models on CPU
through transformers; torchao's int4 weight-only does not run on CPU and it makes transformers
noisy at import; optimum-quanto's int4 compiles a C++ extension first (~30 s); hqq works only
outside transformers 5. The quantized model is written through the one checkpoint writer
(tokenizer copied byte for byte, lineage appended) and reloads with ``from_pretrained``.

Size is reported against the FP16 size computed from the parameter count (2 bytes each), not
from any file; with ``--text`` the perplexity before and after is reported too.
"""

from __future__ import annotations

import json
from pathlib import Path

from codeladder.errors import LadderError
from codeladder.models.checkpoint import CheckpointWriter, element_count, now, weight_files
from codeladder.models.integrity import read_config, require_model_folder, stored_tensors
from codeladder.models.gguf_export import TYPES, export_gguf

FRAMEWORK_SCHEMES = ("int8", "nf4", "fp4")
SCHEMES = (*TYPES, *FRAMEWORK_SCHEMES)


def parameter_count(folder: Path) -> int:
    config = read_config(folder)
    tied = config.get("tie_word_embeddings")
    return sum(element_count(shape) for name, (shape, _) in stored_tensors(folder).items()
               if not (tied and name == "lm_head.weight"))


def _bnb_config(scheme: str):
    import torch
    from transformers import BitsAndBytesConfig

    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise LadderError(f"--scheme {scheme} needs bitsandbytes: pip install -e '.[quant]'") from None
    if scheme == "int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=scheme, bnb_4bit_compute_dtype=torch.float32)


def quantize_in_framework(folder: Path, scheme: str, out: Path):
    """Returns the quantized model (still loaded) after writing it to ``out``."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    started = now()
    import torch

    rest = torch.float16 if scheme == "int8" else torch.bfloat16  # dtype of what stays unquantized (embeddings)
    with CheckpointWriter(out, tokenizer_source=folder, lineage_source=folder, inputs=[folder]) as writer:
        model = AutoModelForCausalLM.from_pretrained(folder, quantization_config=_bnb_config(scheme),
                                                     device_map="cpu", dtype=rest)
        writer.config = json.loads(model.config.to_json_string())
        for name, tensor in model.state_dict().items():
            if name == "lm_head.weight" and writer.config.get("tie_word_embeddings"):
                continue
            writer.add(name, tensor.detach().cpu())
        writer.finish("quantize", {"scheme": scheme, "library": "bitsandbytes"}, started_at=started)
    return model


def quantize(folder: str | Path, scheme: str, out: str | Path, text: str | None = None, verbose: bool = False) -> dict:
    from codeladder.models.perplexity import hf_perplexity

    folder, out = Path(folder), Path(out)
    if scheme not in SCHEMES:
        raise LadderError(f"--scheme {scheme}: choose one of {', '.join(SCHEMES)}")
    if text is not None and not text.strip():
        raise LadderError("--text: the file is empty; give some text to measure perplexity on")
    require_model_folder(folder)
    params = parameter_count(folder)
    report = {"scheme": scheme, "output": str(out), "parameters": params, "fp16_bytes": 2 * params}
    if scheme in FRAMEWORK_SCHEMES:
        model = quantize_in_framework(folder, scheme, out)
        report["bytes"] = sum(p.stat().st_size for p in weight_files(out))
        if text is not None:
            report["perplexity_after"] = hf_perplexity(out, text, model=model)["perplexity"]
    else:
        exported = export_gguf(folder, out, scheme, verbose=verbose)
        report["bytes"] = exported.bytes
        report["fallbacks"] = exported.fallbacks
        if text is not None:
            from codeladder.backends.llamacpp import gguf_perplexity

            report["perplexity_after"] = gguf_perplexity(out, text)["perplexity"]
    report["size_vs_fp16"] = report["bytes"] / report["fp16_bytes"]
    report["bits_per_weight"] = 8 * report["bytes"] / params
    if text is not None:
        report["perplexity_before"] = hf_perplexity(folder, text)["perplexity"]
        report["perplexity_delta"] = report["perplexity_after"] - report["perplexity_before"]
    return report


def describe(report: dict) -> list[tuple[str, str]]:
    """The report as (label, value) rows a person reads; ``--json`` prints the dict itself."""
    rows = [("scheme", report["scheme"]), ("output", report["output"]),
            ("parameters", f"{report['parameters']:,}"),
            ("size", f"{report['bytes'] / 2**20:.2f} MiB ({100 * report['size_vs_fp16']:.1f}% of FP16, "
                     f"{report['fp16_bytes'] / 2**20:.2f} MiB)"),
            ("bits per weight", f"{report['bits_per_weight']:.2f}")]
    if report.get("fallbacks"):
        rows.append(("fallbacks", f"{len(report['fallbacks'])} tensor(s) in another type (see --json)"))
    if "perplexity_after" in report:
        rows.append(("perplexity", f"{report['perplexity_before']:.4f} -> {report['perplexity_after']:.4f} "
                                   f"({report['perplexity_delta']:+.4f})"))
    return rows
