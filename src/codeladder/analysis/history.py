"""``ladder analyze history RUN_OR_DIR…``: a model's runs over time, per benchmark, oldest first.

Runs are grouped by model (its name and lineage document, so a model rewritten in place starts a new line)
and benchmark, and ordered by when they finished (then by path). Each entry carries the summary's pass@k and 95% CI, the
change in pass@1 from the previous run of the group, and tasks gained and lost against it (named, so a
regression can be looked at). ``--model`` keeps one model (its full name or the last part of its path).
"""

from __future__ import annotations

from typing import ClassVar, Optional

from codeladder.analysis.compare import compare_runs
from codeladder.analysis.load import Run, load_runs, short_model
from codeladder.errors import LadderError
from codeladder.params import VerbParams, option


class HistoryParams(VerbParams):
    """A model's runs over time: pass@k, CI, and the tasks gained and lost from one run to the next."""

    verb: ClassVar[str] = "analyze history"
    runs: list[str] = option(..., "run folders, or folders holding run folders (e.g. runs/)", argument=True)
    model: Optional[str] = option(None, "only this model (its full name or the last part of its path)")


def _matches(run: Run, model: str) -> bool:
    return model in (run.model, short_model(run.model))


def _entry(run: Run, previous: Run | None) -> dict:
    entry = {"finished_at": run.finished_at, "path": str(run.path), "label": run.label, "strategy": run.strategy,
             "backend": run.backend, "num_tasks": len(run.tasks), "num_samples": sum(s.n for s in run.tasks.values()),
             "pass_at_k": run.summary.get("pass_at_k", {}), "ci95": run.summary.get("ci95"),
             "lineage_stages": (run.summary.get("model_lineage") or {}).get("stages", []),
             "delta_pass_at_1": None, "gained": [], "lost": []}
    if previous is not None:
        change = compare_runs(previous, run)
        entry.update(delta_pass_at_1=change["pass_at_1_delta"], gained=change["gained"], lost=change["lost"])
    return entry


def history_of(runs: list[Run], model: str | None = None) -> dict:
    """Loaded runs grouped by (model, benchmark), each group in time order."""
    if model is not None:
        kept = [run for run in runs if _matches(run, model)]
        if not kept:
            known = ", ".join(sorted({run.model for run in runs}))
            raise LadderError(f"--model {model}: no run of that model among the runs given (they hold: {known})")
        runs = kept
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        groups.setdefault((*run.model_key, run.benchmark), []).append(run)
    result = []
    for (name, lineage, benchmark), members in groups.items():
        members.sort(key=lambda run: (run.finished_at, str(run.path)))
        entries = [_entry(run, members[i - 1] if i else None) for i, run in enumerate(members)]
        result.append({"model": name, "lineage_sha256": lineage, "benchmark": benchmark, "runs": entries})
    result.sort(key=lambda group: (group["model"], group["benchmark"]))
    return {"models": result}


def history(params: HistoryParams) -> dict:
    """``ladder analyze history``: run folders in, JSON-ready dict out."""
    return history_of(load_runs(params.runs), params.model)


__all__ = ["HistoryParams", "history", "history_of"]
