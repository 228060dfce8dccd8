"""Executable contracts: YAML files of falsifiable claims about models and runs, checked against result files.

A claim is an instance of a *kind* from the ``claim`` registry (one module each under ``kinds/``: its params class
and a ``check`` function); ``ladder ls claim`` lists them. ``ladder contracts check`` runs every claim of the given
files (default: the shipped ones) and prints pass / fail / not-applicable with the evidence. Recipe gates and
contracts share the vocabulary of the result files (``summary.json``, ``report.json``, lineage).
"""

from __future__ import annotations

from codeladder.contracts.kinds import (decontamination, lineage_order, logit_parity, merge_norms, pass_at_k,
                                        pass_at_k_delta, perplexity_ratio, run_measured, size_ratio, sign_conflicts,
                                        sparsity, tokenizer_preserved)
from codeladder.registry import new_registry

CLAIMS = new_registry("claim")
_KINDS = "codeladder.contracts.kinds"


def _add(name: str, summary: str, module, artifacts: str) -> None:
    params = next(v for k, v in vars(module).items() if k.endswith("Params") and k != "ClaimParams")
    CLAIMS.add(name, summary, f"{_KINDS}.{name}:check", params=params, artifacts=tuple(artifacts.split()))


_add("pass_at_k", "a run's pass@k is at least a bound", pass_at_k, "run")
_add("run_measured", "a run judged at least N tasks of its benchmark, every sample with a verdict", run_measured,
     "run")
_add("pass_at_k_delta", "a candidate run is within X pp of a reference run on the same benchmark", pass_at_k_delta,
     "reference candidate")
_add("size_ratio", "a model's bytes over a reference's are at most a bound", size_ratio, "model reference")
_add("perplexity_ratio", "perplexity after over before is at most a bound", perplexity_ratio, "report")
_add("logit_parity", "the minimum logit cosine between two backends is at least a bound", logit_parity, "parity")
_add("tokenizer_preserved", "tokenizer files byte-equal through the whole lineage", tokenizer_preserved, "model")
_add("merge_norms", "a SLERP merge keeps every tensor's norm within a tolerance", merge_norms, "merge")
_add("sign_conflicts", "TIES leaves fewer sign conflicts than a naive sum", sign_conflicts, "merge")
_add("sparsity", "every pruned row reaches the sparsity, read from the weights", sparsity, "model")
_add("decontamination", "the share of flagged training rows is at most a bound", decontamination, "report")
_add("lineage_order", "weight-changing stages in ladder order, nothing after quantize", lineage_order, "model")

__all__ = ["CLAIMS"]
