"""Recipes: a climb up the ladder as one YAML file of stages (verbs with their typed params), gates between
them, a run folder with ``lineage.json``, and resume after a crash.

- :mod:`.stages`: what a stage kind declares (inputs, output, order, result fields); the stages themselves are
  the verb table's entries (:mod:`codeladder.verbs`) that name one;
- :mod:`.schema`: a recipe validated with each verb's own params class, errors naming file, line, stage, field;
- :mod:`.order`: distill -> finetune -> dpo -> merge -> prune -> quantize;
- :mod:`.gates`: ``humaneval.pass@1 >= 0.55`` on a stage's own result files;
- :mod:`.runner` and :mod:`.record`: the run folder, ``lineage.json``, resume;
- :mod:`.library`: the shipped recipes; :mod:`.verbs`: ``ladder recipe ls|show|cp|plan|run|resume``.
"""

from __future__ import annotations

from codeladder.pipeline.library import load_recipe
from codeladder.pipeline.verbs import (RecipeCpParams, RecipeLsParams, RecipePlanParams, RecipeResumeParams,
                                       RecipeRunParams, RecipeShowParams, copy_recipe, list_recipes, plan_recipe,
                                       resume_recipe, run_recipe, show_recipe)

__all__ = ["load_recipe", "RecipeLsParams", "RecipeShowParams", "RecipeCpParams", "RecipePlanParams",
           "RecipeRunParams", "RecipeResumeParams", "list_recipes", "show_recipe", "copy_recipe", "plan_recipe",
           "run_recipe", "resume_recipe"]
