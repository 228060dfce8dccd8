"""``ladder distill``, the teacher's half: the prompts (a benchmark's tasks, or a JSONL of prompts with optional
tests), the teacher's answers through any backend (:func:`codeladder.backends.open_engine`, the way ``ladder
eval`` opens it), and the filter: every answer whose prompt has tests is executed in the real sandbox and kept
only when it passes.

Generating and judging are :mod:`codeladder.measure`'s (``generate``: the chunked loop and extraction ``ladder eval``
uses; ``judge``: limits, environment, sandbox jobs and pool); written here is only the wiring, the tests of a
JSONL prompt and the reasons each dropped answer gets. A benchmark's task
is tested exactly as ``ladder eval`` tests it; a JSONL prompt's ``tests`` (assert statements) run in the
trusted checker against proxies of the functions they call, or in one process when they need more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from codeladder.backends import GenerationParams, Prompt, open_engine
from codeladder.errors import LadderError
from codeladder.measure.generate import answer_code, in_chunks
from codeladder.measure.judge import judged, judging_setup, sandbox_job, sandbox_pool

UNTESTED = "untested"  # an answer to a prompt without tests: kept, and counted apart
JSONL_TIMEOUT_S = 5.0  # a JSONL prompt's tests, per answer, unless --timeout says otherwise


@dataclass
class Item:
    """One prompt: what is sent, and how an answer to it is tested (``task``: a benchmark's; ``tests``: a JSONL
    row's assert statements; neither: untested)."""

    id: str
    prompt: Prompt
    entry_point: str = ""
    task: object = None
    tests: str = ""
    function_prompt: str = ""  # the code a function-style task's answer continues (extraction puts it in front)

    @property
    def tested(self) -> bool:
        return self.task is not None or bool(self.tests)


@dataclass
class Prompts:
    source: str  # the benchmark's name, or the JSONL path
    items: list[Item]
    bench: object = None
    contaminated: bool = False
    notes: list[str] = field(default_factory=list)


def load_prompts(source: str, strategy: str, limit: int | None, allow_test_split: bool) -> Prompts:
    """A benchmark name (see ``ladder ls benchmark``) or a JSONL path; one line for anything wrong."""
    from codeladder.registry import registry

    if source in registry("benchmark") and not Path(source).is_file():
        return _benchmark_prompts(source, strategy, limit, allow_test_split)
    if not Path(source).is_file():
        names = ", ".join(registry("benchmark").names())
        raise LadderError(f"--prompts {source}: neither a JSONL file nor a benchmark ({names})")
    items = _jsonl_prompts(Path(source))
    return Prompts(str(source), items[:limit] if limit else items)


def _benchmark_prompts(name: str, strategy_name: str, limit: int | None, allow_test_split: bool) -> Prompts:
    from codeladder.benchmarks import get_benchmark
    from codeladder.prompts import single_turn_strategy

    bench = get_benchmark(name)
    contaminated = bench.split == "test"
    if contaminated and not allow_test_split:
        raise LadderError(f"--prompts {name}: a benchmark's test split; distilling on it trains the student on the "
                          "problems it is scored on. Use a training pool (mbpp-train) or your own prompts, or pass "
                          "--allow-test-split (the output is then marked contaminated)")
    strategy = single_turn_strategy(strategy_name)
    tasks = bench.load()[:limit] if limit else bench.load()
    items = [Item(t.task_id, strategy.build(t), t.entry_point, task=t,
                  function_prompt=t.prompt if t.style == "function" else "") for t in tasks]
    notes = [f"{name} is a test split: the distilled student is contaminated for it"] if contaminated else []
    return Prompts(name, items, bench, contaminated, notes)


def _jsonl_prompts(path: Path) -> list[Item]:
    """Rows ``{"prompt": str}`` or ``{"messages": [...]}``, optional ``"tests"`` (a string or a list of assert
    strings), ``"id"`` and ``"entry_point"``."""
    from codeladder.benchmarks.base import entry_point_from_assert
    from codeladder.prompts.messages import prompt_of
    from codeladder.runs import read_input_jsonl

    items, seen = [], set()
    for number, row in read_input_jsonl(path, "--prompts"):
        where = f"{path}:{number}"
        prompt = prompt_of(row, where)
        tests = row.get("tests", "")
        if isinstance(tests, list) and all(isinstance(t, str) for t in tests):
            tests = "\n".join(tests)
        if not isinstance(tests, str):
            raise LadderError(f"{where}: 'tests' must be a string or a list of strings (assert statements)")
        entry = row.get("entry_point") or ""
        if tests.strip() and not entry:
            try:
                entry = entry_point_from_assert(tests)
            except (ValueError, SyntaxError):
                raise LadderError(f"{where}: 'tests' must be Python that calls the function under test "
                                  "(e.g. assert add(1, 2) == 3)") from None
        key = str(row.get("id", f"line-{number}"))
        if key in seen:
            raise LadderError(f"{where}: id {key!r} repeats an earlier row's")
        seen.add(key)
        items.append(Item(key, prompt, str(entry), tests=tests if tests.strip() else ""))
    if not items:
        raise LadderError(f"--prompts {path}: holds no prompts")
    return items


def _test_program(item: Item, bench, code: str):
    """What runs an answer: the benchmark's own program, or the row's asserts against the answer's functions."""
    from codeladder.benchmarks.base import TestProgram, free_names, top_level_functions

    if item.task is not None:
        return bench.test_program(item.task, code)
    wanted = free_names(item.tests)
    if wanted and wanted <= top_level_functions(code):
        return TestProgram(code, checker={"kind": "script", "prelude": "", "proxies": sorted(wanted),
                                          "test": item.tests + "\n"})
    return TestProgram(code, checker={"kind": "in-process", "test": item.tests + "\n"})


@dataclass(frozen=True)
class Generation:
    n: int
    temperature: float
    max_new_tokens: int
    seed: int
    mode: str


def answer(prompts: Prompts, teacher: str, backend: str | None, options: dict, gen: Generation,
           show: bool) -> tuple[list[dict], dict, bool]:
    """(one record per answer, the engine's description, whether it answered in chat mode)."""
    from codeladder.prompts.extract import COMPLETION_STOPS

    records = []
    with open_engine(teacher, backend, **options) as engine:
        chat = engine.uses_chat(gen.mode)
        if not chat and (bad := next((i for i in prompts.items if not i.prompt.text), None)):
            raise LadderError(f"--prompts {prompts.source}: {bad.id} has only 'messages', and the teacher answers "
                              "in completion mode (no chat template, or --teacher-mode completion); give 'prompt'")
        params = GenerationParams(max_new_tokens=gen.max_new_tokens, temperature=gen.temperature, seed=gen.seed,
                                  stop=() if chat else COMPLETION_STOPS, mode=gen.mode)
        todo = [(item, index) for item in prompts.items for index in range(gen.n)]
        for part, _, completions in in_chunks(engine, todo, lambda job: (job[0].id, job[0].prompt), params, show,
                                              "teacher answering"):
            for (item, index), completion in zip(part, completions):
                found = answer_code(completion.text, chat, item.entry_point, item.function_prompt, item.prompt.text)
                records.append({"id": item.id, "sample": index, "answer": completion.text, "code": found.code,
                                "extraction": found.method})
        info = {**engine.describe(), "chat": chat}
    return records, info, chat


def judge(prompts: Prompts, records: list[dict], workers: int | None, timeout: float | None, show: bool) -> dict:
    """Each record gets ``kept`` and ``reason`` (``passed``, ``untested``, or why it was dropped); returns the
    sandbox's isolation record."""
    from codeladder.prompts.extract import parses

    by_id = {item.id: item for item in prompts.items}
    seen: set[tuple[str, str]] = set()
    programs, pending = [], {}
    for record in records:
        item, text = by_id[record["id"]], record["answer"].strip()
        key = (record["id"], text)
        if not text:
            record.update(kept=False, reason="empty answer")
        elif key in seen:
            record.update(kept=False, reason="duplicate of an earlier answer")
        elif not item.tested:
            record.update(kept=True, reason=UNTESTED)
        elif not parses(record["code"]):
            record.update(kept=False, reason="syntax_error")
        else:
            name = f"{record['id']}#{record['sample']}"
            pending[name] = record
            programs.append((name, _test_program(item, prompts.bench, record["code"])))
        seen.add(key)
    if not programs:
        return {"level": "none (no answer had tests to run)"}
    bench = prompts.bench
    limits, environment = judging_setup(bench, timeout or (None if bench else JSONL_TIMEOUT_S), None, None, workers,
                                        show)
    jobs = [sandbox_job(key, program, limits) for key, program in programs]
    with sandbox_pool(limits, workers, environment.python if environment else None) as pool:
        for verdict in judged(pool, jobs, show, "testing answers"):
            record = pending[verdict.key]
            record.update(kept=verdict.passed, reason="passed" if verdict.passed else verdict.status,
                          checker=verdict.checker)
            if not verdict.passed:
                record["error"] = (verdict.detail or verdict.output_tail)[-300:]
        return pool.isolation


def training_row(item: Item, record: dict, chat: bool) -> dict:
    """A kept answer as a ``ladder finetune`` row: the exact prompt sent, the teacher's text as the answer."""
    if chat:
        return {"messages": [*item.prompt.messages, {"role": "assistant", "content": record["answer"]}]}
    return {"prompt": item.prompt.text, "completion": record["answer"]}


__all__ = ["Item", "Prompts", "Generation", "load_prompts", "answer", "judge", "training_row", "UNTESTED"]
