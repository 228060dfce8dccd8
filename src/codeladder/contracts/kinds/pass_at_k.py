"""``pass_at_k``: a run's pass@k is at least a bound (read from its ``summary.json``)."""

from __future__ import annotations

from typing import Optional

from codeladder.contracts.base import Artifacts, ClaimParams, NotApplicable, Outcome, judged


class PassAtKParams(ClaimParams):
    k: int = 1
    min: float
    benchmark: Optional[str] = None


def read_pass_at_k(artifacts: Artifacts, name: str, k: int) -> tuple[float, str, dict]:
    summary, path = artifacts.json(name, "summary.json")
    value = (summary.get("pass_at_k") or {}).get(str(k))
    if value is None:
        raise NotApplicable(f"{path} has no pass@{k}")
    return float(value), path, summary


def check(params: PassAtKParams, artifacts: Artifacts) -> Outcome:
    value, path, summary = read_pass_at_k(artifacts, "run", params.k)
    if params.benchmark and summary.get("benchmark") != params.benchmark:
        return judged(False, value, params.min, [path], f"the run is on {summary.get('benchmark')}, "
                                                           f"not {params.benchmark}")
    return judged(value >= params.min, value, params.min, [f"{path}: pass_at_k.{params.k}"])
