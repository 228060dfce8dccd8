"""A ``ladder tune`` study in the report: its trials (state, objective, settings, where it was pruned) in trial
order with the best so far, and Optuna's parameter importances, read from the study folder's ``study.json``."""

from __future__ import annotations

import json
from pathlib import Path

from codeladder.errors import LadderError
from codeladder.report.tables import DASH, Cell, Table

STUDY_FILE = "study.json"


def is_study(path: Path) -> bool:
    return path.is_dir() and (path / STUDY_FILE).is_file() and (path / "trials").is_dir()


def read_study(path: Path) -> dict:
    try:
        return json.loads((path / STUDY_FILE).read_text())
    except (OSError, ValueError):
        raise LadderError(f"{path}/{STUDY_FILE}: not readable; run `ladder tune ... -o {path}` again") from None


def _settings_text(settings: dict | None) -> str:
    if not settings:
        return DASH
    return ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in settings.items())


def study_tables(path: Path, study: dict) -> list[Table]:
    objective, minimize = study["objective"], study["direction"] == "minimize"
    trials = Table(f"ladder tune {path.name}: {study['finished']}/{study['budget']} trials finished "
                   f"({study['method']}, {objective} {'minimised' if minimize else 'maximised'})",
                   ["trial", "state", objective, "best so far", "settings", "pruned at step", "seconds"],
                   key=f"study-{path.name}", numeric=frozenset({0, 2, 3, 5, 6}))
    best = None
    for trial in study["trials"]:
        value = trial["value"] if trial["state"] == "COMPLETE" else None
        if value is not None and (best is None or (value < best if minimize else value > best)):
            best = value
        reported = trial.get("reported") or {}
        pruned_at = max(map(int, reported)) if trial["state"] == "PRUNED" and reported else None
        trials.add(str(trial["number"]), trial["state"].lower(),
                   Cell(DASH if value is None else f"{value:.4f}", {"value": "" if value is None else repr(value)}),
                   DASH if best is None else f"{best:.4f}", _settings_text(trial.get("settings")),
                   DASH if pruned_at is None else str(pruned_at), DASH if trial["seconds"] is None
                   else f"{trial['seconds']:.0f}")
    tables = [trials]
    if study.get("importances"):
        complete = sum(t["state"] == "COMPLETE" for t in study["trials"])
        importance = Table(f"parameter importance ({path.name}, Optuna PED-ANOVA over {complete} complete trials)",
                           ["parameter", "importance"], key=f"importance-{path.name}", numeric=frozenset({1}))
        for name, value in study["importances"].items():
            importance.add(name, Cell(f"{value:.2f}", {"value": repr(value)}))
        tables.append(importance)
    return tables


__all__ = ["is_study", "read_study", "study_tables"]
