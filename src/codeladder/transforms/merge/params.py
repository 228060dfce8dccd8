"""The parameters each merge method takes (what ``ladder ls merge`` lists and ``--help`` shows), checked
at the boundary (one error line naming the flag): weights finite, ``t`` in [0, 1], ``density`` in (0, 1].
A knob is declared once, in its method's class; ``MergeModelsParams`` (the verb) takes those declarations, and a
method is handed only its own class's values. Torch-free, so listing the registry is fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar, Optional

from pydantic import BeforeValidator, FiniteFloat

from codeladder.params import OUTPUT, VerbParams, comma_floats, option


class MethodParams(VerbParams):
    """Base of the merge methods' parameters; :meth:`of` keeps only the fields a method takes."""

    verb = "merge"

    @classmethod
    def of(cls, **values) -> "MethodParams":
        return cls(**{name: value for name, value in values.items() if name in cls.model_fields})


class WeightedParams(MethodParams):
    weights: Optional[Annotated[tuple[FiniteFloat, ...], BeforeValidator(comma_floats)]] = option(
        None, "per-model weights, e.g. 0.7,0.3 (default: 1 each)")


class LinearParams(WeightedParams):
    """A weighted average: the weights are normalized to sum to 1."""


class TaskArithmeticParams(WeightedParams):
    """base + sum of weighted task vectors."""


class SlerpParams(MethodParams):
    t: float = option(0.5, "slerp: 0 = first endpoint, 1 = second", ge=0, le=1)


class TiesParams(WeightedParams):
    density: float = option(0.5, "ties/dare: share of each task vector kept", gt=0, le=1)


class DareParams(TiesParams):
    seed: int = option(0, "dare: drop pattern seed")


def _as_text(value):
    """A path as the user wrote it (``./nope`` stays ``./nope`` in messages)."""
    return str(value) if isinstance(value, Path) else value


_KNOBS = {**SlerpParams.model_fields, **DareParams.model_fields}  # every built-in method's knobs, declared above


class MergeModelsParams(VerbParams):
    """Merge models tensor by tensor, streaming (peak memory near a few tensors); writes report.json."""

    verb: ClassVar[str] = "merge"
    models: list[Path] = option(..., "model folders to merge", argument=True)
    method: str = option(..., "merge method (see `ladder ls merge`)", choices="merge")
    output: Path = option(..., "model folder to write", flags=OUTPUT)
    base: Optional[Path] = option(None, "base model (task vectors are taken against it)")
    weights: _KNOBS["weights"].annotation = _KNOBS["weights"]
    t: float = _KNOBS["t"]
    density: float = _KNOBS["density"]
    seed: int = _KNOBS["seed"]
    tokenizer_source: Optional[Annotated[str, BeforeValidator(_as_text)]] = option(
        None, "folder whose tokenizer is copied (default: base, else the first model)")


__all__ = ["MergeModelsParams", "MethodParams", "WeightedParams", "LinearParams", "TaskArithmeticParams",
           "SlerpParams", "TiesParams", "DareParams"]
