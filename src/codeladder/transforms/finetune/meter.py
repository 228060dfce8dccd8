"""The training loop's callback: the project's progress bar in place of transformers' tqdm, and per-epoch wall
time, tokens and peak memory appended to ``state.log_history`` (so checkpoints carry them and a resumed run's
report still has every epoch). transformers has no per-epoch throughput or memory record, hence hand-written.
"""

from __future__ import annotations

import math
import resource
import time

from transformers import TrainerCallback

from codeladder.progress import progress_bar
from codeladder.transforms.finetune.report import EPOCH_KEY


def peak_memory_mb(device: str) -> float:
    """Peak GPU memory allocated on CUDA; the process's peak resident memory on CPU (it never goes down)."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Meter(TrainerCallback):
    """Progress bar per optimizer step; at each epoch's end a ``ladder_epoch`` entry (seconds, tokens, peak
    memory) appended to ``state.log_history`` so it is checkpointed with the rest."""

    def __init__(self, device: str, show: bool):
        self.device, self.show = device, show
        self._bar = None
        self._advance = None
        self._started = 0.0
        self._tokens = 0.0

    def _tokens_now(self, state) -> float:
        seen = [e["num_tokens"] for e in state.log_history if "num_tokens" in e]
        return float(seen[-1]) if seen else 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self._bar = progress_bar("training", state.max_steps, self.show)
        self._advance = self._bar.__enter__()
        self._advance(state.global_step)
        self._started, self._tokens = time.monotonic(), self._tokens_now(state)
        self._reset_peak()

    def _reset_peak(self) -> None:
        import torch

        if self.device.startswith("cuda") and torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._started, self._tokens = time.monotonic(), self._tokens_now(state)  # evaluation time left out
        self._reset_peak()

    def on_step_end(self, args, state, control, **kwargs):
        self._advance(1)

    def on_epoch_end(self, args, state, control, **kwargs):
        seconds = time.monotonic() - self._started
        tokens = self._tokens_now(state)
        state.log_history.append({EPOCH_KEY: math.ceil(round(state.epoch, 6)), "seconds": round(seconds, 3),
                                  "tokens": tokens - self._tokens, "peak_memory_mb": round(
                                      peak_memory_mb(self.device), 1), "step": state.global_step})

    def on_train_end(self, args, state, control, **kwargs):
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def quiet_trainer(trainer) -> None:
    """transformers prints every log dict to stdout when its tqdm is off; the Meter shows progress instead."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)


__all__ = ["Meter", "quiet_trainer", "peak_memory_mb"]
