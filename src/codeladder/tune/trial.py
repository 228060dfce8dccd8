"""One trial of ``ladder tune``: a finetune run through the very code ``ladder finetune`` runs, in
``STUDY/trials/trial-NNNN`` with its own ``train_report.json``, and the objective read from it (the last
validation loss) or measured on a non-test split (pass@1 of the merged model, through ``ladder eval``'s code)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from codeladder.errors import LadderError
from codeladder.runs import write_text_atomic
from codeladder.transforms.finetune.params import FinetuneParams
from codeladder.tune.params import TuneParams
from codeladder.tune.space import suggest


def trial_folder(study_dir: Path, number: int) -> Path:
    return Path(study_dir) / "trials" / f"trial-{number:04d}"


def finetune_params(params: TuneParams, settings: dict, data: Path, output: Path) -> FinetuneParams:
    return FinetuneParams(base=params.base, data=data, output=output, method=params.method, seed=params.seed,
                          merge=params.objective == "pass@1", **params.fixed(), **settings)


def objective_of(report: dict, params: TuneParams, output: Path) -> float:
    if params.objective == "val_loss":
        losses = [e["val_loss"] for e in report["epochs"] if e.get("val_loss") is not None]
        if not losses or not math.isfinite(losses[-1]):
            raise LadderError(f"{output}: the trial logged no finite validation loss")
        return float(losses[-1])
    from codeladder.evaluate import EvalParams, evaluate

    summary = evaluate(EvalParams(benchmark=params.eval_benchmark, model=str(output / "merged"),
                                  limit=params.eval_limit, output=str(output / "eval"), max_new_tokens=512))
    return float(summary["pass_at_k"]["1"])


def run_trial(trial, params: TuneParams, space: dict, data: Path, study_dir: Path, show: bool) -> float:
    """Train with the trial's settings; the objective, or ``optuna.TrialPruned`` when the pruner stopped it."""
    import optuna

    from codeladder.transforms.finetune import finetune
    from codeladder.tune.reporter import PruneReporter

    settings = suggest(trial, space)
    output = trial_folder(study_dir, trial.number)
    shutil.rmtree(output, ignore_errors=True)  # numbers are never reused; a leftover is a wiped study's
    trial.set_user_attr("folder", str(output))
    trial.set_user_attr("settings", settings)
    reporter = PruneReporter(trial, params.eval_every, prune=params.objective == "val_loss" and params.pruner != "none")
    report = finetune(finetune_params(params, settings, data, output), show, callbacks=[reporter])
    extra = {"trial": trial.number, "study": params.study_name, "pruned_at_step": reporter.pruned_at,
             "reported": reporter.reported}
    path = output / "train_report.json"
    write_text_atomic(path, json.dumps({**report, "tune": extra}, indent=2) + "\n")
    if reporter.pruned_at is not None:
        raise optuna.TrialPruned(f"pruned at step {reporter.pruned_at}")
    return objective_of(report, params, output)


__all__ = ["run_trial", "trial_folder", "finetune_params", "objective_of"]
