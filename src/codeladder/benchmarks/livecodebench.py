"""LiveCodeBench code generation (Jain et al., 2024) from the user's own copy of the ``code_generation_lite`` release
files; nothing is bundled or downloaded.

``--release vN`` reads ``testN.jsonl`` (``test.jsonl`` for v1); ``release_vN`` is upstream's cumulative set
(``test.jsonl`` … ``testN.jsonl``). ``--since``/``--until`` keep problems by ``contest_date`` (inclusive); a cutoff
keeps only problems published after it (what the model cannot have seen). Hidden tests are stored as base64 of zlib
of a pickle of a JSON string: they are unpickled by an unpickler that loads no class or function at all, so only
plain strings come out; anything else is refused in one line. Judging follows the official harness
(``lcb_runner/evaluation/testing_util.py``): stdin/stdout programs compare stripped output line by line, a line that
differs still passes when its whitespace-separated fields are equal as decimals; functional problems call
``Solution().<func_name>`` on the JSON arguments (one per line) and compare with ``==`` (a tuple counts as a list);
each test has its own time limit (upstream: 6 s) and the first failure ends the sample. The candidate runs the
program and returns what it printed or returned as plain data; the expected outputs stay in the trusted checker.
Hand-written: upstream's harness runs samples in its own process and its data loader unpickles without limits.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import pickle
import zlib
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from codeladder.benchmarks.base import Benchmark, Task, TestProgram
from codeladder.errors import LadderError

RUNNER = "codeladder.benchmarks.livecodebench:check"
TEST_LIMIT_S = 6.0
_IMPORTS = ("from typing import *\nfrom collections import *\nfrom functools import *\nfrom itertools import *\n"
            "from heapq import *\nfrom bisect import *\nimport math, heapq, bisect, itertools, functools, collections, "
            "string, re, sys\n")  # upstream puts a list like this before every program
_STDIN_DRIVER = '''
def __ladder_stdin__(text):
    import io, sys
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    saved = sys.stdin, sys.stdout
    sys.stdin, sys.stdout = io.TextIOWrapper(io.BytesIO(text.encode()), encoding="utf-8"), out
    try:
        exec(__ladder_program__, {"__name__": "__main__", "__builtins__": __builtins__})
    except SystemExit:
        pass
    finally:
        sys.stdin, sys.stdout = saved
        out.flush()
    return out.buffer.getvalue().decode("utf-8", "replace")
'''
_FUNCTIONAL_DRIVER = '''
def __ladder_call__(*args):
    return getattr(Solution(), {name!r})(*args)
'''
_SYSTEM = ("You are an expert Python programmer. You will be given a question (problem specification) and will "
           "generate a correct Python program that matches the specification and passes all tests.")
_STDIN_FORMAT = ("Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on "
                 "the sample inputs). Enclose your code within delimiters as follows. Ensure that when the python "
                 "program runs, it reads the inputs, runs the algorithm and writes output to STDOUT.\n```python\n"
                 "# YOUR CODE HERE\n```")
_STARTER_FORMAT = ("You will use the following starter code to write the solution to the problem and enclose your "
                   "code within delimiters.\n```python\n{starter}\n```")


class _NoGlobals(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"it names {module}.{name}")


def hidden_tests(text: str, where: str) -> list[dict]:
    """``private_test_cases``: JSON, or base64(zlib(pickle(JSON string))) unpickled with no globals allowed."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        blob = zlib.decompress(base64.b64decode(text))
        value = _NoGlobals(io.BytesIO(blob)).load()
    except (ValueError, zlib.error, pickle.UnpicklingError, EOFError) as exc:
        raise LadderError(f"{where}: private_test_cases holds an unsafe or broken pickle ({exc}); only plain strings "
                          "are accepted: use the official release files") from None
    if not isinstance(value, str):
        raise LadderError(f"{where}: private_test_cases unpickles to {type(value).__name__}, not a plain string; "
                          "use the official release files")
    return json.loads(value)


def release_files(release: str) -> list[str]:
    cumulative = release.startswith("release_")
    number = release.removeprefix("release_").removeprefix("v")
    if not number.isdigit() or not 1 <= int(number) <= 99:
        raise LadderError(f"--release {release}: give vN (that release's file) or release_vN (v1 … vN together)")
    name = lambda n: "test.jsonl" if n == 1 else f"test{n}.jsonl"  # noqa: E731
    return [name(n) for n in range(1, int(number) + 1)] if cumulative else [name(int(number))]


def _day(value: str | date | None, flag: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise LadderError(f"{flag} {value}: give a date as YYYY-MM-DD") from None


class LiveCodeBench(Benchmark):
    name = "livecodebench"
    data_file = ""
    sha256 = ""
    source = "LiveCodeBench code_generation_lite (the user's release files)"
    sanity_expectation = "LiveCodeBench ships no reference solutions: score samples or a model"
    default_timeout_s = 60.0  # the sample's wall clock; each test has TEST_LIMIT_S
    split = "test"
    bundled = False  # the user's release files: nothing to decontaminate against unless given

    def __init__(self, data: str | None = None, release: str = "v6", since: str | date | None = None,
                 until: str | date | None = None, cutoff: str | date | None = None) -> None:
        self.configure(data, release, since, until, cutoff)

    def configure(self, data: str | None = None, release: str = "v6", since: str | date | None = None,
                  until: str | date | None = None, cutoff: str | date | None = None) -> None:
        release_files(release)  # a bad --release is refused before anything is read
        self.data, self.release = data, release
        self.since, self.until = _day(since, "--since"), _day(until, "--until")
        self.cutoff = _day(cutoff, "--cutoff")
        self.data_version = release

    def window(self) -> dict:
        days = {"since": self.since, "until": self.until, "after": self.cutoff}
        return {"release": self.release, **{k: str(v) if v else None for k, v in days.items()}}

    def task_date(self, task: Task) -> str | None:
        return task.data["date"]

    def read_rows(self) -> list[dict]:
        if not self.data:
            raise LadderError("livecodebench: give --data DIR, a folder with the official code_generation_lite "
                              "release files (test.jsonl, test2.jsonl …); nothing is downloaded")
        rows, digest = [], hashlib.sha256()
        for name in release_files(self.release):
            path = Path(self.data) / name
            if not path.is_file():
                wanted = ", ".join(release_files(self.release))
                raise LadderError(f"{path}: missing; --release {self.release} reads {wanted}")
            content = path.read_bytes()
            digest.update(hashlib.sha256(content).digest())
            self.sha256 = digest.hexdigest()  # the user's copy of the release, so the summary names what was read
            for number, line in enumerate(content.decode("utf-8").splitlines(), 1):
                if line.strip():
                    try:
                        rows.append({**json.loads(line), "_where": f"{path}:{number}"})
                    except ValueError as exc:
                        raise LadderError(f"{path}:{number}: not JSON ({exc})") from None
        return rows

    def _keep(self, day: date) -> bool:
        return (self.since is None or day >= self.since) and (self.until is None or day <= self.until) and \
            (self.cutoff is None or day > self.cutoff)

    def _rows_to_tasks(self, rows: list[dict]) -> list[Task]:
        tasks = []
        for row in rows:
            where = row["_where"]
            try:
                day = _day(row["contest_date"], f"{where}: contest_date")
                metadata = json.loads(row.get("metadata") or "{}")
                tests = json.loads(row["public_test_cases"]) + hidden_tests(row["private_test_cases"], where)
            except KeyError as exc:
                raise LadderError(f"{where}: field {exc} missing; is this a code_generation_lite release?") from None
            if not self._keep(day):
                continue
            starter = row.get("starter_code", "")
            tasks.append(Task(task_id=str(row["question_id"]), prompt=starter, instruction=row["question_content"],
                              entry_point=metadata.get("func_name", ""), reference="", style="description",
                              data={"tests": tests, "func_name": metadata.get("func_name"), "date": str(day),
                                    "starter": starter, "title": row.get("question_title", "")}))
        return tasks

    def own_prompt(self, task: Task, strategy: str) -> tuple[str, str]:
        starter = task.data["starter"]
        fmt = _STARTER_FORMAT.format(starter=starter) if starter else _STDIN_FORMAT
        message = (f"{_SYSTEM}\n\n### Question:\n{task.instruction}\n\n### Format: {fmt}\n\n"
                   "### Answer: (use the provided format with backticks)\n")
        return f'"""\n{task.instruction}\n"""\n{starter}', message

    def test_program(self, task: Task, solution: str) -> TestProgram:
        try:
            compile(solution, "<solution>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return TestProgram(solution)  # fails to compile in the sandbox too: status syntax_error
        functional = bool(task.data["func_name"])
        if functional:
            code = _IMPORTS + solution + _FUNCTIONAL_DRIVER.format(name=task.data["func_name"])
        else:
            code = f"__ladder_program__ = compile({_IMPORTS + solution!r}, '<solution>', 'exec')\n{_STDIN_DRIVER}"
        spec = {"kind": "runner", "runner": RUNNER, "functional": functional, "limit_s": TEST_LIMIT_S,
                "tests": [{"input": t["input"], "output": t["output"]} for t in task.data["tests"]]}
        return TestProgram(code, checker=spec, timeout_s=TEST_LIMIT_S * (len(spec["tests"]) + 1))


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def stdout_matches(printed: str, expected: str) -> bool:
    """The official stdin/stdout rule: stripped lines equal, else equal as decimals field by field."""
    got, want = _lines(printed), _lines(expected)
    if len(got) != len(want):
        return False
    for a, b in zip(got, want):
        if a == b:
            continue
        try:
            if [Decimal(x) for x in a.split()] != [Decimal(x) for x in b.split()]:
                return False
        except (InvalidOperation, ValueError):
            return False
    return True


def check(session, spec: dict) -> dict:
    """Every test in order under its own limit; the first that fails ends it."""
    for index, test in enumerate(spec["tests"]):
        try:
            if spec["functional"]:
                args = [json.loads(line) for line in test["input"].split("\n")]
                value = session.call("__ladder_call__", tuple(args), limit_s=spec["limit_s"]).value
                value = list(value) if isinstance(value, tuple) else value
                same = value == json.loads(test["output"])
            else:
                value = session.call("__ladder_stdin__", (test["input"],), limit_s=spec["limit_s"]).value
                same = isinstance(value, str) and stdout_matches(value, test["output"])
        except Exception as exc:  # noqa: BLE001 - what the program raised, rebuilt as data
            return {"status": "failed", "detail": f"test {index}: runtime error {type(exc).__name__}: {str(exc)[:300]}"}
        if not same:
            return {"status": "failed", "detail": f"test {index}: wrong answer: got {repr(value)[:200]}, "
                                                  f"expected {test['output'][:200]!r}"}
    return {"status": "passed", "detail": ""}
