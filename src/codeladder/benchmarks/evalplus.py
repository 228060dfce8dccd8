"""HumanEval+ (v0.1.10) and MBPP+ (v0.2.0) from EvalPlus: base and extra inputs, judged by differential testing.

A sample passes only when it matches the canonical solution's output on every base *and* plus
input (EvalPlus's "base + extra"). The expected outputs are computed once per dataset version
(:mod:`codeladder.benchmarks.expected`); the trusted checker calls the sample input by input
(:func:`codeladder.benchmarks.differential.check_task`) and reports which phase failed, so
``base_passed`` is structured data, not a search in the error text.
"""

from __future__ import annotations

import os

from codeladder.benchmarks import differential, expected
from codeladder.benchmarks.base import Benchmark, Task, TestProgram

RUNNER = "codeladder.benchmarks.differential:check_task"


def _total_limit(outputs: dict) -> float:
    """EvalPlus bounds each input, not the sample: allow the sum of the per-input limits (plus start-up)."""
    limits = [differential.input_limit(entry) for entries in outputs.values() for entry in entries]
    return round(sum(limits) + 5.0, 1)


class _EvalPlus(Benchmark):
    dataset: str
    # A sample's output of one input may be large (the reference's on Mbpp/255 is over 1 GB).
    default_memory_mb = 4096
    has_base_tests = True
    _outputs: dict[str, dict] | None = None

    def spec(self, task: Task) -> dict:
        return {"dataset": self.dataset, "task_id": task.task_id, "entry_point": task.entry_point,
                "atol": task.data["atol"], "base": task.data["base_input"], "plus": task.data["plus_input"]}

    def expected_outputs(self, workers: int | None = None, show: bool = True) -> dict[str, dict]:
        """Every task's expected outputs: from the cache, or computed now (once per dataset version)."""
        if self._outputs is None:
            self._outputs = expected.load(self.sha256)
        if self._outputs is None:
            tasks = self.load()
            self._outputs = expected.build(self.sha256, {t.task_id: self.spec(t) for t in tasks},
                                           {t.task_id: self._reference_code(t) for t in tasks},
                                           workers or os.cpu_count(), show)
        return self._outputs

    def prepare(self, workers: int | None = None, show: bool = False) -> None:
        self.expected_outputs(workers, show)

    def _reference_code(self, task: Task) -> str:
        return task.reference

    def test_program(self, task: Task, solution: str) -> TestProgram:
        return self.program(task, solution, self.expected_outputs()[task.task_id])

    def program(self, task: Task, solution: str, outputs: dict) -> TestProgram:
        """The sample alone, as given, for the candidate; inputs, rules and expected outputs for the checker."""
        return TestProgram(solution, checker={"kind": "runner", "runner": RUNNER, **self.spec(task),
                                              "expected": outputs}, timeout_s=_total_limit(outputs))


class HumanEvalPlus(_EvalPlus):
    name = "humaneval-plus"
    dataset = "humaneval"
    data_file = "humanevalplus-v0.1.10.jsonl.gz"
    sha256 = "272720b90ac375502c8ed23cd791c2a93dfb22a911641a494da74a426c09f101"
    default_timeout_s = 60.0
    source = "EvalPlus HumanEval+ v0.1.10 (Apache-2.0)"

    def _rows_to_tasks(self, rows: list[dict]) -> list[Task]:
        return [
            Task(task_id=r["task_id"], prompt=r["prompt"], instruction=r["prompt"], entry_point=r["entry_point"],
                 reference=r["prompt"] + r["canonical_solution"],
                 data={k: r[k] for k in ("atol", "base_input", "plus_input")})
            for r in rows
        ]


class MbppPlus(_EvalPlus):
    name = "mbpp-plus"
    dataset = "mbpp"
    data_file = "mbppplus-v0.2.0.jsonl.gz"
    sha256 = "af43697e8791c4c149bdfd6b489d8b5412507551ac20e28a439f650b8225db63"
    default_timeout_s = 60.0
    source = "EvalPlus MBPP+ v0.2.0 (Apache-2.0; MBPP CC-BY-4.0)"

    def _rows_to_tasks(self, rows: list[dict]) -> list[Task]:
        tasks = []
        for r in rows:
            text = r["prompt"].strip().strip('"').strip()
            description, _, example = text.partition("\nassert ")
            tests = (f"assert {example.strip()}",) if example else ()
            tasks.append(Task(
                task_id=r["task_id"], prompt=r["prompt"], instruction=description.strip(),
                entry_point=r["entry_point"], reference=r["canonical_solution"], tests=tests, style="description",
                data={k: r[k] for k in ("atol", "base_input", "plus_input")}))
        return tasks
