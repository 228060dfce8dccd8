"""Benchmark registry: a new benchmark is one module plus one line here.

Entries name their class as ``"module:Class"``, imported on first use: a sandbox checker imports
:mod:`codeladder.benchmarks.differential` and a HumanEval run imports HumanEval, neither BigCodeBench's
runner nor the rest (about 0.1 s of CPU per process)."""

from __future__ import annotations

from codeladder.benchmarks.base import Benchmark, Task, TestProgram
from codeladder.errors import LadderError
from codeladder.registry import new_registry

BENCHMARKS = new_registry("benchmark")
_CHEN, _AUSTIN, _EVALPLUS, _BCB = ("https://arxiv.org/abs/2107.03374", "https://arxiv.org/abs/2108.07732",
                                   "https://arxiv.org/abs/2305.01210", "https://arxiv.org/abs/2406.15877")
_CRUX, _FIM, _LCB = ("https://arxiv.org/abs/2401.03065", "https://arxiv.org/abs/2207.14255",
                     "https://arxiv.org/abs/2403.07974")
for _name, _summary, _factory, _paper in (
    ("humaneval", "164 hand-written Python functions with unit tests (OpenAI)", "humaneval:HumanEval", _CHEN),
    ("humaneval-plus", "HumanEval with 80x more tests, differential against the reference (EvalPlus)",
     "evalplus:HumanEvalPlus", _EVALPLUS),
    ("mbpp", "500 crowd-sourced Python problems, the test split (Google)", "mbpp:Mbpp", _AUSTIN),
    ("mbpp-sanitized", "the 257 hand-verified MBPP test-split problems", "mbpp:MbppSanitized", _AUSTIN),
    ("mbpp-train", "320 MBPP problems outside the test split and MBPP+: to train on, not to score",
     "mbpp:MbppTrain", _AUSTIN),
    ("mbpp-plus", "378 MBPP problems with 35x more tests (EvalPlus)", "evalplus:MbppPlus", _EVALPLUS),
    ("bigcodebench", "1140 library-heavy tasks with unittest suites", "bigcodebench:BigCodeBench", _BCB),
    ("bigcodebench-hard", "the 148 hardest BigCodeBench tasks", "bigcodebench:BigCodeBenchHard", _BCB),
    ("cruxeval-o", "800 Python functions: predict the output for an input (CRUXEval-O)", "cruxeval:CruxEvalOutput",
     _CRUX),
    ("cruxeval-i", "800 Python functions: predict an input that gives the output (CRUXEval-I)",
     "cruxeval:CruxEvalInput", _CRUX),
    ("humaneval-infill-single", "HumanEval fill-in-the-middle: 1033 single missing lines",
     "humaneval_infill:SingleLine", _FIM),
    ("humaneval-infill-multi", "HumanEval fill-in-the-middle: 5815 runs of missing lines",
     "humaneval_infill:MultiLine", _FIM),
    ("humaneval-infill-span", "HumanEval fill-in-the-middle: 1640 random character spans",
     "humaneval_infill:RandomSpan", _FIM),
    ("humaneval-infill-span-light", "HumanEval fill-in-the-middle: 164 random character spans, one a problem",
     "humaneval_infill:RandomSpanLight", _FIM),
    ("livecodebench", "contest problems by release date, from your copy of the release files (--data DIR)",
     "livecodebench:LiveCodeBench", _LCB),
):
    BENCHMARKS.add(_name, _summary, f"codeladder.benchmarks.{_factory}", reference=_paper)


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
