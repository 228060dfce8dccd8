"""Training alerts: ``--stop-if "loss > 10"`` rules checked at every logging step, a non-finite loss or gradient
norm always; the first rule that fires stops the run, which keeps its last good weights.

transformers' ``TrainerCallback`` does the hooking (``on_step_begin`` before each optimizer step, ``on_log`` with
the step's logged values); TRL and transformers have no rule language or "last good weights" notion, hence this
file (the rule language, torch-free, so the params classes can check rules) and :mod:`.stopper` (the callback).
See :mod:`.stopper` for which weights a stopped run keeps.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Any

OPERATORS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
ALIASES = {"val_loss": "eval_loss"}  # the report's name for the validation loss; transformers logs eval_loss
ALWAYS = ("loss", "grad_norm", "eval_loss")  # non-finite values of these always stop a run
_RULE = re.compile(r"\s*([A-Za-z_][\w/.]*)\s*(>=|<=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*")


@dataclass(frozen=True)
class Rule:
    metric: str
    op: str
    threshold: float

    @property
    def text(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"

    def fires(self, logs: dict) -> bool:
        value = logs.get(ALIASES.get(self.metric, self.metric))
        return isinstance(value, (int, float)) and OPERATORS[self.op](float(value), self.threshold)


def parse_rule(text: str) -> Rule:
    match = _RULE.fullmatch(text)
    if not match:
        raise ValueError(f"rule {text!r}: write METRIC OP NUMBER with OP one of > >= < <=, e.g. \"loss > 10\" "
                         "or \"grad_norm > 100\"")
    return Rule(match.group(1), match.group(2), float(match.group(3)))


def alert_rules(value: Any) -> Any:
    """The ``--stop-if`` option: rules separated by commas (or a list in a recipe), each checked and written
    back in one spelling (``"loss > 10"``)."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(parse_rule(str(item)).text for item in items if str(item).strip())


def non_finite(logs: dict) -> str | None:
    for key in ALWAYS:
        value = logs.get(key)
        if isinstance(value, (int, float)) and not math.isfinite(value):
            return key
    return None


__all__ = ["Rule", "parse_rule", "alert_rules", "non_finite", "ALIASES", "OPERATORS"]
