"""``ladder analyze compare RUN --cutoff DATE``: one run's score on tasks published up to a training cutoff
against its score on tasks published after it, the contamination signal of a dated benchmark (LiveCodeBench).

A model that saw a problem in training tends to solve it more often than an unseen problem of the same kind, so
a score that drops after the cutoff is the mark of contamination. The two task sets are different tasks, not the
same tasks twice, so the comparison is unpaired: each side's pass@1 with its own interval
(:func:`codeladder.stats.pass_at_1_interval`) and the difference (after minus up to) with the MOVER interval
(:func:`codeladder.stats.difference_interval`). ``signal`` is ``lower after the cutoff`` or ``higher after the
cutoff`` only when that interval excludes zero, else ``no measurable difference``.

Task dates come from the run's summary (``task_dates``: ``ladder eval`` records them for benchmarks that date
their tasks); a run without them is refused in one line. With two runs the paired comparison
(:mod:`codeladder.analysis.compare`) is repeated on each side of the cutoff.
"""

from __future__ import annotations

from codeladder.analysis.load import Run, TaskScore
from codeladder.errors import LadderError
from codeladder.stats import difference_interval, paired_compare, pass_at_1_interval

UP_TO, AFTER = "up_to_cutoff", "after_cutoff"
LOWER, HIGHER, SAME = "lower after the cutoff", "higher after the cutoff", "no measurable difference"


def task_dates(run: Run) -> dict[str, str]:
    """Each task's publication day as the run's summary records it; refused when it records none."""
    dates = run.summary.get("task_dates")
    if not isinstance(dates, dict) or not dates:
        raise LadderError(f"{run.path}: its summary records no task dates; --cutoff needs a run of a dated benchmark "
                          "(livecodebench) written by `ladder eval` of this version")
    return {str(task): str(day) for task, day in dates.items()}


def sides(dates: dict[str, str], cutoff: str) -> dict[str, set[str]]:
    """Tasks published on or before ``cutoff`` and after it (ISO days compare as strings)."""
    return {UP_TO: {t for t, day in dates.items() if day <= cutoff},
            AFTER: {t for t, day in dates.items() if day > cutoff}}


def _score(tasks: dict[str, TaskScore]) -> dict:
    counts = {t: (score.n, score.c) for t, score in tasks.items()}
    interval = pass_at_1_interval(counts)
    rate = sum(score.rate for score in tasks.values()) / len(tasks) if tasks else 0.0
    return {"tasks": len(tasks), "pass_at_1": rate, "ci95": interval.as_list(), "ci95_method": interval.method}


def split_run(run: Run, cutoff: str) -> dict:
    """One run's pass@1 up to and after ``cutoff``, and the difference with its interval."""
    groups = sides(task_dates(run), cutoff)
    scored = {name: _score({t: run.tasks[t] for t in ids if t in run.tasks}) for name, ids in groups.items()}
    up_to, after = scored[UP_TO], scored[AFTER]
    result: dict = {"cutoff": cutoff, UP_TO: up_to, AFTER: after}
    if up_to["tasks"] and after["tasks"]:
        delta = after["pass_at_1"] - up_to["pass_at_1"]
        ci = difference_interval(after["pass_at_1"], after["ci95"], up_to["pass_at_1"], up_to["ci95"])
        signal = LOWER if ci[1] < 0 else HIGHER if ci[0] > 0 else SAME
        result["after_minus_up_to"] = {"delta": delta, "ci95": ci, "ci95_method": "MOVER (independent task sets)",
                                       "signal": signal}
    else:
        empty = UP_TO if not up_to["tasks"] else AFTER
        result["after_minus_up_to"] = {"signal": f"not measurable: no task {empty.replace('_', ' ')}"}
    return result


def split_comparison(before: Run, after: Run, cutoff: str) -> dict:
    """The paired comparison of two runs on each side of ``cutoff`` (dates from either run's summary)."""
    dates = {**task_dates(before), **task_dates(after)}
    result = {}
    for name, ids in sides(dates, cutoff).items():
        paired = paired_compare({t: (s.n, s.c) for t, s in before.tasks.items() if t in ids},
                                {t: (s.n, s.c) for t, s in after.tasks.items() if t in ids})
        result[name] = {k: v for k, v in paired.as_dict().items() if k not in ("gained", "lost")} | {
            "tasks_gained": len(paired.gained), "tasks_lost": len(paired.lost)}
    return result


__all__ = ["task_dates", "sides", "split_run", "split_comparison", "UP_TO", "AFTER", "LOWER", "HIGHER", "SAME"]
