"""The verb table: every ``ladder`` verb declared once (name, panel, params class, library function, and, where
it can be a recipe stage, its stage kind with the result fields gates may name).

``cli/`` generates every command from this table and adds only a renderer; ``pipeline/`` reads the ``stage``
registry filled from the same entries; ``ladder ls verb`` and ``ladder ls stage`` list them. Adding a verb is
one :func:`add_verb` call with a :class:`Verb` (a plug-in module named in ``LADDER_PLUGINS`` may do the same).

Why one table file rather than a declaration beside each function: the whole command surface reads in one
sitting, and listing it never imports torch or llama.cpp (functions are ``"module:function"`` strings, resolved
when the verb runs; only the params classes, which are light, are imported here).
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeladder.analysis.compare import CompareParams
from codeladder.analysis.failures import FailuresParams
from codeladder.analysis.history import HistoryParams
from codeladder.analysis.oracle import OracleParams
from codeladder.contracts.check import ContractsCheckParams
from codeladder.data.decontaminate import DecontaminateParams
from codeladder.data.pairs import PairsParams
from codeladder.data.prep import PrepParams
from codeladder.data.quality import QualityParams
from codeladder.data.sft import SftParams
from codeladder.data.split import CalibrationParams, SplitParams
from codeladder.envs.manage import EnvCheckParams, EnvCreateParams, EnvLsParams
from codeladder.evaluate import EvalParams
from codeladder.listing import LsParams
from codeladder.measure.bench import BenchParams
from codeladder.measure.check import CheckParams
from codeladder.measure.parity import ParityParams
from codeladder.measure.perplexity import PerplexityParams
from codeladder.measure.run import RunParams
from codeladder.models.export_types import ExportParams
from codeladder.models.fetch import FetchParams
from codeladder.models.io import ImportParams
from codeladder.models.tiny import TinyParams
from codeladder.params import VerbParams
from codeladder.pipeline.stages import (COMPARE_RESULTS, EVAL_RESULTS, MERGE_RESULTS, PRUNE_RESULTS, QUANTIZE_RESULTS,
                                        TRAIN_RESULTS, StageKind, TrainKind, exported_name, quantized_name)
from codeladder.pipeline.verbs import (RecipeCpParams, RecipeLsParams, RecipePlanParams, RecipeResumeParams,
                                       RecipeRunParams, RecipeShowParams)
from codeladder.registry import new_registry
from codeladder.report.make import ReportParams
from codeladder.ship.compile import CompileParams
from codeladder.ship.submit import SubmitParams
from codeladder.transforms.adapter import MergeAdapterParams
from codeladder.transforms.finetune.distill import DistillParams
from codeladder.transforms.finetune.params import FinetuneParams
from codeladder.transforms.merge.params import MergeModelsParams
from codeladder.transforms.prune import PruneParams
from codeladder.transforms.quantize import QuantizeParams
from codeladder.tune.params import TuneParams

PANELS = ("measure", "models", "improve", "pipeline", "ship", "inspect")
GROUPS = {  # a sub-command group's one-line help (``ladder data --help``)
    "env": "Evaluation environments: a benchmark's test-time libraries in a venv of their own.",
    "data": "Training data: SFT rows from a pool, preference pairs from a run, rows from a source tree, "
            "decontamination, quality.",
    "recipe": "Recipes: a whole climb (stages = verbs, gates between them) from one YAML file, resumable.",
    "contracts": "Executable contracts: falsifiable claims checked against result files.",
    "analyze": "Analyse finished runs: oracle, failures, compare two runs, a model's history.",
}
VERBS = new_registry("verb")
STAGES = new_registry("stage")


@dataclass(frozen=True)
class Verb:
    """One verb: ``run`` is called with a ``params`` object (and ``show_progress=True`` from the CLI and recipes
    when ``progress``); ``stages`` names the recipe stages it serves (usually one, under its own name)."""

    name: str
    panel: str
    params: type[VerbParams]
    run: str | Callable  # "module:function" (resolved when the verb runs), or the function itself
    stages: dict[str, StageKind] = field(default_factory=dict)
    json: bool = False  # a --json flag: print the result as JSON instead of a table
    engine_options: bool = False  # takes the backends' own options (--device, --n-ctx, --base-url, ...)
    progress: bool = False  # run(params, show_progress=True) shows a progress bar

    @property
    def summary(self) -> str:
        """The first sentence of the params class's docstring, on one line."""
        paragraph = " ".join(inspect.cleandoc(self.params.__doc__ or "").split("\n\n")[0].split())
        return re.split(r"(?<=\.)\s", paragraph, maxsplit=1)[0]

    @property
    def source(self) -> str:
        """The library file that implements the verb (where its params class lives)."""
        path = Path(inspect.getsourcefile(self.params) or "")
        return "/".join(path.parts[path.parts.index("codeladder") - 1:]) if "codeladder" in path.parts else str(path)

    def load(self) -> Callable:
        if callable(self.run):
            return self.run
        module, _, attribute = self.run.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def call(self, params: VerbParams, show_progress: bool = False) -> Any:
        function = self.load()
        return function(params, show_progress=True) if self.progress and show_progress else function(params)


def add_verb(verb: Verb) -> Verb:
    """Register a verb: the CLI command, ``ladder ls verb`` and each of its recipe stages come from this."""
    if verb.panel not in PANELS:
        raise ValueError(f"verb {verb.name!r}: panel {verb.panel!r} is not one of {', '.join(PANELS)}")
    VERBS.add(verb.name, verb.summary, verb.run, params=verb.params, verb=verb)
    for stage, kind in verb.stages.items():
        STAGES.add(stage, kind.summary or verb.summary, verb.run, params=verb.params, kind=kind, verb=verb)
    return verb


def remove_verb(name: str) -> None:
    verb: Verb = VERBS.get(name).data["verb"]
    VERBS.remove(name)
    for stage in verb.stages:
        STAGES.remove(stage)


def all_verbs() -> list[Verb]:
    """Every verb, panel by panel, in table order within a panel."""
    verbs = [entry.data["verb"] for entry in VERBS.entries()]
    return sorted(verbs, key=lambda verb: PANELS.index(verb.panel))


def _add(name: str, panel: str, params: type[VerbParams], run: str, stage: StageKind | None = None,
         stages: dict[str, StageKind] | None = None, json: bool = True, **flags) -> None:
    named = dict(stages or {})
    if stage is not None:
        named[name] = stage
    add_verb(Verb(name, panel, params, run, named, json=json, **flags))


_FT = "codeladder.transforms.finetune:finetune_verb"

# measure
_add("eval", "measure", EvalParams, "codeladder.evaluate:evaluate", engine_options=True, progress=True,
     stage=StageKind(inputs=("model", "samples"), remote_ok=("model",), results=EVAL_RESULTS))
_add("run", "measure", RunParams, "codeladder.measure.run:run_verb", json=False, engine_options=True)
_add("bench", "measure", BenchParams, "codeladder.measure.bench:bench_verb")
_add("parity", "measure", ParityParams, "codeladder.measure.parity:parity_verb")
_add("perplexity", "measure", PerplexityParams, "codeladder.measure.perplexity:perplexity_verb")
_add("env create", "measure", EnvCreateParams, "codeladder.envs.manage:create_env", progress=True)
_add("env ls", "measure", EnvLsParams, "codeladder.envs.manage:env_ls")
_add("env check", "measure", EnvCheckParams, "codeladder.envs.manage:check_env")
# models
_add("tiny", "models", TinyParams, "codeladder.models.tiny:tiny", json=False, stage=StageKind(inputs=()))
_add("fetch", "models", FetchParams, "codeladder.models.fetch:fetch_verb", json=False,
     stage=StageKind(inputs=(), output_name=lambda values: "model.gguf"))
_add("import", "models", ImportParams, "codeladder.models.io:import_verb", json=False,
     stage=StageKind(inputs=("source",), remote_ok=("source",)))
_add("check", "models", CheckParams, "codeladder.measure.check:check_verb")
_add("export", "models", ExportParams, "codeladder.models.export_types:export_model",
     stage=StageKind(inputs=("folder",), output_name=exported_name))
# improve
_add("merge", "improve", MergeModelsParams, "codeladder.transforms.merge.engine:merge", progress=True,
     stage=StageKind(inputs=("models", "base", "tokenizer_source"), order="merge", weights=True, results=MERGE_RESULTS))
_add("merge-adapter", "improve", MergeAdapterParams, "codeladder.transforms.adapter:merge_adapter_verb",
     stage=StageKind(inputs=("base", "adapter"), order="finetune", weights=True))
_add("prune", "improve", PruneParams, "codeladder.transforms.prune.engine:prune",
     stage=StageKind(inputs=("folder", "calibration", "text"), order="prune", weights=True, results=PRUNE_RESULTS))
_add("quantize", "improve", QuantizeParams, "codeladder.transforms.quantize:quantize_verb",
     stage=StageKind(inputs=("folder", "text"), order="quantize", weights=True, output_name=quantized_name,
                     results=QUANTIZE_RESULTS))
_add("finetune", "improve", FinetuneParams, _FT, stages={
    "finetune": TrainKind(inputs=("base", "data"), order="finetune", weights=True, results=TRAIN_RESULTS,
                          summary="LoRA / QLoRA / full fine-tuning (SFT)"),
    "dpo": TrainKind(inputs=("base", "data"), order="dpo", weights=True, preset={"method": "dpo"},
                     results=TRAIN_RESULTS,
                     summary="direct preference optimisation: the finetune verb with method dpo")})
_add("distill", "improve", DistillParams, "codeladder.transforms.finetune.distill:distill_verb", engine_options=True,
     stage=TrainKind(inputs=("teacher", "student"), order="distill", weights=True))
_add("tune", "improve", TuneParams, "codeladder.tune:tune_verb")
_add("data sft", "improve", SftParams, "codeladder.data.sft:make_sft",
     stage=StageKind(inputs=(), output_name=lambda values: "sft.jsonl",
                     results=("tasks", "rows", "dropped_contaminated")))
_add("data pairs", "improve", PairsParams, "codeladder.data.pairs:make_pairs",
     stage=StageKind(inputs=("run_dir",), output_name=lambda values: "pairs.jsonl",
                     results=("n", "tasks", "borderline_tasks", "tasks_with_pairs", "pairs", "max_per_task")))
_add("data prep", "improve", PrepParams, "codeladder.data.prep:prep")
_add("data split", "improve", SplitParams, "codeladder.data.split:split")
_add("data calibration", "improve", CalibrationParams, "codeladder.data.split:calibration")
_add("data decontaminate", "improve", DecontaminateParams, "codeladder.data.decontaminate:decontaminate_verb")
# pipeline
_add("recipe ls", "pipeline", RecipeLsParams, "codeladder.pipeline.verbs:list_recipes")
_add("recipe show", "pipeline", RecipeShowParams, "codeladder.pipeline.verbs:show_recipe", json=False)
_add("recipe cp", "pipeline", RecipeCpParams, "codeladder.pipeline.verbs:copy_recipe", json=False)
_add("recipe plan", "pipeline", RecipePlanParams, "codeladder.pipeline.verbs:plan_recipe")
_add("recipe run", "pipeline", RecipeRunParams, "codeladder.pipeline.verbs:run_recipe", progress=True)
_add("recipe resume", "pipeline", RecipeResumeParams, "codeladder.pipeline.verbs:resume_recipe", progress=True)
# ship
_add("contracts check", "ship", ContractsCheckParams, "codeladder.contracts.check:contracts_check")
_add("submit", "ship", SubmitParams, "codeladder.ship.submit:submit_verb")
_add("compile", "ship", CompileParams, "codeladder.ship.compile:compile_model",
     stage=StageKind(inputs=("model", "llama_source"), output_name=lambda values: "model"))
# inspect
_add("ls", "inspect", LsParams, "codeladder.listing:list_entries")
_add("data quality", "inspect", QualityParams, "codeladder.data.quality:quality")
_add("analyze oracle", "inspect", OracleParams, "codeladder.analysis.oracle:oracle")
_add("analyze failures", "inspect", FailuresParams, "codeladder.analysis.failures:failures")
_add("analyze compare", "inspect", CompareParams, "codeladder.analysis.compare:compare",
     stages={"compare": StageKind(inputs=("before", "after"), results=COMPARE_RESULTS,
                                  summary="a paired comparison of two eval stages on their shared tasks (compare.json: "
                                          "delta, its interval, p-value, outcome)")})
_add("analyze history", "inspect", HistoryParams, "codeladder.analysis.history:history")
_add("report", "inspect", ReportParams, "codeladder.report.make:make_report")

__all__ = ["Verb", "VERBS", "STAGES", "PANELS", "GROUPS", "add_verb", "remove_verb", "all_verbs"]
