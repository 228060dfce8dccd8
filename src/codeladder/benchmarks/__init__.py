"""Benchmark registry: a new benchmark is one module plus one line here."""

from __future__ import annotations

from codeladder.benchmarks.base import Benchmark, Task, TestProgram
from codeladder.benchmarks.bigcodebench import BigCodeBench, BigCodeBenchHard
from codeladder.benchmarks.evalplus import HumanEvalPlus, MbppPlus
from codeladder.benchmarks.humaneval import HumanEval
from codeladder.benchmarks.mbpp import Mbpp, MbppSanitized
from codeladder.errors import LadderError

REGISTRY: dict[str, type[Benchmark]] = {
    "humaneval": HumanEval,
    "humaneval-plus": HumanEvalPlus,
    "mbpp": Mbpp,
    "mbpp-sanitized": MbppSanitized,
    "mbpp-plus": MbppPlus,
    "bigcodebench": BigCodeBench,
    "bigcodebench-hard": BigCodeBenchHard,
}


def get_benchmark(name: str, mode: str | None = None) -> Benchmark:
    if name not in REGISTRY:
        raise LadderError(f"unknown benchmark {name!r}; choose one of: {', '.join(REGISTRY)}")
    bench = REGISTRY[name]()
    if mode is not None and hasattr(bench, "mode"):
        if mode not in ("complete", "instruct"):
            raise LadderError(f"--bcb-mode {mode!r}: choose 'complete' or 'instruct'")
        bench.mode = mode
    return bench


__all__ = ["Benchmark", "Task", "TestProgram", "REGISTRY", "get_benchmark"]
