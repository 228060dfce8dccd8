"""``sparsity``: every pruned layer reaches the sparsity in *every row* (unstructured: at least
``int(cols x sparsity)`` zeros per output row; 2:4: at least two zeros in every group of four inputs), read from the
weights themselves, not from the report that claims it. Which layers were pruned, and the target, come from the
prune report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from codeladder.contracts.base import Artifacts, ClaimParams, NotApplicable, Outcome, judged
from codeladder.contracts.tensors import read_float, tensor_index

if TYPE_CHECKING:
    import numpy as np


class SparsityParams(ClaimParams):
    sparsity: Optional[float] = None  # default: the prune report's target
    structure: Optional[str] = None


def layer_sparsity(zeros: np.ndarray, sparsity: float, structure: str) -> tuple[float, float]:
    """(the least-pruned row's value, what each row must reach): the share of zeros in the row, against
    ``int(cols x sparsity) / cols``; for 2:4 the share of the row's groups of four with two zeros, against 1."""
    if structure == "2:4":
        groups = zeros.reshape(zeros.shape[0], -1, 4).sum(axis=-1) >= 2
        return float(groups.mean(axis=1).min()), 1.0
    cols = zeros.shape[1]
    return float(zeros.sum(axis=1).min()) / cols, int(cols * sparsity) / cols


def check(params: SparsityParams, artifacts: Artifacts) -> Outcome:
    report, report_path = artifacts.json("model", "report.json")
    if "layers" not in report or "sparsity" not in report:
        raise NotApplicable(f"{report_path} is not a prune report")
    folder = artifacts.path("model")
    sparsity = params.sparsity if params.sparsity is not None else float(report["sparsity"])
    structure = params.structure or report.get("structure", "unstructured")
    tensors = tensor_index(folder)
    missing = [f"{layer}.weight" for layer in report["layers"] if f"{layer}.weight" not in tensors]
    if missing or not report["layers"]:
        return judged(False, None, sparsity, [report_path], f"pruned layers missing from the weights: {missing[:3]}")
    results = {layer: layer_sparsity(read_float(*tensors[f"{layer}.weight"]) == 0, sparsity, structure)
               for layer in report["layers"]}
    worst = min(results, key=lambda layer: results[layer][0] - results[layer][1])
    value, bound = results[worst]
    return judged(value >= bound, round(value, 6), round(bound, 6),
                  [report_path, *(str(p) for p in sorted(folder.glob("*.safetensors")))],
                  f"{structure}, per row, {len(results)} layers; least pruned: a row of {worst}")
