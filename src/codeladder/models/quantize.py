"""``ladder quantize``: GGUF schemes through the exporter, with the size measured against FP16.

The FP16 reference size is computed from the parameter count (2 bytes each), not from any file,
so the ratio says what the scheme saves and nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path

from codeladder.errors import LadderError
from codeladder.models.checkpoint import weight_files
from codeladder.models.gguf_export import TYPES, export_gguf


def parameter_count(folder: Path) -> int:
    from safetensors import safe_open

    config = json.loads((folder / "config.json").read_text())
    total = 0
    for path in weight_files(folder):
        with safe_open(str(path), framework="pt") as f:
            for name in f.keys():
                if name == "lm_head.weight" and config.get("tie_word_embeddings"):
                    continue
                shape = f.get_slice(name).get_shape()
                count = 1
                for dim in shape:
                    count *= dim
                total += count
    return total


def quantize(folder: str | Path, scheme: str, out: str | Path) -> dict:
    folder = Path(folder)
    if scheme not in TYPES:
        raise LadderError(f"--scheme {scheme}: choose one of {', '.join(TYPES)}")
    report = export_gguf(folder, out, scheme)
    params = parameter_count(folder)
    fp16_bytes = 2 * params
    return {"scheme": scheme, "output": str(out), "parameters": params, "bytes": report.bytes,
            "fp16_bytes": fp16_bytes, "size_vs_fp16": report.bytes / fp16_bytes,
            "bits_per_weight": 8 * report.bytes / params, "fallbacks": report.fallbacks}
