"""What a study writes after every trial: ``study.json`` (the trials, the best, parameter importances) and
``best.yaml``, a recipe with one finetune stage of the best trial's settings that ``ladder recipe plan`` and
``ladder recipe run`` take as it is."""

from __future__ import annotations

import json
import math
from pathlib import Path

from codeladder.runs import write_text_atomic
from codeladder.tune.params import TuneParams
from codeladder.tune.space import as_settings

STUDY_FILE, BEST_FILE = "study.json", "best.yaml"


def _redacted(url: str) -> str:
    """A storage URL without its password (SQLAlchemy's own rendering)."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _trial_row(trial) -> dict:
    value = trial.value if trial.value is not None and math.isfinite(trial.value) else None
    seconds = (trial.datetime_complete - trial.datetime_start).total_seconds() \
        if trial.datetime_complete and trial.datetime_start else None
    return {"number": trial.number, "state": trial.state.name, "value": value, "params": trial.params,
            "settings": trial.user_attrs.get("settings"), "folder": trial.user_attrs.get("folder"),
            "reported": {str(k): v for k, v in sorted(trial.intermediate_values.items())},
            "seconds": round(seconds, 2) if seconds is not None else None,
            "worker": f"{trial.user_attrs.get('host')}:{trial.user_attrs.get('pid')}",
            "error": trial.user_attrs.get("error") or trial.user_attrs.get("failed_because")}


def importances(study) -> dict | None:
    """Optuna's parameter importances (PED-ANOVA) over the complete trials, when there are enough of them."""
    from optuna.importance import get_param_importances
    from optuna.trial import TrialState

    if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) < 3:
        return None
    try:
        return {k: round(float(v), 4) for k, v in get_param_importances(study).items()}
    except (ValueError, RuntimeError, ZeroDivisionError):
        return None


def best_recipe(params: TuneParams, best: dict, study_name: str) -> str:
    import yaml

    trained = best.get("settings") or as_settings(best["params"])  # what the trial trained with, fixed entries too
    settings = {**params.fixed(), "stop_if": list(params.stop_if), **trained, "method": params.method,
                "seed": params.seed, "merge": params.method != "dpo"}
    settings = {k: v for k, v in settings.items() if v is not None and v != []}
    recipe = {"name": f"{study_name}-best",
              "description": f"ladder tune: trial {best['number']} of study {study_name!r}, {params.objective} "
                             f"{best['value']:.6g}",
              "stages": [{"name": "finetune", "verb": "finetune",
                          "inputs": {"base": str(Path(params.base).resolve()),
                                     "data": str(Path(params.data).resolve())},
                          "config": settings}]}
    return yaml.safe_dump(recipe, sort_keys=False)


def write_outputs(study, params: TuneParams, study_dir: Path) -> dict:

    trials = [_trial_row(t) for t in study.get_trials(deepcopy=False)]
    done = [t for t in trials if t["state"] == "COMPLETE" and t["value"] is not None]
    maximize = study.direction.name == "MAXIMIZE"
    best = (max if maximize else min)(done, key=lambda t: t["value"]) if done else None
    states = {state: sum(t["state"] == state for t in trials) for state in ("COMPLETE", "PRUNED", "FAIL", "RUNNING")}
    result = {"study": study.study_name, "storage": _redacted(params.storage_url()), "objective": params.objective,
              "direction": "maximize" if maximize else "minimize", "method": params.method,
              "budget": params.budget, "finished": states["COMPLETE"] + states["PRUNED"], "states": states,
              "scout": params.scout, "from_scout": study.user_attrs.get("from_scout"),
              "inputs": study.user_attrs.get("inputs"), "best": best, "importances": importances(study),
              "trials": trials, "best_recipe": str(study_dir / BEST_FILE) if best else None}
    write_text_atomic(study_dir / STUDY_FILE, json.dumps(result, indent=2) + "\n")
    if best:
        write_text_atomic(study_dir / BEST_FILE, best_recipe(params, best, study.study_name))
    return result


__all__ = ["write_outputs", "best_recipe", "importances", "STUDY_FILE", "BEST_FILE"]
