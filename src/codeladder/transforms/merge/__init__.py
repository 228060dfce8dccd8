"""``ladder merge``: the ``merge`` registry, one module per method over one streaming engine (``engine.py``).

Each entry names its paper, its params class (:mod:`.params`) and its class as ``"module:Class"``, so
``ladder ls merge`` lists them without importing torch. A new method is one file with a
:class:`~codeladder.transforms.merge.base.MergeMethod` subclass plus one ``MERGE.add`` call (here or in
the user's own module).
"""

from __future__ import annotations

from codeladder.registry import new_registry
from codeladder.transforms.merge.params import DareParams, LinearParams, SlerpParams, TaskArithmeticParams, TiesParams

MERGE = new_registry("merge")
_HERE = "codeladder.transforms.merge"
MERGE.add("linear", "weighted average of the models (Model Soups)", f"{_HERE}.linear:Linear",
          reference="https://arxiv.org/abs/2203.05482", params=LinearParams)
MERGE.add("task_arithmetic", "base + weighted sum of task vectors (model - base)",
          f"{_HERE}.task_arithmetic:TaskArithmetic", reference="https://arxiv.org/abs/2212.04089",
          params=TaskArithmeticParams)
MERGE.add("slerp", "spherical interpolation between two endpoints, per tensor", f"{_HERE}.slerp:Slerp",
          reference="Shoemake 1985, Animating rotation with quaternion curves, https://doi.org/10.1145/325165.325242",
          params=SlerpParams)
MERGE.add("ties", "trim task vectors to their top density, elect signs, disjoint mean", f"{_HERE}.ties:Ties",
          reference="https://arxiv.org/abs/2306.01708", params=TiesParams)
MERGE.add("dare_ties", "drop task-vector entries at random and rescale (DARE), then TIES sign election",
          f"{_HERE}.dare:DareTies", reference="https://arxiv.org/abs/2311.03099", params=DareParams)
MERGE.add("dare_linear", "drop task-vector entries at random and rescale (DARE), then sum",
          f"{_HERE}.dare:DareLinear", reference="https://arxiv.org/abs/2311.03099", params=DareParams)

_LAZY = {"merge": "engine", "merge_models": "engine", "describe": "engine", "MergeReport": "engine",
         "Chunk": "base", "MergeMethod": "base"}


def __getattr__(name: str):
    """The engine (it imports torch) is loaded on first use, not when the registry is listed."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{_HERE}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["MERGE", *_LAZY]
