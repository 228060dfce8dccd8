"""What a recipe needs to know about a verb besides its params: its stage kind (inputs, output path, order,
whether it changes weights, the result fields gates may name). The verbs themselves, and which of them are
stages, are declared once in the verb table (:mod:`codeladder.verbs`), which fills the ``stage`` registry
(``ladder ls stage``).

Verbs a recipe may name that this version does not have yet are in ``PLANNED``: ``plan`` shows the stage as
unavailable, ``run`` refuses before doing anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from codeladder.registry import Entry, registry
from codeladder.transforms.finetune.params import ADAPTER_METHODS

PLANNED = {"submit": "a recipe stage that publishes (`ladder submit` runs on its own today)"}


def _self(values: dict) -> str:
    return ""


@dataclass(frozen=True)
class StageKind:
    """What the runner needs to know about a verb besides its params."""

    inputs: tuple[str, ...]  # params fields given under ``inputs:`` (paths, or earlier stages' outputs)
    order: str | None = None  # its place in ORDER (codeladder.pipeline.order), None: not ordered
    weights: bool = False  # writes a model whose weights differ from its input's
    preset: dict = field(default_factory=dict)  # values fixed by the stage kind (dpo: method dpo)
    output_field: str = "output"
    output_name: Callable[[dict], str] = _self  # the output inside the stage folder ("" = the folder itself)
    remote_ok: tuple[str, ...] = ()  # inputs that may name something that is no local path (hub id, served name)
    results: tuple[str, ...] | None = None  # the metrics its result file holds (fnmatch patterns); None: not declared
    summary: str = ""  # for ``ladder ls stage`` when it differs from the verb's (dpo, compare)

    def outputs(self, out: Path, values: dict) -> dict[str, Path]:
        """The stage's outputs by name; the first is what a later stage gets when it names this one."""
        return {"output": out}


@dataclass(frozen=True)
class TrainKind(StageKind):
    """finetune/dpo write OUT/adapter (LoRA methods) and OUT/merged (``merge: true`` or method full)."""

    def outputs(self, out: Path, values: dict) -> dict[str, Path]:
        found = {}
        if values.get("merge") or values.get("method") == "full":
            found["merged"] = out / "merged"
        if values.get("method") in ADAPTER_METHODS:
            found["adapter"] = out / "adapter"
        return found


def quantized_name(values: dict) -> str:
    scheme = values.get("scheme")
    if scheme in registry("quantize") and registry("quantize").get(scheme).data.get("output") == "file":
        return "model.gguf"
    return ""


def exported_name(values: dict) -> str:
    return "model.gguf" if values.get("format", "gguf") == "gguf" else ""


# What each verb's result file holds, as gates name it (``codeladder.pipeline.gates.metrics``): ``recipe plan``
# refuses a gate on anything else, with a did-you-mean, before any stage runs.
EVAL_RESULTS = ("pass@*", "*.pass@*", "pass_at_k.*", "pass_at_k_base.*", "ci95_low", "ci95_high", "num_tasks",
                "num_samples", "num_tasks_in_benchmark", "timings.*", "statuses.*", "checkers.*", "generation.*",
                "limits.*")
TRAIN_RESULTS = ("train_loss", "val_loss", "steps", "max_steps", "train_runtime_s", "rows.*", "hyperparameters.*",
                 "guards.*", "outputs.*", "verdict_learned", "verdict_diverged", "verdict_no_measurable_learning",
                 "verdict_rule.*", "dpo.*", "resumed_from")
MERGE_RESULTS = ("t", "density", "seed", "summary.*", "tensors", "tensors.*", "norm_ratio_min", "norm_ratio_max",
                 "sign_conflicts_before", "sign_conflicts_after")
PRUNE_RESULTS = ("sparsity", "sparsity_achieved", "layers.*", "perplexity_before", "perplexity_after",
                 "perplexity_ratio")
QUANTIZE_RESULTS = ("parameters", "fp16_bytes", "bytes", "size_vs_fp16", "size_ratio", "bits_per_weight",
                    "perplexity_before", "perplexity_after", "perplexity_delta", "perplexity_ratio")
COMPARE_RESULTS = ("delta", "delta_ci95_low", "delta_ci95_high", "p_value", "tasks", "tasks_gained", "tasks_lost",
                   "outcome_gained", "outcome_regressed", "outcome_unchanged", "net_solved", "num_common_tasks",
                   "pass_at_1_delta", "before.*", "after.*", "paired.*", "*.outcome_*", "*.delta_ci95_*")


def stage_kind(entry: Entry) -> StageKind:
    return entry.data["kind"]


def __getattr__(name: str):
    """``STAGES``: the stage registry, for plug-ins written against earlier releases (``STAGES.add(...)``)."""
    if name == "STAGES":
        return registry("stage")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["PLANNED", "StageKind", "TrainKind", "stage_kind", "quantized_name", "exported_name", "EVAL_RESULTS",
           "TRAIN_RESULTS", "MERGE_RESULTS", "PRUNE_RESULTS", "QUANTIZE_RESULTS", "COMPARE_RESULTS"]
