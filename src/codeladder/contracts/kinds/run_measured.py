"""``run_measured``: a run judged at least ``min_tasks`` tasks of its benchmark in the sandbox, every sample with a
verdict (no harness ``error``), read from its ``summary.json``. It fails on a partial run, a run on another
benchmark, or a run whose samples the sandbox could not judge; whatever the pass rate, it says a number was
measured."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from codeladder.contracts.base import Artifacts, ClaimParams, Outcome, judged


class RunMeasuredParams(ClaimParams):
    min_tasks: int = Field(1, ge=1)
    benchmark: Optional[str] = None


def _problems(summary: dict, params: RunMeasuredParams) -> list[str]:
    tasks, samples = int(summary.get("num_tasks") or 0), int(summary.get("num_samples") or 0)
    n = int((summary.get("generation") or {}).get("n") or 1)
    statuses = summary.get("statuses") or {}
    problems = []
    if params.benchmark and summary.get("benchmark") != params.benchmark:
        problems.append(f"the run is on {summary.get('benchmark')}, not {params.benchmark}")
    if tasks < params.min_tasks:
        problems.append(f"{tasks} tasks judged, fewer than {params.min_tasks}")
    if samples != tasks * n or sum(statuses.values()) != samples:
        problems.append(f"{sum(statuses.values())} verdicts for {samples} samples of {tasks} tasks × n={n}")
    if statuses.get("error"):
        problems.append(f"{statuses['error']} samples ended in a harness error, not a verdict")
    return problems


def check(params: RunMeasuredParams, artifacts: Artifacts) -> Outcome:
    summary, path = artifacts.json("run", "summary.json")
    problems = _problems(summary, params)
    detail = "; ".join(problems) or (f"{summary.get('num_samples')} samples judged: "
                                      f"{', '.join(f'{k} {v}' for k, v in sorted(summary['statuses'].items()))}")
    return judged(not problems, summary.get("num_tasks"), params.min_tasks,
                  [f"{path}: num_tasks, num_samples, statuses, benchmark"], detail)
