"""``logit_parity``: two backends (or two files of one model) agree: the minimum cosine between their logits
over every position of ``ladder parity --json``'s prompts is at least a bound."""

from __future__ import annotations

from codeladder.contracts.base import Artifacts, ClaimParams, NotApplicable, Outcome, judged


class LogitParityParams(ClaimParams):
    min_cosine: float = 0.999


def check(params: LogitParityParams, artifacts: Artifacts) -> Outcome:
    parity, path = artifacts.json("parity")
    if "cosine_min" not in parity:
        raise NotApplicable(f"{path} is not a `ladder parity --json` result (no cosine_min)")
    value = float(parity["cosine_min"])
    return judged(value >= params.min_cosine, value, params.min_cosine, [f"{path}: cosine_min"],
                  f"{parity.get('a')} vs {parity.get('b')}")
