"""``merge_norms``: a SLERP merge keeps each tensor's norm within a tolerance of its inputs' norms interpolated
at ``t``. Recomputed from the weights (the merged folder and the input models its report names) when the inputs
are still on disk, so the claim does not rest on the report that makes it; otherwise from the report's
``norm_ratio`` per tensor (the evidence says which)."""

from __future__ import annotations

from pathlib import Path

from codeladder.contracts.base import Artifacts, ClaimParams, NotApplicable, Outcome, judged
from codeladder.contracts.tensors import read_float, tensor_index


class MergeNormsParams(ClaimParams):
    tolerance: float = 0.05
    methods: tuple[str, ...] = ("slerp",)


def _norm(entry) -> float:
    import numpy as np

    return float(np.linalg.norm(read_float(*entry).ravel().astype(np.float64)))


def ratios_from_weights(merged: Path, inputs: list[Path], t: float) -> dict[str, float]:
    out, first, second = tensor_index(merged), tensor_index(inputs[0]), tensor_index(inputs[1])
    ratios = {}
    for name, entry in out.items():
        if len(entry[1]["shape"]) < 2 or name not in first or name not in second:
            continue  # norms and biases: slerp leaves their scale to the inputs' interpolation too, but they are tiny
        expected = (1 - t) * _norm(first[name]) + t * _norm(second[name])
        if expected > 0:
            ratios[name] = _norm(entry) / expected
    return ratios


def _inputs(report: dict, merged: Path) -> list[Path] | None:
    models = [Path(m) for m in report.get("models") or []]
    found = [m if m.is_absolute() or m.exists() else merged.parent / m for m in models]
    return found if len(found) == 2 and all(m.is_dir() for m in found) else None


def check(params: MergeNormsParams, artifacts: Artifacts) -> Outcome:
    report, path = artifacts.json("merge", "report.json")
    if report.get("method") not in params.methods:
        raise NotApplicable(f"{path}: a {report.get('method')} merge (the claim is about {', '.join(params.methods)})")
    merged = artifacts.path("merge")
    inputs = _inputs(report, merged)
    if inputs:
        ratios = ratios_from_weights(merged, inputs, float(report.get("t", 0.5)))
        evidence = [str(p) for p in sorted(merged.glob("*.safetensors"))] + [str(p) for p in inputs]
    else:
        ratios = {name: t["norm_ratio"] for name, t in (report.get("tensors") or {}).items()
                  if isinstance(t.get("norm_ratio"), (int, float))}
        evidence = [f"{path}: tensors.*.norm_ratio (the input models are gone)"]
    if not ratios:
        raise NotApplicable(f"{path}: no tensor norms to compare")
    worst = max(ratios, key=lambda name: abs(ratios[name] - 1))
    deviation = abs(ratios[worst] - 1)
    return judged(deviation <= params.tolerance, round(deviation, 6), params.tolerance, evidence,
                  f"largest deviation at {worst} (ratio {ratios[worst]:.4f}) over {len(ratios)} tensors")
