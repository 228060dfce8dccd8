"""BigCodeBench v0.1.0 (full, 1140 tasks; hard, 148): library-heavy tasks with unittest suites.

Modes: ``complete`` (the model continues ``complete_prompt``; the solution is ``code_prompt`` +
completion) and ``instruct`` (the model writes the whole solution from ``instruct_prompt``).
A test that needs a library this environment lacks is reported as ``error``, never as a fail.
"""

from __future__ import annotations

from codeladder.benchmarks.base import Benchmark, Task, TestProgram

_RUNNER = '''
import sys as _sys, unittest as _unittest
_suite = _unittest.TestLoader().loadTestsFromTestCase(TestCases)
_result = _unittest.TextTestRunner(stream=_sys.stderr, verbosity=1).run(_suite)
for _case, _trace in _result.errors:
    if "ModuleNotFoundError" in _trace:
        _name = _trace.rsplit("No module named ", 1)[-1].split()[0].strip("'\\"")
        raise ModuleNotFoundError(f"No module named {_name!r}", name=_name)
if not _result.wasSuccessful():
    raise AssertionError(f"{len(_result.failures)} failures, {len(_result.errors)} errors in {_result.testsRun} tests")
'''


class BigCodeBench(Benchmark):
    name = "bigcodebench"
    data_file = "bigcodebench-v0.1.0.jsonl.gz"
    sha256 = "58142744edaf6036387f8761701f1b353432b0ed33f2edec1de8a59e7431ef7a"
    default_timeout_s = 60.0
    default_memory_mb = 4096
    source = "BigCodeBench v0.1.0 (Apache-2.0)"
    sanity_expectation = ("expect 100% only of the tasks whose libraries are installed here; the rest are reported "
                          "as status 'error' (missing module), not as failures")
    modes = ("complete", "instruct")
    mode = "complete"

    def _rows_to_tasks(self, rows: list[dict]) -> list[Task]:
        return [
            Task(task_id=r["task_id"], prompt=r["complete_prompt"], instruction=r["instruct_prompt"],
                 entry_point=r["entry_point"], reference=r["code_prompt"] + r["canonical_solution"],
                 style="function" if self.mode == "complete" else "description",
                 data={"test": r["test"], "code_prompt": r["code_prompt"], "libs": r["libs"]})
            for r in rows
        ]

    def solution_from_completion(self, task: Task, completion: str) -> str:
        return task.data["code_prompt"] + completion if self.mode == "complete" else completion

    def test_program(self, task: Task, solution: str) -> TestProgram:
        return TestProgram(f"{solution}\n\n{task.data['test']}\n{_RUNNER}")


class BigCodeBenchHard(BigCodeBench):
    name = "bigcodebench-hard"
    data_file = "bigcodebench-hard-v0.1.0.jsonl.gz"
    sha256 = "146fcfe20136eac0cf1d32938522b987ca84fc7adfcef55065b9d5ab44166b64"
