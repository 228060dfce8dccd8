"""Pre-generated samples in a user's file: EvalPlus format (``task_id`` plus ``solution`` or ``completion``),
or codeladder's own ``samples.jsonl`` (``extracted``), with task ids written in full or as bare numbers."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from codeladder.benchmarks import Benchmark, Task
from codeladder.errors import LadderError
from codeladder.runs import read_input_jsonl


def _task_ids_by_number(bench: Benchmark) -> dict[str, str]:
    """``11`` -> ``Mbpp/11``: files from other tools often carry the bare number as the task id."""
    return {t.task_id.rsplit("/", 1)[-1]: t.task_id for t in bench.load()}


def _dated_window(bench: Benchmark) -> bool:
    """A date window leaves some of the release's tasks out: their samples are skipped, not refused."""
    window = bench.window() or {}
    return any(window.get(key) for key in ("since", "until", "after"))


def _sample_task_id(value: object, ids: dict[str, str], where: str, bench: Benchmark) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise LadderError(f"{where}: task_id must be a string like {next(iter(ids.values()))!r} (or its number), "
                          f"not {type(value).__name__}")
    text = str(value)
    if text in ids.values():
        return text
    if text in ids:
        return ids[text]
    if _dated_window(bench):
        return None  # outside --since/--until/--cutoff
    raise LadderError(f"{where}: task_id {value!r} is not a {bench.name} task")


def _sample_code(row: dict, task: Task, bench: Benchmark, where: str) -> tuple[str, str]:
    """(code, raw) from EvalPlus ``solution``/``completion`` or codeladder's own ``extracted``/``raw``."""
    for field, is_full in (("solution", True), ("extracted", True), ("completion", False)):
        if field in row:
            value = row[field]
            if not isinstance(value, str):
                raise LadderError(f"{where}: field {field!r} must be a string of code, not {type(value).__name__}")
            code = value if is_full else bench.solution_from_completion(task, value)
            raw = row.get("raw") if isinstance(row.get("raw"), str) else value
            return code, raw
    raise LadderError(f"{where}: needs a 'solution', 'completion' or 'extracted' field")


def read_samples_file(path: Path, bench: Benchmark, tasks: dict[str, Task]) -> list[dict]:
    """EvalPlus format: ``task_id`` plus ``solution`` (full code, run as given) or ``completion`` (text after the
    prompt, put after it); codeladder's own ``samples.jsonl`` (``extracted``) is read too, so a run can be
    re-scored. See docs/sandbox.md, "What runs"."""
    rows, per_task, ids = [], Counter(), _task_ids_by_number(bench)
    for number, row in read_input_jsonl(path, "--samples"):
        where = f"{path}:{number}"
        task_id = _sample_task_id(row.get("task_id"), ids, where, bench)
        if task_id is None or task_id not in tasks:
            continue  # outside --limit or the date window
        code, raw = _sample_code(row, tasks[task_id], bench, where)
        rows.append({"task_id": task_id, "sample_index": per_task[task_id], "raw": raw, "extracted": code,
                     "extraction": "samples-file"})
        per_task[task_id] += 1
    if not rows:
        window = " in the date window" if _dated_window(bench) else ""
        raise LadderError(f"{path}: holds no samples for {bench.name}{window}")
    return rows


def check_k_against_samples(ks: tuple[int, ...], per_task: Counter, path: str) -> None:
    """pass@k needs k samples of every task; dropping the row silently would hide the request."""
    fewest_task, fewest = min(per_task.items(), key=lambda item: item[1])
    too_big = [k for k in ks if k > fewest]
    if too_big:
        raise LadderError(f"--k {','.join(map(str, ks))}: {path} has only {fewest} sample(s) for {fewest_task}; "
                          f"every k must be at most the fewest samples per task ({fewest})")


def token_totals(rows: list[dict], task_ids: set[str]) -> dict:
    """What generating the samples cost in tokens (every round of a multi-round strategy counted), for the cost
    column beside pass@1."""
    kept = [r for r in rows if r["task_id"] in task_ids]
    prompt = sum(int(r.get("prompt_tokens") or 0) for r in kept)
    completion = sum(int(r.get("completion_tokens") or 0) for r in kept)
    return {"prompt": prompt, "completion": completion,
            "completion_per_sample": round(completion / len(kept), 1) if kept else 0.0}

