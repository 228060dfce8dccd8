"""``sign_conflicts``: TIES sign election leaves fewer sign conflicts than a naive sum of the task vectors
(the merge's ``report.json`` summary: ``sign_conflicts_after`` vs ``sign_conflicts_before``)."""

from __future__ import annotations

from codeladder.contracts.base import Artifacts, ClaimParams, NotApplicable, Outcome, judged


class SignConflictsParams(ClaimParams):
    max_share_of_naive: float = 0.5


def check(params: SignConflictsParams, artifacts: Artifacts) -> Outcome:
    report, path = artifacts.json("merge", "report.json")
    summary = report.get("summary") or {}
    if "sign_conflicts_after" not in summary or "sign_conflicts_before" not in summary:
        raise NotApplicable(f"{path}: a {report.get('method')} merge records no sign conflicts (ties/dare_ties do)")
    before, after = float(summary["sign_conflicts_before"]), float(summary["sign_conflicts_after"])
    bound = params.max_share_of_naive * before
    return judged(after <= bound and after < before or before == after == 0, after, round(bound, 6),
                  [f"{path}: summary.sign_conflicts_before, summary.sign_conflicts_after"],
                  f"naive sum {before:.4f}, after election {after:.4f}")
