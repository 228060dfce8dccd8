"""``ladder eval``'s generation step: fill a run's ``samples.jsonl`` up to n samples a task, resumably.

Each sample is the backend's raw text, the code extracted from it (the benchmark's own extraction, the chat
extractor or the completion extractor) and its token counts; a samples file given with ``--samples`` is read in
instead. Split from :mod:`codeladder.evaluate`, which judges and scores what this writes.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from codeladder.backends import Prompt, Request, open_engine
from codeladder.benchmarks import Benchmark, Task
from codeladder.progress import progress_bar
from codeladder.prompts import extract_code, get_strategy
from codeladder.prompts.extract import extract_completion
from codeladder.runs import Appender, RunDir, write_json_atomic
from codeladder.samples import check_k_against_samples, read_samples_file

if TYPE_CHECKING:
    from codeladder.evaluate import EvalParams


def generate_samples(config: EvalParams, bench: Benchmark, tasks: list[Task], run: RunDir, show: bool) -> dict:
    """Fill samples.jsonl up to n samples per task; returns the backend's description."""
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
    strategy = get_strategy(config.strategy, config.shots)
    if config.backend_name == "reference":
        backend = open_engine(None, "reference", solutions={t.task_id: t.reference for t in tasks})
    else:
        bench.use_model(config.model)  # e.g. the FIM tokens infilling needs: refused before the model loads
        backend = open_engine(config.model, config.backend_name, defaults={"logits_all": config.rerank == "logprob"},
                              **config.backend_options)
    chat = backend.uses_chat(config.mode) and not bench.completion_only
    info = {**backend.describe(), "chat": chat}
    write_json_atomic(backend_file, info)
    params = config.generation(chat)
    if not chat and bench.completion_stops is not None:
        params = dataclasses.replace(params, stop=bench.completion_stops)
    chunk = max(1, getattr(backend, "batch_hint", 8)) * 4
    try:
        _generate_chunks(todo, chunk, bench, strategy, backend, params, chat, run, show)
        info = {**backend.describe(), "chat": chat}  # what it did, e.g. the requests each server answered
        write_json_atomic(backend_file, info)
    finally:
        close = getattr(backend, "close", None)
        if close:
            close()
    return info


def _prompt(bench: Benchmark, strategy, task: Task) -> Prompt:
    """The strategy's prompt, or the benchmark's own wording (CRUXEval, infilling)."""
    own = bench.own_prompt(task, strategy.name)
    if own is None:
        return strategy.build(task)
    return Prompt(text=own[0], messages=[{"role": "user", "content": own[1]}])


def _generate_chunks(todo, chunk, bench, strategy, backend, params, chat, run, show) -> None:
    with Appender(run.samples) as out, progress_bar("generating", len(todo), show) as advance:
        for start in range(0, len(todo), chunk):
            part = todo[start:start + chunk]
            requests = [Request(t.task_id, _prompt(bench, strategy, t)) for t, _ in part]
            for (task, index), completion in zip(part, backend.generate(requests, params)):
                if backend.name == "reference":
                    code, method = completion.text, "reference"
                elif (own := bench.extract(task, completion.text, chat)) is not None:
                    code, method = own
                elif chat:
                    found = extract_code(completion.text, task.entry_point,
                                         task.prompt if task.style == "function" else "")
                    code, method = found.code, found.method
                else:
                    found = extract_completion(completion.text, task.prompt)
                    code, method = found.code, found.method
                out.write({"task_id": task.task_id, "sample_index": index, "raw": completion.text,
                           "extracted": code, "extraction": method, "prompt_tokens": completion.prompt_tokens,
                           "completion_tokens": completion.completion_tokens,
                           "seconds": round(completion.seconds, 4), "mean_logprob": completion.mean_logprob})
            advance(len(part))


__all__ = ["generate_samples"]
