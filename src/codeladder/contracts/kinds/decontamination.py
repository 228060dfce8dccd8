"""``decontamination``: the share of a training file's rows that ``ladder data decontaminate`` flagged is at
most a bound (its ``-o REPORT.json``), or a preference-pair file's metadata does not mark it contaminated."""

from __future__ import annotations

from codeladder.contracts.base import Artifacts, ClaimParams, NotApplicable, Outcome, judged


class DecontaminationParams(ClaimParams):
    max_share: float = 0.0


def check(params: DecontaminationParams, artifacts: Artifacts) -> Outcome:
    if "pairs_meta" in artifacts.named:
        meta, path = artifacts.json("pairs_meta")
        marked = bool(meta.get("contaminated"))
        return judged(not marked, marked, False, [f"{path}: contaminated"],
                      f"pairs mined from {meta.get('benchmark')} ({meta.get('split')} split)")
    report, path = artifacts.json("report")
    rows = report.get("rows")
    if not isinstance(rows, list) or not rows:
        raise NotApplicable(f"{path} is not a decontamination report (no rows)")
    flagged = sum(bool(r.get("contaminated")) for r in rows)
    share = flagged / len(rows)
    return judged(share <= params.max_share, round(share, 6), params.max_share, [f"{path}: rows[*].contaminated"],
                  f"{flagged} of {len(rows)} rows match a benchmark")
