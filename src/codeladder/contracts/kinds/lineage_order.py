"""``lineage_order``: the weight-changing stages in a model's lineage come in the ladder's order (distill ->
finetune -> dpo -> merge -> prune -> quantize), and nothing changed the weights after quantize. The order is the
one recipes enforce (:mod:`codeladder.pipeline.order`)."""

from __future__ import annotations

from codeladder.contracts.base import Artifacts, ClaimParams, NotApplicable, Outcome, judged, model_lineage
from codeladder.pipeline.order import ORDER

_ALIASES = {"merge-adapter": "finetune", "sft": "finetune", "lora": "finetune", "qlora": "finetune",
            "full": "finetune"}


class LineageOrderParams(ClaimParams):
    pass


def check(params: LineageOrderParams, artifacts: Artifacts) -> Outcome:
    model = artifacts.path("model")
    lineage, path = model_lineage(model)
    names = [str(s.get("stage")) for s in lineage.get("stages", [])]
    placed = [(n, ORDER.index(_ALIASES.get(n, n))) for n in names if _ALIASES.get(n, n) in ORDER]
    if not placed:
        raise NotApplicable(f"{path} records no weight-changing stage")
    backwards = [f"{a} before {b}" for (a, i), (b, j) in zip(placed, placed[1:]) if j < i]
    return judged(not backwards, " -> ".join(names), " -> ".join(ORDER), [f"{path}: stages[*].stage"],
                  "out of order: " + ", ".join(backwards) if backwards else "in order")
