"""Benchmark registry: a new benchmark is one module plus one line here.

Entries name their class as ``"module:Class"``, imported on first use: a sandbox checker imports
:mod:`codeladder.benchmarks.differential` and a HumanEval run imports HumanEval, neither BigCodeBench's
runner nor the rest (about 0.1 s of CPU per process)."""

from __future__ import annotations

from codeladder.benchmarks.base import Benchmark, Task, TestProgram
from codeladder.errors import LadderError
from codeladder.registry import new_registry

BENCHMARKS = new_registry("benchmark")
_HERE = "codeladder.benchmarks"
BENCHMARKS.add("humaneval", "164 hand-written Python functions with unit tests (OpenAI)",
               f"{_HERE}.humaneval:HumanEval", reference="https://arxiv.org/abs/2107.03374")
BENCHMARKS.add("humaneval-plus", "HumanEval with 80x more tests, differential against the reference (EvalPlus)",
               f"{_HERE}.evalplus:HumanEvalPlus", reference="https://arxiv.org/abs/2305.01210")
BENCHMARKS.add("mbpp", "500 crowd-sourced Python problems, the test split (Google)",
               f"{_HERE}.mbpp:Mbpp", reference="https://arxiv.org/abs/2108.07732")
BENCHMARKS.add("mbpp-sanitized", "the 257 hand-verified MBPP test-split problems",
               f"{_HERE}.mbpp:MbppSanitized", reference="https://arxiv.org/abs/2108.07732")
BENCHMARKS.add("mbpp-train", "320 MBPP problems outside the test split and MBPP+: to train on, not to score",
               f"{_HERE}.mbpp:MbppTrain", reference="https://arxiv.org/abs/2108.07732")
BENCHMARKS.add("mbpp-plus", "378 MBPP problems with 35x more tests (EvalPlus)",
               f"{_HERE}.evalplus:MbppPlus", reference="https://arxiv.org/abs/2305.01210")
BENCHMARKS.add("bigcodebench", "1140 library-heavy tasks with unittest suites",
               f"{_HERE}.bigcodebench:BigCodeBench", reference="https://arxiv.org/abs/2406.15877")
BENCHMARKS.add("bigcodebench-hard", "the 148 hardest BigCodeBench tasks",
               f"{_HERE}.bigcodebench:BigCodeBenchHard", reference="https://arxiv.org/abs/2406.15877")


def get_benchmark(name: str, mode: str | None = None, version: str | None = None) -> Benchmark:
    bench = BENCHMARKS.get(name, "benchmark").create()
    if version is not None:
        bench.use_version(version)
    if mode is not None and bench.modes:
        if mode not in bench.modes:
            raise LadderError(f"--bcb-mode {mode!r}: {bench.name} takes one of {', '.join(bench.modes)}")
        bench.mode = mode
    return bench


__all__ = ["Benchmark", "Task", "TestProgram", "BENCHMARKS", "get_benchmark"]
