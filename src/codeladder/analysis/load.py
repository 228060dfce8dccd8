"""Loading finished run folders for analysis and reports: the one place that reads ``summary.json`` and
``results.jsonl`` back, so every verb agrees on what a run, a model and a task score are.

A path may be a run folder (it holds ``summary.json``) or any folder above run folders (``runs/``, a recipe's
run directory): those are searched. A task's score is counted from ``results.jsonl``, so it is right for
n > 1: ``n`` samples, ``c`` of them passed, rate ``c / n``, solved when ``c >= 1``. Nothing is written: an
unfinished run (no ``summary.json``) is refused with the command that finishes it.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from codeladder.errors import LadderError
from codeladder.runs import RESULTS, SUMMARY, RunDir

REQUIRED_SUMMARY_KEYS = ("benchmark", "pass_at_k", "model", "strategy")


@dataclass(frozen=True)
class TaskScore:
    """One task in one run (or pooled over runs): ``n`` samples, ``c`` passed, statuses of every sample."""

    n: int
    c: int
    statuses: tuple[tuple[str, int], ...] = ()

    @property
    def rate(self) -> float:
        return self.c / self.n if self.n else 0.0

    @property
    def solved(self) -> bool:
        return self.c > 0

    def plus(self, other: "TaskScore") -> "TaskScore":
        merged = Counter(dict(self.statuses)) + Counter(dict(other.statuses))
        return TaskScore(self.n + other.n, self.c + other.c, tuple(sorted(merged.items())))


@dataclass
class Run:
    """A finished run folder: its summary and its per-task scores (``label`` is set by :func:`load_runs`)."""

    path: Path
    summary: dict
    tasks: dict[str, TaskScore]
    rows: list[dict] = field(repr=False, default_factory=list)
    label: str = ""

    @property
    def model(self) -> str:
        return str(self.summary.get("model") or "?")

    @property
    def lineage_sha(self) -> str | None:
        return (self.summary.get("model_lineage") or {}).get("lineage_sha256")

    @property
    def model_key(self) -> tuple[str, str | None]:
        """Two runs are of one model when they name the same model with the same lineage document."""
        return self.model, self.lineage_sha

    @property
    def benchmark(self) -> str:
        return str(self.summary["benchmark"])

    @property
    def strategy(self) -> str:
        return str(self.summary.get("strategy") or "?")

    @property
    def backend(self) -> str:
        return str(self.summary.get("backend") or "?")

    @property
    def finished_at(self) -> str:
        """ISO time the run finished (the summary's, else the file's modification time)."""
        stamp = self.summary.get("finished_at")
        if isinstance(stamp, str) and stamp:
            return stamp
        from datetime import datetime, timezone

        return datetime.fromtimestamp((self.path / SUMMARY).stat().st_mtime, timezone.utc).isoformat(
            timespec="seconds")

    @property
    def pass_at_1(self) -> float:
        """Mean per-task rate from the result rows (equals the summary's pass@1)."""
        return sum(t.rate for t in self.tasks.values()) / len(self.tasks) if self.tasks else 0.0

    def solved(self) -> set[str]:
        return {task for task, score in self.tasks.items() if score.solved}


def tasks_in_benchmark(summary: dict) -> int | None:
    """The benchmark's size as the run recorded it (runs written before the field: the bundled data's size)."""
    recorded = summary.get("num_tasks_in_benchmark")
    if isinstance(recorded, int):
        return recorded
    try:
        from codeladder.benchmarks import get_benchmark

        return len(get_benchmark(str(summary.get("benchmark"))).load())
    except Exception:  # noqa: BLE001 - an unknown or user-supplied benchmark: its size is not known here
        return None


def window_text(summary: dict) -> str:
    """The release and date window that chose a dated benchmark's tasks (LiveCodeBench), e.g. ``release v6,
    published after 2024-06-30``; empty for a benchmark without one. A score means nothing without it."""
    window = summary.get("window")
    if not isinstance(window, dict):
        return ""
    days = [f"from {window['since']}" if window.get("since") else "", f"until {window['until']}"
            if window.get("until") else "", f"after {window['after']}" if window.get("after") else ""]
    dated = " ".join(d for d in days if d)
    return f"release {window.get('release')}" + (f", published {dated}" if dated else "")


def is_full_run(summary: dict) -> bool:
    """Every task of the benchmark scored: only such a run may stand for the benchmark's score."""
    size = tasks_in_benchmark(summary)
    return size is not None and summary.get("num_tasks") == size


def task_order(task_id: str) -> tuple:
    """Natural order: ``HumanEval/9`` before ``HumanEval/10``."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", task_id))


def sorted_tasks(task_ids) -> list[str]:
    return sorted(task_ids, key=task_order)


def short_model(model: str) -> str:
    """A model's display name: the last part of a path (``./out/merged`` -> ``merged``)."""
    name = Path(model.rstrip("/")).name if ("/" in model or model.endswith((".gguf", ".jsonl"))) else model
    return name or model


def _is_eval_summary(path: Path) -> bool:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return True  # reported properly by load_run
    return isinstance(data, dict) and "pass_at_k" in data


def find_runs(path: Path) -> list[Path]:
    """Run folders at or under ``path`` (hidden folders skipped), in path order."""
    if (path / SUMMARY).is_file():
        return [path]
    found = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if SUMMARY in files and _is_eval_summary(Path(root) / SUMMARY):
            found.append(Path(root))
            dirs[:] = []
    return found


def _read_summary(path: Path) -> dict:
    file = path / SUMMARY
    try:
        summary = json.loads(file.read_text())
    except ValueError:
        raise LadderError(f"{file}: not valid JSON; run the eval command again to rewrite it") from None
    if not isinstance(summary, dict):
        raise LadderError(f"{file}: not a run summary (expected a JSON object); pass a folder written by `ladder eval`")
    missing = [key for key in REQUIRED_SUMMARY_KEYS if key not in summary]
    if missing:
        raise LadderError(f"{file}: no {missing[0]!r}; not a `ladder eval` summary (pass a run folder it wrote)")
    return summary


def _scores(rows: list[dict], where: Path) -> dict[str, TaskScore]:
    counts: dict[str, list] = {}
    for number, row in enumerate(rows, 1):
        if not isinstance(row.get("passed"), bool):
            raise LadderError(f"{where}: row {number} has no true/false 'passed'; rerun the eval with --overwrite")
        entry = counts.setdefault(str(row["task_id"]), [0, 0, Counter()])
        entry[0] += 1
        entry[1] += int(row["passed"])
        entry[2][str(row.get("status", "passed" if row["passed"] else "failed"))] += 1
    return {task: TaskScore(n, c, tuple(sorted(statuses.items()))) for task, (n, c, statuses) in counts.items()}


def load_run(path: Path) -> Run:
    """One finished run folder; one clear line when it is not one."""
    path = Path(path)
    if not path.exists():
        raise LadderError(f"{path}: no such run folder; pass a folder written by `ladder eval` (it holds {SUMMARY})")
    if not (path / SUMMARY).is_file():
        if (path / RESULTS).is_file():
            raise LadderError(f"{path}: unfinished run (no {SUMMARY}); run the same `ladder eval` command again "
                              "to finish it")
        raise LadderError(f"{path}: not a run folder (no {SUMMARY}); pass a folder written by `ladder eval`")
    summary = _read_summary(path)
    if not (path / RESULTS).is_file():
        raise LadderError(f"{path / RESULTS}: missing; run the eval command again with --overwrite to rebuild it")
    rows = RunDir(path).result_rows()
    return Run(path=path, summary=summary, tasks=_scores(rows, path / RESULTS), rows=rows)


def _label(run: Run) -> str:
    return f"{short_model(run.model)} · {run.strategy}"


def _set_labels(runs: list[Run]) -> None:
    """``model · strategy``; the folder name is added where that is not unique, then a number."""
    plain = Counter(_label(run) for run in runs)
    for run in runs:
        run.label = _label(run) if plain[_label(run)] == 1 else f"{_label(run)} ({run.path.name})"
    seen: Counter = Counter()
    for run in runs:
        seen[run.label] += 1
        if seen[run.label] > 1:
            run.label = f"{run.label} #{seen[run.label]}"


def load_runs(paths: list[str | Path], flag: str = "RUN") -> list[Run]:
    """Every finished run at or under the given paths, each once, with unique labels."""
    if not paths:
        raise LadderError(f"{flag}: pass at least one run folder (or a folder holding run folders)")
    runs, seen = [], set()
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise LadderError(f"{path}: no such run folder; pass a folder written by `ladder eval`")
        found = find_runs(path) if path.is_dir() else []
        if not found:
            load_run(path)  # raises the precise reason
        for folder in found:
            if folder.resolve() not in seen:
                seen.add(folder.resolve())
                runs.append(load_run(folder))
    _set_labels(runs)
    return runs


def one_benchmark(runs: list[Run]) -> str:
    """The runs' common benchmark; task ids of two benchmarks are not comparable (HumanEval+ reuses HumanEval's)."""
    names = sorted({run.benchmark for run in runs})
    if len(names) > 1:
        first = {name: next(r for r in runs if r.benchmark == name).path for name in names}
        shown = ", ".join(f"{name} ({first[name]})" for name in names)
        raise LadderError(f"runs of different benchmarks: {shown}; pass runs of one benchmark")
    return names[0]


def one_model(runs: list[Run], allow_mixed: bool) -> list[str]:
    """The runs' model(s); refuses two models unless ``allow_mixed`` (an oracle across models is not a model)."""
    keys = list(dict.fromkeys(run.model_key for run in runs))
    if len(keys) > 1 and not allow_mixed:
        a, b = (next(r for r in runs if r.model_key == key) for key in keys[:2])
        what = f"{a.model!r} ({a.path}) and {b.model!r} ({b.path})"
        if a.model == b.model:
            what = f"{a.model!r} with two different lineages ({a.path}, {b.path})"
        raise LadderError(f"runs of {len(keys)} models: {what}; pass runs of one model, or --allow-mixed to pool them")
    return list(dict.fromkeys(run.model for run in runs))


def pooled(runs: list[Run]) -> dict[str, TaskScore]:
    """Every task's samples over all runs together."""
    total: dict[str, TaskScore] = {}
    for run in runs:
        for task, score in run.tasks.items():
            total[task] = total[task].plus(score) if task in total else score
    return total


__all__ = ["window_text", "tasks_in_benchmark", "is_full_run", "TaskScore", "Run", "task_order", "sorted_tasks",
           "short_model", "find_runs", "load_run", "load_runs", "one_benchmark", "one_model", "pooled"]
