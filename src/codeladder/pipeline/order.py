"""The order of weight-changing stages: distill -> finetune -> dpo -> merge -> prune -> quantize.

Checked along each stage's lineage (the stages its inputs come from, transitively), not the file's order: two
independent branches may be listed in any order. A weight-changing stage downstream of quantize is an error
(training or merging quantized weights loses what quantization kept, and the result is not the model the
recipe claims); any other departure is a warning. ``--allow-order`` turns the error into a warning too.
"""

from __future__ import annotations

from codeladder.errors import LadderError
from codeladder.pipeline.schema import Recipe, Stage

ORDER = ("distill", "finetune", "dpo", "merge", "prune", "quantize")
ARROW = " -> ".join(ORDER)


def _order_kind(stage: Stage) -> tuple[str | None, bool]:
    """(its place in ORDER, whether it changes weights); planned verbs (distill) by their name."""
    if stage.kind is None:
        return (stage.verb, True) if stage.verb in ORDER else (None, False)
    return stage.kind.order, stage.kind.weights


def _ancestors(recipe: Recipe, stage: Stage) -> list[Stage]:
    """Every earlier stage this one's inputs come from, nearest first."""
    seen: list[Stage] = []
    todo = [r.value for r in stage.refs() if r.kind == "stage"]
    while todo:
        parent = recipe.stage(todo.pop(0))
        if parent not in seen:
            seen.append(parent)
            todo += [r.value for r in parent.refs() if r.kind == "stage"]
    return seen


def check_order(recipe: Recipe, allow_order: bool = False) -> list[str]:
    """Warnings for departures from ORDER; raises for a weight-changing stage after quantize (unless
    ``allow_order``, when that is one more warning)."""
    warnings: list[str] = []
    for stage in recipe.stages:
        order, weights = _order_kind(stage)
        if not weights:
            continue
        where = f"{recipe.path}:{stage.line}: stage {stage.name!r} ({stage.verb})"
        for parent in _ancestors(recipe, stage):
            parent_order, _ = _order_kind(parent)
            if parent_order is None:
                continue
            if parent_order == "quantize":
                message = (f"{where} changes weights after stage {parent.name!r} (quantize): quantize comes last "
                           f"({ARROW}); move it after, or pass --allow-order")
                if not allow_order:
                    raise LadderError(message)
                warnings.append(message)
                break
            if order and ORDER.index(parent_order) > ORDER.index(order):
                warnings.append(f"{where} comes after stage {parent.name!r} ({parent_order}); the usual order is "
                                f"{ARROW}")
                break
    return warnings


__all__ = ["ORDER", "check_order"]
