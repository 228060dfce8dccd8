"""``OUT/train_report.json`` and what the user sees while training runs.

TRL/transformers log a loss, a learning rate and (TRL) a token count per step into ``state.log_history``,
which every checkpoint saves, so a resumed run still knows its earlier epochs; :mod:`.meter` adds per-epoch
wall time, tokens and peak memory to it. Hand-written here (torch-free, so refusals stay fast): the per-epoch
table built from that history, the DPO per-step rows, the atomic report and the display of the label mask.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from codeladder.runs import write_text_atomic

REPORT_NAME = "train_report.json"
EPOCH_KEY = "ladder_epoch"  # the Meter's per-epoch entries in state.log_history (see meter.py)


def _epoch_of(entry: dict) -> int:
    return max(1, math.ceil(round(float(entry["epoch"]), 6)))


def epoch_table(history: list[dict], loss_key: str = "loss") -> list[dict]:
    """One ``{epoch, train_loss, val_loss, learning_rate, tokens_per_s, peak_memory_mb}`` per epoch."""
    steps = [e for e in history if loss_key in e and "epoch" in e and "train_runtime" not in e]
    evals = {_epoch_of(e): e["eval_loss"] for e in history if "eval_loss" in e and "epoch" in e}
    meters = {e[EPOCH_KEY]: e for e in history if EPOCH_KEY in e}
    table = []
    for epoch in sorted({_epoch_of(e) for e in steps}):
        mine = [e for e in steps if _epoch_of(e) == epoch]
        meter = meters.get(epoch, {})
        seconds, tokens = meter.get("seconds"), meter.get("tokens")
        table.append({"epoch": epoch, "train_loss": round(sum(e[loss_key] for e in mine) / len(mine), 5),
                      "val_loss": round(evals[epoch], 5) if epoch in evals else None,
                      "learning_rate": mine[-1].get("learning_rate"),
                      "tokens_per_s": round(tokens / seconds, 1) if seconds and tokens else None,
                      "peak_memory_mb": meter.get("peak_memory_mb")})
    return table


def dpo_steps(history: list[dict]) -> list[dict]:
    """Per optimizer step: loss, reward margin, reward accuracy (TRL's ``rewards/*`` metrics)."""
    return [{"step": e["step"], "epoch": e.get("epoch"), "loss": e["loss"],
             "reward_margin": e.get("rewards/margins"), "reward_accuracy": e.get("rewards/accuracies"),
             "reward_chosen": e.get("rewards/chosen"), "reward_rejected": e.get("rewards/rejected")}
            for e in history if "loss" in e and "train_runtime" not in e]


def step_losses(history: list[dict]) -> list[float]:
    return [round(e["loss"], 5) for e in history if "loss" in e and "train_runtime" not in e]


def write_report(out: Path, report: dict) -> Path:
    path = Path(out) / REPORT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(report, indent=2) + "\n")
    return path


def say(message: str, show: bool) -> None:
    """A note to stderr while the run goes (the CLI's result table comes at the end)."""
    if show:
        print(message, file=sys.stderr, flush=True)


def show_label_mask(first: dict, show: bool, limit: int = 160) -> None:
    """The first example, token by token: dim = no loss, green = carries loss."""
    if not show:
        return
    from rich.console import Console
    from rich.text import Text

    text = Text()
    for piece, bit in list(zip(first["pieces"], first["mask"]))[:limit]:
        text.append(piece, style="bold green" if bit == "1" else "dim")
    console = Console(stderr=True, soft_wrap=True)
    console.print(f"label mask, line {first['line']}: {first['supervised']} of {first['tokens']} tokens carry loss "
                  "(green):", highlight=False)
    console.print(text)


__all__ = ["epoch_table", "dpo_steps", "step_losses", "write_report", "say", "show_label_mask", "REPORT_NAME",
           "EPOCH_KEY"]
