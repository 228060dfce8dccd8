"""What every benchmark is: tasks loaded from checksummed offline data, and a test program per sample."""

from __future__ import annotations

import ast
import builtins
import gzip
import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from codeladder.errors import LadderError

DATA_DIR = Path(str(resources.files("codeladder.benchmarks") / "data"))


@dataclass(frozen=True)
class Task:
    """One problem. ``prompt`` is what a base model continues; ``instruction`` what a chat model is asked."""

    task_id: str
    prompt: str
    instruction: str
    entry_point: str
    reference: str  # a full program that solves the task
    tests: tuple[str, ...] = ()  # human-readable test assertions a prompt may show (MBPP)
    style: str = "function"  # "function": continue a signature; "description": write code from text
    data: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class TestProgram:
    """What runs a sample: ``code`` in the untrusted candidate process; ``checker`` (tests, expected
    outputs) only in the trusted checker. Without ``checker``, ``code`` is the whole test program and
    runs in one process (the in-process fallback)."""

    __test__ = False  # not a pytest test class
    code: str
    payload: str | None = None
    checker: dict | None = None
    timeout_s: float | None = None  # a wall-clock limit this program needs beyond the benchmark's default
    loopback: bool = False  # the tests serve and connect on 127.0.0.1 (a private network namespace per sample)


class Benchmark:
    """Subclasses set the class attributes and implement ``_rows_to_tasks`` and ``test_program``."""

    name: ClassVar[str]
    data_file: ClassVar[str]
    sha256: ClassVar[str]  # of the file as stored
    default_timeout_s: ClassVar[float] = 5.0
    default_memory_mb: ClassVar[int] = 2048
    source: ClassVar[str] = ""
    sanity_expectation: ClassVar[str] = "expect 100%"
    modes: ClassVar[tuple[str, ...]] = ()  # prompt modes a benchmark offers (--bcb-mode), the first the default
    mode: str | None = None
    has_base_tests: ClassVar[bool] = False  # results also say whether the original (base) tests passed
    split: ClassVar[str] = "test"  # "train": tasks to learn from (``ladder data pairs`` refuses "test" runs)
    versions: ClassVar[tuple[str, ...]] = ()  # data versions offered (--data-version), the first the default
    data_version: str | None = None
    environment: ClassVar[str | None] = None  # the evaluation environment its tests need (``ladder env create``)
    completion_stops: ClassVar[tuple[str, ...] | None] = None  # its own stop sequences (None: the usual ones)
    completion_only: ClassVar[bool] = False  # its prompts are raw text (fill-in-the-middle): never a chat template
    bundled: ClassVar[bool] = True  # its data ships in the package (False: the user's own files, e.g. LiveCodeBench)

    def use_version(self, version: str) -> None:
        """Load the data of another version (one of ``versions``)."""
        raise LadderError(f"--data-version {version}: {self.name} has one data version")

    def data_path(self) -> Path:
        return DATA_DIR / self.data_file

    def read_rows(self) -> list[dict]:
        path = self.data_path()
        if not path.exists():
            raise LadderError(f"{path}: benchmark data missing; reinstall codeladder (pip install -e .)")
        blob = path.read_bytes()
        digest = hashlib.sha256(blob).hexdigest()
        if digest != self.sha256:
            raise LadderError(f"{path}: sha256 {digest[:12]}… differs from the expected {self.sha256[:12]}…; "
                              "the data file is corrupt or was edited, reinstall codeladder")
        text = gzip.decompress(blob).decode() if path.suffix == ".gz" else blob.decode()
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def load(self) -> list[Task]:
        return self._rows_to_tasks(self.read_rows())

    def _rows_to_tasks(self, rows: list[dict]) -> list[Task]:
        raise NotImplementedError

    def prepare(self, workers: int | None = None, show: bool = False) -> None:
        """Work done once before samples run (EvalPlus: compute or load the expected outputs)."""

    def test_program(self, task: Task, solution: str) -> TestProgram:
        """What runs ``solution`` (the whole program, run as given, as EvalPlus runs a ``solution``) and decides
        whether it passed every test. Whoever knows the code is a body puts the prompt in front first
        (:meth:`solution_from_completion`, completion-mode extraction)."""
        raise NotImplementedError

    def solution_from_completion(self, task: Task, completion: str) -> str:
        """EvalPlus ``completion`` = text after the prompt."""
        return task.prompt + completion

    def configure(self, data: str | None = None, release: str = "v6", since: str | None = None,
                  until: str | None = None, cutoff: str | None = None) -> None:
        """Release files and a date window (LiveCodeBench); a benchmark with bundled data takes none."""
        if data or since or until or cutoff:
            raise LadderError(f"--data/--since/--until/--cutoff: {self.name} has bundled data and no dates")

    def window(self) -> dict | None:
        """The release and date window that chose the tasks (recorded in the summary), if any."""
        return None

    def task_date(self, task: Task) -> str | None:
        """The day a task was published (YYYY-MM-DD), where the benchmark dates its tasks: the summary records
        it per task so ``ladder analyze compare --cutoff`` can split a run before and after a training cutoff."""
        return None

    def use_model(self, model: str | None) -> None:
        """Read what the prompts need from the model being evaluated (infilling: its FIM tokens); refuse in one
        line a model that lacks it. Not called for the reference backend."""

    def own_prompt(self, task: Task, strategy: str) -> tuple[str, str] | None:
        """(the text a base model continues, the chat message) where the benchmark words its prompts itself
        (CRUXEval, infilling); None: the prompt strategy's."""
        return None

    def extract(self, task: Task, raw: str, chat: bool) -> tuple[str, str] | None:
        """(the solution, how it was found) where an answer is not a program to extract (a CRUXEval prediction,
        an infilled middle); None: the usual code extraction."""
        return None


def entry_point_from_assert(test: str) -> str:
    """The function an MBPP-style assertion calls first (by AST, not regex)."""
    tree = ast.parse(test.strip())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id not in {"set", "len", "sorted", "list", "tuple", "abs",
                                                              "round", "isclose", "math", "str", "int", "float"}:
                return func.id
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return node.func.id
    raise ValueError(f"no function call in assertion: {test[:80]}")


def free_names(code: str) -> set[str]:
    """Names a piece of code reads but never binds itself (nor finds among the builtins)."""
    bound, read = set(), []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name):
            (read.append(node.id) if isinstance(node.ctx, ast.Load) else bound.add(node.id))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return {name for name in read if name not in bound and not hasattr(builtins, name)}


def top_level_functions(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def import_lines(code: str) -> list[str]:
    """Top-level import statements of a piece of code, as source lines."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    lines = code.splitlines()
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    return ["\n".join(lines[n.lineno - 1:n.end_lineno]) for n in imports]
