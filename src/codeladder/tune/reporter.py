"""The trainer callback that feeds a trial's validation loss to Optuna's pruner and stops the trial when the pruner
says so. Every ``eval_every`` optimizer steps it asks the trainer for a validation pass (``control.should_evaluate``);
every validation loss (those and the epoch-end ones) is reported at its global step."""

from __future__ import annotations

from transformers import TrainerCallback


class PruneReporter(TrainerCallback):
    def __init__(self, trial, eval_every: int = 0, prune: bool = True):
        self.trial, self.eval_every, self.prune = trial, eval_every, prune
        self.pruned_at: int | None = None
        self.reported: dict[int, float] = {}

    def on_step_end(self, args, state, control, **kwargs):
        if self.eval_every and state.global_step % self.eval_every == 0:
            control.should_evaluate = True

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        loss = (metrics or {}).get("eval_loss")
        if loss is None or state.global_step in self.reported:
            return
        self.reported[state.global_step] = float(loss)
        self.trial.report(float(loss), state.global_step)
        if self.prune and self.pruned_at is None and self.trial.should_prune():
            self.pruned_at = state.global_step
            control.should_training_stop = True


__all__ = ["PruneReporter"]
