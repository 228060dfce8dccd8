"""``ladder analyze failures``: which tasks a model always passes, passes sometimes, or never solves, and how
its samples fail.

Samples of every run given are pooled per task (one model and one benchmark, as for the oracle):
*always-pass* means every sample passed, *never-solved* that none did, *borderline* everything between
(0 < c < n), sorted by rate: the tasks where pass/fail preference pairs and targeted fine-tuning help most.
With n = 1 and one run there is no borderline task: each is solved or not.
"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

from codeladder.analysis.load import Run, TaskScore, load_runs, one_benchmark, one_model, pooled, sorted_tasks
from codeladder.params import VerbParams, option

ERROR_CHARS = 160


class FailuresParams(VerbParams):
    """Always-pass, borderline and never-solved tasks, and how the failing samples failed."""

    verb: ClassVar[str] = "analyze failures"
    runs: list[str] = option(..., "run folders (or folders holding run folders) of one model and benchmark",
                             argument=True)
    allow_mixed: bool = option(False, "pool runs of different models anyway")


def categories(scores: dict[str, TaskScore]) -> dict[str, list[str]]:
    """Task ids per category, in task order."""
    found: dict[str, list[str]] = {"always_pass": [], "borderline": [], "never_solved": []}
    for task in sorted_tasks(scores):
        score = scores[task]
        kind = "always_pass" if score.c == score.n else "never_solved" if score.c == 0 else "borderline"
        found[kind].append(task)
    found["borderline"].sort(key=lambda task: scores[task].rate)
    return found


def _first_error_line(text: str) -> str:
    lines = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:ERROR_CHARS]  # a traceback's last line says what went wrong


def failing_reasons(runs: list[Run]) -> dict[str, dict]:
    """Task -> the most common status of its failing samples and one example error line."""
    statuses: dict[str, Counter] = {}
    example: dict[str, str] = {}
    for run in runs:
        for row in run.rows:
            if row.get("passed"):
                continue
            task = str(row["task_id"])
            statuses.setdefault(task, Counter())[str(row.get("status", "failed"))] += 1
            example.setdefault(task, _first_error_line(row.get("error", "")))
    return {task: {"status": counts.most_common(1)[0][0], "error": example.get(task, "")}
            for task, counts in statuses.items()}


def failures_of(runs: list[Run], allow_mixed: bool = False) -> dict:
    """The categories and failure statuses over already loaded runs."""
    models = one_model(runs, allow_mixed)
    benchmark = one_benchmark(runs)
    scores = pooled(runs)
    found = categories(scores)
    reasons = failing_reasons(runs)
    failed_statuses = Counter(str(row.get("status", "failed")) for run in runs for row in run.rows
                              if not row.get("passed"))

    def entry(task: str) -> dict:
        score = scores[task]
        return {"task_id": task, "n": score.n, "c": score.c, "rate": score.rate, **reasons.get(task, {})}

    return {
        "model": models[0] if len(models) == 1 else models,
        "benchmark": benchmark,
        "runs": [{"label": run.label, "path": str(run.path)} for run in runs],
        "num_tasks": len(scores),
        "num_samples": sum(score.n for score in scores.values()),
        "counts": {kind: len(tasks) for kind, tasks in found.items()},
        "always_pass": found["always_pass"],
        "borderline": [entry(task) for task in found["borderline"]],
        "never_solved": [entry(task) for task in found["never_solved"]],
        "failed_sample_statuses": dict(failed_statuses.most_common()),
    }


def failures(params: FailuresParams) -> dict:
    """``ladder analyze failures``: run folders in, JSON-ready dict out."""
    return failures_of(load_runs(params.runs), params.allow_mixed)


__all__ = ["FailuresParams", "failures", "failures_of", "categories", "failing_reasons"]
