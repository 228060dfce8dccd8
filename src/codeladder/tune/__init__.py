"""``ladder tune``: hyperparameter search over finetune runs on Optuna (params, space, study, trial, outputs)."""

from codeladder.tune.params import TuneParams


def tune_verb(params: TuneParams, show_progress: bool = False) -> dict:
    """Run (or resume, or join) the study; Optuna is imported only here, when a study runs."""
    from codeladder.tune.study import tune

    return tune(params, show_progress)


__all__ = ["TuneParams", "tune_verb"]
