"""``pass_at_k_delta``: a candidate (e.g. the quantized model) is within ``max_drop_pp`` percentage points of
a reference run (e.g. its FP16 parent) on the same benchmark."""

from __future__ import annotations

from codeladder.contracts.base import Artifacts, ClaimParams, Outcome, judged
from codeladder.contracts.kinds.pass_at_k import read_pass_at_k


class PassAtKDeltaParams(ClaimParams):
    k: int = 1
    max_drop_pp: float


def check(params: PassAtKDeltaParams, artifacts: Artifacts) -> Outcome:
    reference, ref_path, ref_summary = read_pass_at_k(artifacts, "reference", params.k)
    candidate, cand_path, cand_summary = read_pass_at_k(artifacts, "candidate", params.k)
    evidence = [f"{ref_path}: pass_at_k.{params.k}", f"{cand_path}: pass_at_k.{params.k}"]
    if ref_summary.get("benchmark") != cand_summary.get("benchmark"):
        return judged(False, None, params.max_drop_pp, evidence, "the runs are on different benchmarks: "
                      f"{ref_summary.get('benchmark')} vs {cand_summary.get('benchmark')}")
    drop = round(100 * (reference - candidate), 4)
    return judged(drop <= params.max_drop_pp, drop, params.max_drop_pp, evidence,
                  f"pass@{params.k} {reference:.4f} -> {candidate:.4f}")
