"""``lineage_order``: the weight-changing stages in a model's lineage come in the ladder's order (distill ->
finetune -> dpo -> merge -> prune -> quantize), and nothing changed the weights after quantize. The order is the
one recipes enforce (:mod:`codeladder.pipeline.order`)."""

from __future__ import annotations

from codeladder.contracts.base import Artifacts, ClaimParams, NotApplicable, Outcome, judged, model_lineage
from codeladder.models.lineage import out_of_order
from codeladder.pipeline.order import ORDER

_ALIASES = {"merge-adapter": "finetune", "sft": "finetune", "lora": "finetune", "qlora": "finetune",
            "full": "finetune"}


class LineageOrderParams(ClaimParams):
    pass


def check(params: LineageOrderParams, artifacts: Artifacts) -> Outcome:
    model = artifacts.path("model")
    lineage, path = model_lineage(model)
    names = [str(s.get("stage")) for s in lineage.get("stages", [])]
    if not any(_ALIASES.get(n, n) in ORDER for n in names):
        raise NotApplicable(f"{path} records no weight-changing stage")
    backwards = [f"{a} before {b}" for a, b in out_of_order(lineage, ORDER, _ALIASES)]
    return judged(not backwards, " -> ".join(names), " -> ".join(ORDER), [f"{path}: stages[*].stage"],
                  "out of order: " + ", ".join(backwards) if backwards else "in order")
