"""HumanEval+ (v0.1.10) and MBPP+ (v0.2.0) from EvalPlus: base and extra inputs, judged by differential testing.

A sample passes only when it matches the canonical solution on every base *and* plus input
(EvalPlus's "base + extra"); a failure detail that starts with ``[plus input`` means the base
inputs passed.
"""

from __future__ import annotations

import json
from pathlib import Path

from codeladder.benchmarks import differential
from codeladder.benchmarks.base import Benchmark, Task, TestProgram

_CHECKER = Path(differential.__file__).read_text()


class _EvalPlus(Benchmark):
    dataset: str
    # The reference's and the sample's outputs of one input coexist (Mbpp/255's are 1.1 GB each).
    default_memory_mb = 4096
    has_base_tests = True

    def test_program(self, task: Task, solution: str) -> TestProgram:
        if self.dataset == "humaneval":
            solution = self.with_prompt_context(task, solution)
        call = f"__ladder_differential__({task.reference!r}, {solution!r}, __ladder_payload__)\n"
        payload = {"dataset": self.dataset, "task_id": task.task_id, "entry_point": task.entry_point,
                   "atol": task.data["atol"], "base": task.data["base_input"], "plus": task.data["plus_input"]}
        return TestProgram(_CHECKER + "\n\n" + call, json.dumps(payload))


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
