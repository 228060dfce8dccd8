"""``ladder eval``'s generation step: fill a run's ``samples.jsonl`` up to n samples a task, resumably.

Each sample is the backend's raw text, the code extracted from it (the benchmark's own extraction, the chat
extractor or the completion extractor) and its token counts; a samples file given with ``--samples`` is read in
instead. Split from :mod:`codeladder.evaluate`, which judges and scores what this writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from codeladder.backends import Prompt, answers_with_solutions, open_engine
from codeladder.benchmarks import Benchmark, Task
from codeladder.errors import LadderError
from codeladder.eval_params import EvalParams
from codeladder.measure.generate import answer_code, in_chunks
from codeladder.measure.reflect import Reflector, sample_fields
from codeladder.prompts import get_strategy
from codeladder.prompts.reflexion import Reflexion
from codeladder.runs import Appender, RunDir, write_json_atomic
from codeladder.samples import check_k_against_samples, read_samples_file
from codeladder.sandbox import Limits


def generate_samples(config: EvalParams, bench: Benchmark, tasks: list[Task], run: RunDir, show: bool,
                     limits: Limits | None = None) -> dict:
    """Fill samples.jsonl up to n samples per task; returns the backend's description. ``limits``: the sandbox's,
    for a strategy that runs answers on their prompts' examples while generating (reflexion)."""
    done = {(r["task_id"], r["sample_index"]) for r in run.sample_rows()}
    backend_file = run.path / "backend.json"
    by_id = {t.task_id: t for t in tasks}
    if config.samples:
        rows = read_samples_file(Path(config.samples), bench, by_id)
        check_k_against_samples(config.k, Counter(r["task_id"] for r in rows), config.samples)
        fresh = [r for r in rows if (r["task_id"], r["sample_index"]) not in done]
        with Appender(run.samples) as out:
            for row in fresh:
                out.write(row)
        info = {"backend": "samples", "model": config.samples, "device": "none", "dtype": "none", "chat": None}
        write_json_atomic(backend_file, info)
        return info
    todo = [(t, i) for t in tasks for i in range(config.n) if (t.task_id, i) not in done]
    if not todo:
        return json.loads(backend_file.read_text()) if backend_file.exists() else {}
    strategy = get_strategy(config.strategy, config.shots, config.reflexion_rounds)
    _check_strategy(strategy, bench, tasks, config.backend_name, config.mode)
    if answers_with_solutions(config.backend_name):
        opened = open_engine(None, config.backend_name, solutions={t.task_id: t.reference for t in tasks})
    else:
        bench.use_model(config.model)  # e.g. the FIM tokens infilling needs: refused before the model loads
        opened = open_engine(config.model, config.backend_name,
                             defaults={"logits_all": config.rerank == "logprob"}, **config.backend_options)
    with opened as backend, contextlib.ExitStack() as stack:
        chat = backend.uses_chat(config.mode) and not bench.completion_only
        if isinstance(strategy, Reflexion) and not chat:
            _refuse_completion()
        write_json_atomic(backend_file, {**backend.describe(), "chat": chat})
        params = config.generation(chat)
        if not chat and bench.completion_stops is not None:
            params = dataclasses.replace(params, stop=bench.completion_stops)
        reflector = None
        if isinstance(strategy, Reflexion):
            workers = config.workers or os.cpu_count() or 1
            reflector = stack.enter_context(Reflector(strategy, limits or Limits(), workers, config.isolate))
        _generate_chunks(todo, bench, strategy, backend, params, chat, run, show, reflector)
        info = {**backend.describe(), "chat": chat}  # what it did, e.g. the requests each server answered
        write_json_atomic(backend_file, info)
    return info


def _prompt(bench: Benchmark, strategy, task: Task) -> Prompt:
    """The strategy's prompt, or the benchmark's own wording (CRUXEval, infilling)."""
    own = bench.own_prompt(task, strategy.name)
    if own is None:
        return strategy.build(task)
    return Prompt(text=own[0], messages=[{"role": "user", "content": own[1]}])


def _check_strategy(strategy, bench: Benchmark, tasks: list[Task], backend_name: str, mode: str) -> None:
    """What a strategy cannot take, refused before any model loads (chat mode "auto" is checked once it has)."""
    if not isinstance(strategy, Reflexion):
        return
    if answers_with_solutions(backend_name):
        raise LadderError(f"--strategy reflexion: --backend {backend_name} answers with the solutions; use a model")
    if bench.environment or (tasks and bench.own_prompt(tasks[0], strategy.name) is not None):
        raise LadderError(f"--strategy reflexion: {bench.name} does not take it (its prompts are its own, or its "
                          "examples need an evaluation environment); use HumanEval(+) or MBPP(+)")
    if mode == "completion" or bench.completion_only:
        _refuse_completion()


def _refuse_completion() -> None:
    raise LadderError("--strategy reflexion: the feedback is a conversation; it needs chat mode (a model with a "
                      "chat template, or --mode chat)")


def _extractor(bench: Benchmark, chat: bool, backend) -> Callable[[Task, str], tuple[str, str]]:
    """The code in an answer and how it was found: the reference as it is, else the benchmark's own extraction,
    else the one rule of :func:`codeladder.measure.generate.answer_code`."""
    canonical = answers_with_solutions(backend.name)

    def extract(task: Task, text: str) -> tuple[str, str]:
        if canonical:
            return text, backend.name
        if (own := bench.extract(task, text, chat)) is not None:
            return own
        found = answer_code(text, chat, task.entry_point, task.prompt if task.style == "function" else "",
                            task.prompt)
        return found.code, found.method
    return extract


def _generate_chunks(todo, bench, strategy, backend, params, chat, run, show, reflector=None) -> None:
    extract = _extractor(bench, chat, backend)

    def ask(item: tuple[Task, int]) -> tuple[str, Prompt]:
        return item[0].task_id, _prompt(bench, strategy, item[0])

    with Appender(run.samples) as out:
        for part, prompts, completions in in_chunks(backend, todo, ask, params, show):
            tasks = [task for task, _ in part]
            if reflector is not None:
                rows = [sample_fields(a) for a in reflector.run(tasks, prompts, completions, backend, params, extract)]
            else:
                rows = [_row(completion, *extract(task, completion.text)) for task, completion
                        in zip(tasks, completions)]
            for (task, index), row in zip(part, rows):
                out.write({"task_id": task.task_id, "sample_index": index, **row})


def _row(completion, code: str, method: str) -> dict:
    return {"raw": completion.text, "extracted": code, "extraction": method,
            "prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens,
            "seconds": round(completion.seconds, 4), "mean_logprob": completion.mean_logprob}


__all__ = ["generate_samples"]
