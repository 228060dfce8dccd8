"""``pass_at_k``: a run's pass@k is at least a bound (read from its ``summary.json``)."""

from __future__ import annotations

from typing import Optional

from pydantic import field_validator

from codeladder.contracts.base import Artifacts, ClaimParams, NotApplicable, Outcome, judged


class PassAtKParams(ClaimParams):
    k: int = 1
    min: float
    benchmark: Optional[str] = None

    @field_validator("min")
    @classmethod
    def _can_fail(cls, value: float) -> float:
        if not 0 < value <= 1:
            raise ValueError("a pass@k bound must be in (0, 1]: a bound of 0 cannot fail (to claim that a run was "
                             "measured, use kind run_measured)")
        return value


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
