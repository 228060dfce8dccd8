"""``size_ratio``: a model's bytes on disk over a reference's are at most a bound (a GGUF file's size, or a
folder's ``*.safetensors``/``*.gguf``)."""

from __future__ import annotations

from pathlib import Path

from codeladder.contracts.base import Artifacts, ClaimParams, NotApplicable, Outcome, judged


class SizeRatioParams(ClaimParams):
    max: float


def model_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    files = [*path.glob("*.safetensors"), *path.glob("*.gguf")]
    if not files:
        raise NotApplicable(f"{path} holds no weights (*.safetensors, *.gguf)")
    return sum(f.stat().st_size for f in files)


def check(params: SizeRatioParams, artifacts: Artifacts) -> Outcome:
    model, reference = artifacts.path("model"), artifacts.path("reference")
    ratio = model_bytes(model) / model_bytes(reference)
    return judged(ratio <= params.max, round(ratio, 6), params.max, [str(model), str(reference)])
