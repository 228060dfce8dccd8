"""The ``export`` registry: every GGUF type ``ladder export --type`` writes, and the safetensors format.

Hand-written because the numbers are llama.cpp's, not ours: each GGUF type's ``llama_ftype`` (the file
type recorded in the header and asked of llama.cpp's quantizer), the ggml block type the ``gguf`` package
quantizes in numpy, and which 32-wide type a K-quant falls back to where a row does not fit its 256-wide
block (llama.cpp itself would pick a wider one, e.g. Q5_0 for Q4_K: 896-wide Qwen2.5 rows end up at
6.4 bits). ``engine`` says who quantizes: ``numpy`` (the gguf package) or ``llama.cpp`` (its reference
quantizer, through llama-cpp-python). Choice lists and checks everywhere read this registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from codeladder.errors import LadderError
from codeladder.models.arch import AUTO, DTYPE_ALIASES, DTYPES
from codeladder.params import OUTPUT, VerbParams, option
from codeladder.registry import Entry, new_registry

EXPORT = new_registry("export")
LLAMA_CPP = "https://github.com/ggml-org/llama.cpp/blob/master/tools/quantize/README.md"
GGUF_SPEC = "https://github.com/ggml-org/ggml/blob/master/docs/gguf.md"
GGUF_EXPORTER = "codeladder.models.gguf_export:export_gguf"


class GgufParams(VerbParams):
    """Parameters of a GGUF export."""

    verb = "export"
    verbose: bool = option(False, "K-quants: show llama.cpp's own quantizer log")


class SafetensorsParams(VerbParams):
    """Parameters of a safetensors export."""

    verb = "export"
    dtype: str = option("auto", "auto (keep what is stored), float32, float16 or bfloat16",
                        choices=(*DTYPES, AUTO, *DTYPE_ALIASES))


def _gguf(name: str, summary: str, file_type: int, engine: str, qtype: str | None = None,
          fallback: str | None = None) -> None:
    EXPORT.add(name, summary, GGUF_EXPORTER, reference=LLAMA_CPP if engine == "llama.cpp" else GGUF_SPEC,
               params=GgufParams, format="gguf", file_type=file_type, engine=engine, qtype=qtype, fallback=fallback)


_gguf("f32", "GGUF, every tensor float32 (lossless, 4 bytes a weight)", 0, "numpy")
_gguf("f16", "GGUF, matrices float16, vectors float32", 1, "numpy")
_gguf("q8_0", "GGUF Q8_0: 8-bit blocks of 32 with one scale (~8.5 bits a weight)", 7, "numpy", qtype="Q8_0")
_gguf("q5_0", "GGUF Q5_0: 5-bit blocks of 32 (~5.5 bits a weight)", 8, "numpy", qtype="Q5_0")
_gguf("q4_0", "GGUF Q4_0: 4-bit blocks of 32 (~4.5 bits a weight)", 2, "numpy", qtype="Q4_0")
_gguf("q4_k", "GGUF Q4_K_M by llama.cpp's quantizer (256-wide super-blocks)", 15, "llama.cpp", fallback="q4_0")
_gguf("q5_k", "GGUF Q5_K_M by llama.cpp's quantizer", 17, "llama.cpp", fallback="q5_0")
_gguf("q6_k", "GGUF Q6_K by llama.cpp's quantizer", 18, "llama.cpp", fallback="q8_0")
EXPORT.add("safetensors", "a Hugging Face safetensors folder, optionally cast to another dtype",
           "codeladder.models.io:convert_folder", reference="https://huggingface.co/docs/safetensors",
           params=SafetensorsParams, format="safetensors")


def formats() -> list[str]:
    """The output formats (``--format``): gguf, safetensors."""
    return list(dict.fromkeys(e.data["format"] for e in EXPORT.entries()))


def gguf_types(engine: str | None = None) -> list[str]:
    """The GGUF type names, optionally only those one engine (``numpy``, ``llama.cpp``) makes."""
    return [e.name for e in EXPORT.entries() if e.data["format"] == "gguf" and engine in (None, e.data["engine"])]


def gguf_type(name: str, flag: str = "--type") -> Entry:
    """A GGUF type's entry, or one line listing the GGUF types."""
    entry = EXPORT.get(name, flag) if name in EXPORT else None
    if entry is None or entry.data["format"] != "gguf":
        raise LadderError(f"{flag} {name}: choose one of {', '.join(gguf_types())} (see `ladder ls export`)")
    return entry


class ExportParams(VerbParams):
    """Export to GGUF (llama.cpp) or to a safetensors folder."""

    verb: ClassVar[str] = "export"
    folder: Path = option(..., "model folder", argument=True)
    output: Path = option(..., ".gguf file, or a folder for safetensors", flags=OUTPUT)
    format: str = option("gguf", "output format", choices=("gguf", "safetensors"))
    type: str = option("f16", "GGUF type (see `ladder ls export`)", choices="export")
    dtype: str = option("auto", "safetensors: auto (keep what is stored), float32, float16 or bfloat16",
                        choices=(*DTYPES, AUTO, *DTYPE_ALIASES))
    verbose: bool = option(False, "K-quants: show llama.cpp's own quantizer log")


def export_model(params: ExportParams):
    """``ladder export``: a GGUF file (ExportReport) or a safetensors folder (its path)."""
    if params.format == "gguf":
        entry = gguf_type(params.type)
        return entry.load()(params.folder, params.output, entry.name, show_progress=True, verbose=params.verbose)
    return EXPORT.get("safetensors").load()(params.folder, params.output, params.dtype, stage="export",
                                            params={"format": "safetensors"})


__all__ = ["EXPORT", "ExportParams", "GgufParams", "SafetensorsParams", "export_model", "formats", "gguf_types",
           "gguf_type"]
