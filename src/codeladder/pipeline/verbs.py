"""The ``ladder recipe`` verbs as library calls, each with its typed params (the CLI is generated from them):
``ls``, ``show``, ``cp``, ``plan``, ``run``, ``resume``.

From Python::

    from codeladder.pipeline import RecipeRunParams, run_recipe
    result = run_recipe(RecipeRunParams(recipe="demo", output="runs/demo"))   # result["stopped"]: a failed gate
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import ClassVar, Optional

from codeladder.params import OUTPUT, VerbParams, option
from codeladder.pipeline import library, runner
from codeladder.pipeline.order import check_order
from codeladder.pipeline.record import LINEAGE_FILE, RunRecord
from codeladder.pipeline.schema import PLACEHOLDER_RUN, Recipe, Stage, stage_values


class RecipeLsParams(VerbParams):
    """List the shipped recipes."""

    verb: ClassVar[str] = "recipe ls"


class RecipeShowParams(VerbParams):
    """Print a recipe (shipped name or file) as written."""

    verb: ClassVar[str] = "recipe show"
    recipe: str = option(..., "a shipped recipe's name (see `ladder recipe ls`) or a recipe file", argument=True)


class RecipeCpParams(VerbParams):
    """Copy a recipe, and the small data files it names, to edit and run as your own."""

    verb: ClassVar[str] = "recipe cp"
    recipe: str = option(..., "a shipped recipe's name or a recipe file", argument=True)
    file: Path = option(..., "where to write the copy (a .yaml file, or a folder)", argument=True)
    overwrite: bool = option(False, "replace files that exist there")


class RecipePlanParams(VerbParams):
    """Validate a recipe and print its stage graph: inputs, outputs, gates, what exists and what would run."""

    verb: ClassVar[str] = "recipe plan"
    recipe: str = option(..., "a shipped recipe's name or a recipe file", argument=True)
    output: Optional[Path] = option(None, "a run folder: show which stages it has finished", flags=OUTPUT)
    allow_order: bool = option(False, "accept a weight-changing stage after quantize (a warning instead)")


class RecipeRunParams(VerbParams):
    """Run a recipe: every stage in order into a run folder with lineage.json; stops at the first failed gate."""

    verb: ClassVar[str] = "recipe run"
    recipe: str = option(..., "a shipped recipe's name or a recipe file", argument=True)
    output: Optional[Path] = option(None, "run folder (default runs/recipes/NAME-TIMESTAMP)", flags=OUTPUT)
    allow_order: bool = option(False, "accept a weight-changing stage after quantize (a warning instead)")


class RecipeResumeParams(VerbParams):
    """Resume a recipe run: finished stages (outputs verified by sha256) are skipped, the rest run."""

    verb: ClassVar[str] = "recipe resume"
    run_dir: Path = option(..., "the run folder `ladder recipe run` wrote", argument=True)


def list_recipes(params: RecipeLsParams) -> list[dict]:
    rows = []
    for name, path in library.shipped().items():
        recipe = library.load_recipe(path)
        rows.append({"name": name, "description": recipe.description, "stages": [s.verb for s in recipe.stages],
                     "path": str(path)})
    return rows


def show_recipe(params: RecipeShowParams) -> str:
    return library.find_recipe(params.recipe).read_text()


def copy_recipe(params: RecipeCpParams) -> list[str]:
    return [str(p) for p in library.copy_recipe(params.recipe, params.file, params.overwrite)]


def _state(stage: Stage, values: dict, done: dict) -> str:
    if stage.entry is None:
        return "unavailable (verb not in this codeladder yet)"
    missing = [r.describe() for r in stage.refs() if r.kind == "path" and not r.path.exists()]
    if missing:
        return f"input missing: {', '.join(missing)}"
    if done.get(stage.name) == "done":
        return "done (skipped by resume if unchanged)"
    return "would run" + (f" (checked when it runs: {stage.deferred})" if stage.deferred else "")


def _plan_stage(stage: Stage, run_dir: Path, done: dict) -> dict:
    row = {"name": stage.name, "verb": stage.verb, "line": stage.line, "available": stage.entry is not None,
           "inputs": {k: ([r.describe() for r in v] if isinstance(v, list) else v.describe())
                      for k, v in stage.inputs.items()},
           "config": stage.config, "gates": [g.expr for g in stage.gates]}
    values = stage_values(stage, run_dir) if stage.entry else {}
    if stage.entry:
        row["outputs"] = {k: str(p) for k, p in stage.kind.outputs(Path(values[stage.kind.output_field]),
                                                                     values).items()}
    row["state"] = _state(stage, values, done)
    return row


def plan_recipe(params: RecipePlanParams) -> dict:
    """The validated recipe as a plan (errors raise; order departures and unavailable verbs are warnings)."""
    recipe: Recipe = library.load_recipe(params.recipe)
    warnings = check_order(recipe, params.allow_order)
    warnings += [f"{recipe.path}:{s.line}: stage {s.name!r}: verb {s.verb!r} is not in this version of codeladder "
                 "yet; this recipe cannot run until it lands" for s in recipe.stages if s.entry is None]
    missing = [f"{s.name}: {r.describe()}" for s in recipe.stages for r in s.refs()
               if r.kind == "path" and not r.path.exists()]
    if missing:
        warnings.append(f"inputs missing ({'; '.join(missing)}): relative paths are taken from {recipe.base}; copy "
                        "the recipe with `ladder recipe cp` and put them beside the copy")
    run_dir = Path(params.output) if params.output else PLACEHOLDER_RUN
    done = {}
    if params.output and (run_dir / LINEAGE_FILE).is_file():
        done = {s["name"]: s["status"] for s in RunRecord.load(run_dir).document["stages"]}
    return {"name": recipe.name, "path": str(recipe.path), "description": recipe.description, "sha256": recipe.sha256,
            "runnable": all(s.entry is not None for s in recipe.stages) and not missing, "warnings": warnings,
            "stages": [_plan_stage(s, run_dir, done) for s in recipe.stages]}


def default_run_dir(name: str) -> Path:
    return Path("runs") / "recipes" / f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def run_recipe(params: RecipeRunParams, show_progress: bool = False) -> dict:
    """Run the recipe; returns ``{run_dir, lineage, stopped}`` (``stopped``: the failed gate, else None)."""
    recipe = library.load_recipe(params.recipe)
    run_dir = Path(params.output) if params.output else default_run_dir(recipe.name)
    document = runner.start(recipe, run_dir, params.allow_order, show_progress)
    return {"run_dir": str(run_dir), "lineage": document, "stopped": document.get("stopped")}


def resume_recipe(params: RecipeResumeParams, show_progress: bool = False) -> dict:
    document = runner.resume(params.run_dir, show_progress)
    return {"run_dir": str(params.run_dir), "lineage": document, "stopped": document.get("stopped")}


__all__ = ["RecipeLsParams", "RecipeShowParams", "RecipeCpParams", "RecipePlanParams", "RecipeRunParams",
           "RecipeResumeParams", "list_recipes", "show_recipe", "copy_recipe", "plan_recipe", "run_recipe",
           "resume_recipe"]
