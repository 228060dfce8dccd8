"""``ladder quantize``: the ``quantize`` registry - in-framework int8 / NF4 / FP4 weight-only (bitsandbytes,
a model folder) and every GGUF type of the ``export`` registry (a GGUF file, via GGUF export).

In-framework schemes use bitsandbytes, measured here against the alternatives on CPU
(2026-11): bitsandbytes 0.50 quantizes, runs, saves and reloads int8 and NF4 models on CPU
through transformers; torchao's int4 weight-only does not run on CPU and it makes transformers
noisy at import; optimum-quanto's int4 compiles a C++ extension first (~30 s); hqq works only
outside transformers 5. The quantized model is written through the one checkpoint writer
(tokenizer copied byte for byte, lineage appended, ``report.json``) and reloads with ``from_pretrained``;
a GGUF output gets the same report in its lineage sidecar.

Size is reported against the FP16 size computed from the parameter count (2 bytes each), not
from any file; with ``text`` the perplexity before and after is reported too.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar, Optional

from codeladder import quiet_library_noise
from codeladder.errors import LadderError
from codeladder.models.arch import head_is_stored, stored_items, torch_dtype
from codeladder.models.checkpoint import CheckpointWriter, element_count, now, rewrite_gguf_report
from codeladder.models.export_types import EXPORT, gguf_types
from codeladder.models.integrity import read_config, require_model_folder, stored_tensors
from codeladder.models.lazy import weight_files
from codeladder.params import OUTPUT, VerbParams, option, read_text
from codeladder.registry import new_registry

quiet_library_noise()

QUANTIZE = new_registry("quantize")
BNB = "codeladder.transforms.quantize:quantize_in_framework"
# scheme -> (summary, paper, BitsAndBytesConfig arguments, dtype of what stays unquantized: embeddings, norms)
_FRAMEWORK = {
    "int8": ("8-bit weights with outlier columns kept in 16-bit (LLM.int8), bitsandbytes, a model folder",
             "https://arxiv.org/abs/2208.07339", {"load_in_8bit": True}, "float16"),
    "nf4": ("4-bit NormalFloat weights (QLoRA), bitsandbytes, a model folder", "https://arxiv.org/abs/2305.14314",
            {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}, "bfloat16"),
    "fp4": ("4-bit float weights, bitsandbytes, a model folder",
            "https://huggingface.co/docs/bitsandbytes/reference/nn/linear4bit",
            {"load_in_4bit": True, "bnb_4bit_quant_type": "fp4"}, "bfloat16"),
}
for _name, (_summary, _paper, _config, _rest) in _FRAMEWORK.items():
    QUANTIZE.add(_name, _summary, BNB, reference=_paper, output="folder", library="bitsandbytes", bnb=_config,
                 rest_dtype=_rest)
for _name in gguf_types():
    _entry = EXPORT.get(_name)
    QUANTIZE.add(_name, f"{_entry.summary}, a GGUF file", _entry.factory, reference=_entry.reference,
                 params=_entry.params, output="file", library=_entry.data["engine"])


@dataclass
class QuantizeReport:
    """``report.json`` of a quantization (in a GGUF's sidecar for GGUF schemes)."""

    scheme: str
    output: str
    parameters: int
    fp16_bytes: int
    bytes: int = 0
    size_vs_fp16: float = 0.0
    bits_per_weight: float = 0.0
    fallbacks: dict[str, str] | None = None  # GGUF: tensor -> the type it got instead
    perplexity_before: float | None = None
    perplexity_after: float | None = None
    perplexity_delta: float | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def sized(self, files: list[Path]) -> "QuantizeReport":
        self.bytes = sum(p.stat().st_size for p in files)
        self.size_vs_fp16 = self.bytes / self.fp16_bytes
        self.bits_per_weight = 8 * self.bytes / self.parameters
        return self

    def measured(self, folder: Path, quantized: Path | None, text: str | None, loaded_model=None) -> None:
        """Perplexity before (``folder``) and after (``quantized``, or ``loaded_model`` with the folder's tokenizer)."""
        if text is None:
            return
        from codeladder.measure.perplexity import perplexity

        self.perplexity_before = perplexity(folder, text)["perplexity"]
        self.perplexity_after = perplexity(quantized or folder, text, loaded_model=loaded_model)["perplexity"]
        self.perplexity_delta = self.perplexity_after - self.perplexity_before


def parameter_count(folder: Path) -> int:
    config = read_config(folder)
    return sum(element_count(shape) for name, (shape, _) in stored_tensors(folder).items()
               if head_is_stored(name, config))


def _bnb_config(scheme: str, arguments: dict):
    import torch
    from transformers import BitsAndBytesConfig

    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise LadderError(f"--scheme {scheme} needs bitsandbytes: pip install -e '.[quant]'") from None
    extra = {"bnb_4bit_compute_dtype": torch.float32} if arguments.get("load_in_4bit") else {}
    return BitsAndBytesConfig(**arguments, **extra)


def quantize_in_framework(folder: Path, scheme: str, out: Path, report: QuantizeReport, text: str | None = None):
    """Write the bitsandbytes-quantized model to ``out``; returns it (still loaded)."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    entry = QUANTIZE.get(scheme, "--scheme")
    started = now()
    with CheckpointWriter(out, tokenizer_source=folder, lineage_source=folder, inputs=[folder]) as writer:
        model = AutoModelForCausalLM.from_pretrained(folder, quantization_config=_bnb_config(scheme, entry.data["bnb"]),
                                                     device_map="cpu", dtype=torch_dtype(entry.data["rest_dtype"]))
        writer.config = json.loads(model.config.to_json_string())
        for name, tensor in stored_items(model.state_dict().items(), writer.config):
            writer.add(name, tensor.detach().cpu())
        report.measured(folder, None, text, loaded_model=model)
        writer.finish("quantize", {"scheme": scheme, "library": "bitsandbytes"}, started_at=started,
                      report=lambda staged: report.sized(weight_files(staged)))
    return model


class QuantizeParams(VerbParams):
    """Quantize; report the size against FP16 (from the parameter count) and, with --text, the perplexity delta."""

    verb: ClassVar[str] = "quantize"
    folder: Path = option(..., "model folder", argument=True)
    scheme: str = option(..., "in-framework int8, nf4, fp4 (-o FOLDER) or a GGUF type (-o FILE.gguf); see "
                              "`ladder ls quantize`", choices="quantize")
    output: Path = option(..., "model folder or GGUF file", flags=OUTPUT)
    text: Optional[Path] = option(None, "text file for the perplexity before and after")
    verbose: bool = option(False, "K-quants: show llama.cpp's own quantizer log")


def quantize_verb(params: QuantizeParams) -> dict:
    """``ladder quantize``: the report, also written beside the output."""
    return _quantize(params, read_text(params.text, "--text"))


def quantize(folder: str | Path, scheme: str, out: str | Path, text: str | None = None, **settings) -> dict:
    """Quantize ``folder`` with ``scheme`` (``ladder ls quantize``) into ``out`` (a folder or a GGUF file), with
    ``text`` (the text itself) for the perplexity before and after; ``settings`` as the flags are named."""
    return _quantize(QuantizeParams(folder=folder, scheme=scheme, output=out, **settings), text)


def _quantize(params: QuantizeParams, text: str | None) -> dict:
    from codeladder.models.gguf_export import export_gguf

    folder, out, scheme = params.folder, params.output, params.scheme
    entry = QUANTIZE.get(scheme, "--scheme")
    if text is not None and not text.strip():
        raise LadderError("--text: the file is empty; give some text to measure perplexity on")
    require_model_folder(folder)
    parameters = parameter_count(folder)
    report = QuantizeReport(scheme, str(out), parameters, 2 * parameters)
    if entry.data["output"] == "folder":
        quantize_in_framework(folder, scheme, out, report, text)
    else:
        exported = export_gguf(folder, out, scheme, verbose=params.verbose, stage="quantize",
                               params={"scheme": scheme})
        report.fallbacks = exported.fallbacks
        report.sized([out]).measured(folder, out, text)
        rewrite_gguf_report(out, report)
    return report.as_dict()


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


__all__ = ["QUANTIZE", "QuantizeReport", "QuantizeParams", "quantize", "quantize_verb", "quantize_in_framework",
           "parameter_count", "describe"]
