"""``perplexity_ratio``: perplexity after a transform over before is at most a bound; read from the transform's
report (``perplexity_before``/``perplexity_after``: prune, quantize with ``--text``) or from two
``ladder perplexity --json`` results (``model``, ``reference``)."""

from __future__ import annotations

from codeladder.contracts.base import Artifacts, ClaimParams, NotApplicable, Outcome, judged


class PerplexityRatioParams(ClaimParams):
    max: float


def _before_after(artifacts: Artifacts) -> tuple[float, float, list[str]]:
    if "report" in artifacts.named:
        report, path = artifacts.json("report", "report.json")
        report = report.get("report", report)  # a GGUF sidecar keeps the report under "report"
        if "perplexity_before" not in report or "perplexity_after" not in report:
            raise NotApplicable(f"{path} has no perplexity_before/perplexity_after (made without --text?)")
        return float(report["perplexity_before"]), float(report["perplexity_after"]), [path]
    reference, ref_path = artifacts.json("reference")
    model, model_path = artifacts.json("model")
    return float(reference["perplexity"]), float(model["perplexity"]), [ref_path, model_path]


def check(params: PerplexityRatioParams, artifacts: Artifacts) -> Outcome:
    before, after, evidence = _before_after(artifacts)
    ratio = after / before
    return judged(ratio <= params.max, round(ratio, 6), params.max, evidence, f"perplexity {before:.4f} -> {after:.4f}")
