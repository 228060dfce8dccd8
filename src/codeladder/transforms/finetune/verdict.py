"""The run's verdict on its own loss curve: ``learned``, ``no-measurable-learning`` or ``diverged``.

A loss that goes from 8.336 to 8.320 has not measurably moved, and a final loss above the first is not success;
the verdict says which, by one stated rule whose numbers are written into ``train_report.json``
(``verdict_rule``), so a reader can redo it by hand:

1. ``n`` logged step losses; ``k = max(1, n // 4)``; ``first`` = mean of the first ``k``, ``last`` = mean of the
   last ``k``; ``drop = first - last``.
2. The step-to-step noise ``sigma = 1.4826 * median(|loss[i+1] - 2 loss[i] + loss[i-1]|) / sqrt(6)`` (a robust
   spread: a straight trend cancels in the second difference, and one spike barely moves the median); the two
   means differ by noise alone by about ``sigma * sqrt(2 / k)``.
3. ``threshold = max(Z * sigma * sqrt(2 / k), MIN_RELATIVE * first)``: a change must clear both the noise and
   1% of the starting loss.
4. ``diverged`` when any loss (step or validation) is not finite, or ``-drop > threshold``;
   ``learned`` when ``drop > threshold`` and, where there is a validation loss, the last one is below ``first``
   by more than ``threshold`` too (held-out rows improved, not only the training rows);
   else ``no-measurable-learning`` (fewer than two logged losses included).

Gates read numbers, so the report also carries ``verdict_learned``, ``verdict_diverged`` and
``verdict_no_measurable_learning`` (0 or 1).
"""

from __future__ import annotations

import math
from statistics import fmean, median

VERDICTS = ("learned", "no-measurable-learning", "diverged")
Z = 2.0
MIN_RELATIVE = 0.01
RULE = ("k = max(1, n//4); first/last = mean of the first/last k step losses; sigma = 1.4826 * median(|second "
        "differences of the step losses|) / sqrt(6); threshold = max(z * sigma * sqrt(2/k), min_relative * first); "
        "diverged: a loss not finite or last - first > threshold; learned: first - last > threshold and (no "
        "validation loss, or first - last validation loss > threshold); else no-measurable-learning")


def step_noise(losses: list[float]) -> float:
    """Robust per-step noise of a loss curve: the median absolute second difference (a straight trend cancels in
    it; independent noise of spread sigma gives differences of spread sigma * sqrt(6)), scaled to a standard
    deviation; with fewer than three losses, the first difference (spread sigma * sqrt(2))."""
    if len(losses) < 2:
        return 0.0
    if len(losses) == 2:
        return 1.4826 * abs(losses[1] - losses[0]) / math.sqrt(2)
    second = (abs(c - 2 * b + a) for a, b, c in zip(losses, losses[1:], losses[2:]))
    return 1.4826 * median(second) / math.sqrt(6)


def _numbers(losses: list[float], val_losses: list[float]) -> dict:
    n = len(losses)
    k = max(1, n // 4)
    first, last = fmean(losses[:k]), fmean(losses[-k:])
    sigma = step_noise(losses)
    threshold = max(Z * sigma * math.sqrt(2 / k), MIN_RELATIVE * abs(first))
    numbers = {"rule": RULE, "n": n, "k": k, "z": Z, "min_relative": MIN_RELATIVE, "first_mean": first,
               "last_mean": last, "drop": first - last, "sigma": sigma, "threshold": threshold}
    if val_losses:
        numbers["val_loss_last"] = val_losses[-1]
        numbers["val_drop"] = first - val_losses[-1]
    return {key: round(value, 6) if isinstance(value, float) else value for key, value in numbers.items()}


def _decide(numbers: dict) -> tuple[str, str]:
    drop, threshold = numbers["drop"], numbers["threshold"]
    said = (f"loss {numbers['first_mean']:.4g} -> {numbers['last_mean']:.4g} (mean of the first and last "
            f"{numbers['k']} of {numbers['n']} steps), threshold {threshold:.3g}")
    if -drop > threshold:
        return "diverged", f"{said}: the loss rose"
    if drop <= threshold:
        return "no-measurable-learning", f"{said}: the change is within noise"
    if "val_drop" in numbers and numbers["val_drop"] <= threshold:
        return "no-measurable-learning", (f"{said}, but the validation loss {numbers['val_loss_last']:.4g} is not "
                                          "measurably below the starting loss")
    return "learned", said


def judge_training(losses: list[float], val_losses: list[float]) -> dict:
    """``verdict``, ``verdict_reason``, ``verdict_rule`` (the rule and its numbers) and the 0/1 gate fields."""
    if any(not math.isfinite(x) for x in [*losses, *val_losses]):
        verdict, reason, numbers = "diverged", "a loss is not finite (nan or inf)", {"rule": RULE, "n": len(losses)}
    elif len(losses) < 2:
        verdict, reason = "no-measurable-learning", f"{len(losses)} logged loss(es): nothing to compare"
        numbers = {"rule": RULE, "n": len(losses)}
    else:
        numbers = _numbers(losses, val_losses)
        verdict, reason = _decide(numbers)
    return {"verdict": verdict, "verdict_reason": reason, "verdict_rule": numbers,
            **{f"verdict_{name.replace('-', '_')}": int(verdict == name) for name in VERDICTS}}


__all__ = ["judge_training", "step_noise", "VERDICTS", "RULE", "Z", "MIN_RELATIVE"]
