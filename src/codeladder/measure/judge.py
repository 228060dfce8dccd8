"""Judging code in the sandbox: the one path ``ladder eval`` (every sample) and ``ladder distill`` (the teacher's
answers whose prompts have tests) take. A benchmark's limits and evaluation environment are settled once, each
program becomes a sandbox job with the longer of the run's and the task's timeout, and verdicts stream back as
workers finish them."""

from __future__ import annotations

import os
from collections.abc import Iterator

from codeladder.envs import resolve as resolve_environment
from codeladder.envs.executors import RayExecutor
from codeladder.progress import progress_bar
from codeladder.sandbox import Job, Limits, SandboxPool, Verdict


def judging_setup(bench, timeout: float | None, memory_mb: int | None, env: str | None, workers: int | None,
                  show: bool) -> tuple[Limits, object | None]:
    """(the sandbox limits, the evaluation environment or None): the run's settings, else the benchmark's
    defaults (the sandbox's own without a benchmark); the benchmark prepared (e.g. EvalPlus's expected
    outputs) and its environment resolved (BigCodeBench's libraries)."""
    if bench is None:
        return Limits(timeout_s=timeout or Limits.timeout_s, memory_mb=memory_mb or Limits.memory_mb), None
    limits = Limits(timeout_s=timeout or bench.default_timeout_s, memory_mb=memory_mb or bench.default_memory_mb)
    environment = resolve_environment(bench.environment, env)
    bench.prepare(workers or os.cpu_count() or 1, show)
    return limits, environment


def sandbox_pool(limits: Limits, workers: int | None, python: str | None = None, isolate: bool = True,
                 executor: str = "local", ray_address: str | None = None) -> SandboxPool | RayExecutor:
    """Where jobs run: the local fork-server pool, or a Ray cluster (``executor="ray"``); enter it to start."""
    if executor == "local":
        return SandboxPool(workers=workers or os.cpu_count() or 1, limits=limits, isolate=isolate, python=python)
    return RayExecutor(ray_address or os.environ.get("RAY_ADDRESS"), workers, limits, isolate, python)


def sandbox_job(key: str, program, limits: Limits) -> Job:
    """A test program (``Benchmark.test_program``'s) as a job; a task's own timeout, when longer, wins."""
    timeout = max(limits.timeout_s, program.timeout_s) if program.timeout_s else None
    return Job(key, program.code, program.payload, timeout, checker=program.checker, loopback=program.loopback)


def judged(pool, jobs: list[Job], show: bool, label: str = "executing") -> Iterator[Verdict]:
    """The verdicts of ``jobs`` on an entered pool (local or Ray), in the order they finish."""
    with progress_bar(label, len(jobs), show) as advance:
        for verdict in pool.run(jobs):
            yield verdict
            advance(1)


__all__ = ["judging_setup", "sandbox_pool", "sandbox_job", "judged"]
