"""``ladder prune``: the ``prune`` registry (one scoring module each) over one engine (``engine.py``).

Each entry names its paper, its params class and its score function as ``"module:function"``, so
``ladder ls prune`` lists them without importing torch; ``needs_activations`` says whether the engine
must gather calibration activations first. Structures are the engine's, not a method's.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import ClassVar, Optional

from codeladder.params import OUTPUT, VerbParams, option
from codeladder.registry import new_registry

PRUNE = new_registry("prune")
STRUCTURES = ("unstructured", "2:4")  # what the engine's mask_lowest implements


class MagnitudeParams(VerbParams):
    verb = "prune"
    sparsity: float = option(0.5, "share of each row's weights zeroed (2:4 means 0.5)", ge=0, lt=1)
    structure: str = option("unstructured", "unstructured, or 2:4 (2 of every 4 inputs)", choices=STRUCTURES)


class WandaParams(MagnitudeParams):
    calibration: Path | None = option(None, "JSONL with 'text' rows (default: bundled MBPP train split code)")
    samples: int = option(128, "calibration samples", ge=1)


_HERE = "codeladder.transforms.prune"
PRUNE.add("wanda", "score = |W| x the input channel's activation norm, lowest zeroed per output row",
          f"{_HERE}.wanda:wanda_scores", reference="https://arxiv.org/abs/2306.11695", params=WandaParams,
          needs_activations=True)
PRUNE.add("magnitude", "score = |W|, lowest zeroed per output row (the baseline Wanda is measured against)",
          f"{_HERE}.magnitude:magnitude_scores", reference="https://arxiv.org/abs/1506.02626", params=MagnitudeParams,
          needs_activations=False)


class PruneParams(WandaParams):
    """Prune linear layers per output row (embeddings, norms and lm_head untouched; dtype kept)."""

    verb: ClassVar[str] = "prune"
    folder: Path = option(..., "model folder", argument=True)
    output: Path = option(..., "model folder to write", flags=OUTPUT)
    method: str = option("wanda", "pruning method (see `ladder ls prune`)", choices="prune")
    text: Optional[Path] = option(None, "text file for the perplexity before and after")


def __getattr__(name: str):
    """The engine (it imports torch) is loaded on first use, not when the registry is listed."""
    if name in ("prune", "prune_verb", "prune_model", "PruneReport"):
        return getattr(importlib.import_module("codeladder.transforms.prune.engine"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["PRUNE", "STRUCTURES", "MagnitudeParams", "WandaParams", "PruneParams", "prune", "prune_verb", "prune_model",
           "PruneReport"]
