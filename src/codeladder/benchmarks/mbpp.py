"""MBPP (Austin et al., 2021): the full set's 500-task test split (task_id 11-510), its sanitized subset, and
``mbpp-train``: the tasks outside the test split that no bundled benchmark uses (a pool to train on).

Prompts name the expected function, taken from the first test assertion by AST.
"""

from __future__ import annotations

from codeladder.benchmarks.base import Benchmark, Task, TestProgram, entry_point_from_assert, free_names, \
    top_level_functions

TEST_SPLIT = range(11, 511)


def _mbpp_prompt(text: str, tests: tuple[str, ...]) -> str:
    """A docstring-style prompt a base model can continue with code."""
    shown = "\n".join(tests)
    return f'"""\n{text}\n{shown}\n"""\n'


def split_names(task: Task, test: str) -> list[str] | None:
    """The solution's functions the tests call (to proxy), or None when the tests need something else
    the solution defines (Mbpp/367 builds ``Node`` objects of the solution's class): no split."""
    wanted = free_names(test) | {task.entry_point}
    functions = top_level_functions(task.reference) | {task.entry_point}
    return sorted(wanted) if wanted <= functions else None


class Mbpp(Benchmark):
    name = "mbpp"
    data_file = "mbpp.jsonl"
    sha256 = "ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f"
    default_timeout_s = 10.0  # task 123 alone needs ~3 s
    source = "google-research MBPP (CC-BY-4.0)"

    def _row_fields(self, row: dict) -> tuple[str, str, list[str], str]:
        setup = row.get("test_setup_code", "").replace("\r\n", "\n")
        return row["text"], row["code"].replace("\r\n", "\n"), row["test_list"], setup

    def _rows_to_tasks(self, rows: list[dict]) -> list[Task]:
        tasks = []
        for row in rows:
            if not self._in_split(int(row["task_id"])):
                continue
            text, code, tests, setup = self._row_fields(row)
            entry = entry_point_from_assert(tests[0])
            tasks.append(Task(
                task_id=f"{self.task_prefix}/{row['task_id']}", prompt=_mbpp_prompt(text, tuple(tests)),
                instruction=text, entry_point=entry, reference=code, tests=tuple(tests), style="description",
                data={"setup": setup}))
        return tasks

    task_prefix = "Mbpp"

    def _in_split(self, task_id: int) -> bool:
        return task_id in TEST_SPLIT

    def test_program(self, task: Task, solution: str) -> TestProgram:
        """The assertions run in the trusted checker against proxies of the functions they call; a task
        whose tests use a class (or other non-function name) of the solution runs in one process."""
        test = "\n".join([task.data["setup"], *task.tests, ""])
        proxies = split_names(task, test)
        if proxies is None:
            return TestProgram(solution, checker={"kind": "in-process", "test": test})
        return TestProgram(solution, checker={"kind": "script", "prelude": "", "proxies": proxies, "test": test})


class MbppSanitized(Mbpp):
    name = "mbpp-sanitized"
    data_file = "mbpp_sanitized.jsonl"
    sha256 = "502db01bcc1e911d691d5212bd3d9c60ee52bbc2bd29457a520ace424bb2709d"
    task_prefix = "MbppSanitized"

    def _row_fields(self, row: dict) -> tuple[str, str, list[str], str]:
        return row["prompt"], row["code"], row["test_list"], "\n".join(row["test_imports"])


class MbppTrain(Mbpp):
    """MBPP's prompt, validation and train splits (task_id 1-10, 511-974) less the 154 tasks MBPP+ took into
    its benchmark: problems to mine preference pairs or fine-tune on, never a score to report."""

    name = "mbpp-train"
    split = "train"
    sanity_expectation = "expect 319/320: the reference of Mbpp/533 fails its own tests"

    def _in_split(self, task_id: int) -> bool:
        if task_id in TEST_SPLIT:
            return False
        if not hasattr(self, "_taken"):
            from codeladder.benchmarks.evalplus import MbppPlus

            self._taken = {int(str(row["task_id"]).rsplit("/", 1)[-1]) for row in MbppPlus().read_rows()}
        return task_id not in self._taken
