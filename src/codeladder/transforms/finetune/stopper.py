"""The callback that enforces ``--stop-if`` rules (:mod:`.alerts`) during ``Trainer.train``.

Last good weights: the values logged at step N (loss, gradient norm) are measured on the weights before update N,
so a rule firing at step N condemns those weights too; the weights kept are the ones from before update N-1 (the
starting weights when N = 1). Two copies of the trainable weights are held on the CPU for that, refreshed in place
each step: megabytes for an adapter. A full fine-tune holds them only when it has ``--stop-if`` rules (twice the
model: the price of rules on a full run); without rules a non-finite loss still stops it, and no weights are
written, since none known to be good are held.
"""

from __future__ import annotations

from transformers import TrainerCallback

from codeladder.transforms.finetune.alerts import non_finite, parse_rule
from codeladder.transforms.finetune.meter import Meter


class Alerts(TrainerCallback):
    """Checks every logged entry against the rules; on the first that fires, stops the run (no checkpoint of
    the condemned weights) and records what fired in :attr:`fired`."""

    def __init__(self, rules: tuple[str, ...], keep_copies: bool = True):
        self.rules = [parse_rule(text) for text in rules]
        self.keep_copies = keep_copies
        self.fired: dict | None = None
        self._older: list | None = None  # weights before update N-1 (step N-2's end)
        self._newer: list | None = None  # weights before update N
        self._steps = [0, 0]  # the global step each copy was taken at (older, newer)

    def on_step_begin(self, args, state, control, model=None, **kwargs):
        if not self.keep_copies:
            return
        trainable = [p for p in model.parameters() if p.requires_grad]
        first = self._newer is None
        if first:
            self._older = [p.detach().to("cpu", copy=True) for p in trainable]
            self._newer = [p.detach().to("cpu", copy=True) for p in trainable]
        else:
            self._older, self._newer = self._newer, self._older
            for copy, param in zip(self._newer, trainable):
                copy.copy_(param.detach())
        self._steps = [state.global_step] * 2 if first else [self._steps[1], state.global_step]

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.fired is not None or not logs:
            return
        key = non_finite(logs)
        rule = next((r for r in self.rules if r.fires(logs)), None)
        if key is None and rule is None:
            return
        values = {k: logs[k] for k in ("loss", "grad_norm", "learning_rate", "eval_loss") if k in logs}
        self.fired = {"rule": f"{key} is not finite" if key else rule.text, "step": state.global_step,
                      "values": values, "kept_weights_of_step": self._steps[0] if self.keep_copies else None}
        control.should_training_stop = True
        control.should_save = False

    def restore(self, model) -> bool:
        """Put the last good weights back into ``model`` (after a rule fired); False when none were held."""
        import torch

        good = self._older if self._older is not None else self._newer
        if good is None:
            return False
        with torch.no_grad():
            for param, copy in zip([p for p in model.parameters() if p.requires_grad], good):
                param.copy_(copy.to(param.device))
        return True

    def message(self, output: str) -> str:
        fired = self.fired or {}
        values = ", ".join(f"{k} {v:.4g}" for k, v in fired.get("values", {}).items())
        kept = (f"the weights of step {fired.get('kept_weights_of_step')} were kept and written to {output}" if output
                else "no weights were written (a full fine-tune holds last good weights only with --stop-if rules)")
        return f"training stopped at step {fired.get('step')}: {fired.get('rule')} ({values}); {kept}; see " \
               "train_report.json (alert)"


def alerts_of(trainer) -> Alerts | None:
    return next((c for c in trainer.callback_handler.callbacks if isinstance(c, Alerts)), None)


def training_callbacks(job) -> list:
    """What every trainer of a run carries: the progress meter and the alerts."""
    keep = bool(job.params.stop_if) or job.params.method != "full"
    return [Meter(job.device, job.show), Alerts(job.params.stop_if, keep_copies=keep), *job.callbacks]


__all__ = ["Alerts", "alerts_of", "training_callbacks"]
