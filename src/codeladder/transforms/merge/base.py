"""The streaming merge engine every method plugs into.

Tensors are read one name at a time, and large ones in row chunks (``CHUNK_ELEMENTS`` per input),
from every input with plain reads (:mod:`codeladder.models.lazy`), merged in float32, cast back to
the input dtype and written straight into the output shard: peak memory stays near a few chunks,
never a model. Methods that need a whole-tensor statistic (SLERP's angle, TIES's magnitude
threshold) get a ``prepare`` pass over the same chunks first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

CHUNK_ELEMENTS = 1 << 21  # per input, per chunk: 8 MB in float32


@dataclass(frozen=True)
class MergeParams:
    weights: tuple[float, ...]
    t: float = 0.5
    density: float = 0.5
    seed: int = 0


@dataclass
class Chunk:
    rows: tuple[int, int]
    models: list[torch.Tensor]  # float32, one per merged model
    base: torch.Tensor | None  # float32
    _deltas: list[torch.Tensor] | None = None

    def deltas(self) -> list[torch.Tensor]:
        """Task vectors (model - base), computed once per chunk; the models themselves without a base."""
        if self._deltas is None:
            self._deltas = [m - self.base for m in self.models] if self.base is not None else self.models
        return self._deltas


ChunkSource = Callable[[], Iterator[Chunk]]


@dataclass
class MergeOutput:
    tensor: torch.Tensor
    contributions: list[torch.Tensor] | None = None  # the deltas that entered the result, when not all did as they are


class MergeMethod:
    """A merge method: ``combine`` maps one chunk of every input to the output chunk. The class attributes
    say what inputs it takes; its params class and paper are in the ``merge`` registry."""

    name: str = ""
    needs_base: bool = False
    min_models: int = 2  # counted with the base when base_is_endpoint
    max_models: int | None = None
    base_is_endpoint: bool = False  # the base is one of the merged endpoints (slerp), not a task-vector origin
    normalizes_weights: bool = False  # the weights are divided by their sum (a weighted average)

    def arity(self) -> str:
        return f"at least {self.min_models} model(s)"

    def prepare(self, tensor_name: str, chunks: ChunkSource, numel: int, params: MergeParams) -> dict:
        return {}

    def combine(self, chunk: Chunk, stats: dict, params: MergeParams, tensor_name: str) -> MergeOutput:
        raise NotImplementedError


def chunk_seed(seed: int, tensor_name: str, rows: tuple[int, int], model: int) -> int:
    digest = hashlib.sha256(f"{seed}|{tensor_name}|{rows[0]}|{model}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def magnitude_thresholds(chunks: ChunkSource, numel: int, density: float, count: int) -> list[float]:
    """Per model, the |delta| at or above which the top ``density`` share of entries lies.

    Exact (k-th value) when the tensor is one chunk; otherwise from a 65,536-bin histogram of
    |delta| built over the chunks, exact to 1/65,536 of the largest magnitude."""
    keep = max(1, int(round(density * numel)))
    parts = list(chunks()) if numel <= CHUNK_ELEMENTS else None
    if parts is not None and len(parts) == 1:
        deltas = parts[0].deltas()
        return [float(torch.kthvalue(d.abs().reshape(-1), numel - keep + 1).values) if keep < numel else 0.0
                for d in deltas]
    peaks = [0.0] * count
    for chunk in chunks():
        for i, d in enumerate(chunk.deltas()):
            peaks[i] = max(peaks[i], float(d.abs().max()))
    bins = 65536
    histograms = [torch.zeros(bins, dtype=torch.float64) for _ in range(count)]
    for chunk in chunks():
        for i, d in enumerate(chunk.deltas()):
            if peaks[i] > 0:
                histograms[i] += torch.histc(d.abs().reshape(-1), bins=bins, min=0.0, max=peaks[i]).double()
    thresholds = []
    for i, histogram in enumerate(histograms):
        above = torch.flip(torch.cumsum(torch.flip(histogram, [0]), 0), [0])  # entries in bins >= b
        index = int(torch.nonzero(above >= keep).max()) if peaks[i] > 0 else 0
        thresholds.append(peaks[i] * index / bins)
    return thresholds


@dataclass
class TensorReport:
    """Accumulated over a tensor's chunks: L2 norms and sign conflicts."""

    input_sq: list[float] = field(default_factory=list)
    output_sq: float = 0.0
    conflicts_before: float = 0.0
    conflicts_after: float = 0.0
    elements: int = 0

    def add(self, chunk: Chunk, out: MergeOutput) -> None:
        if not self.input_sq:
            self.input_sq = [0.0] * len(chunk.models)
        for i, m in enumerate(chunk.models):
            self.input_sq[i] += _squares(m)
        self.output_sq += _squares(out.tensor)
        self.elements += out.tensor.numel()
        if chunk.base is not None:
            before = _conflicts(chunk.deltas())
            self.conflicts_before += before
            self.conflicts_after += before if out.contributions is None else _conflicts(out.contributions)

    def as_dict(self) -> dict:
        norms = [v ** 0.5 for v in self.input_sq]
        row = {"output_norm": self.output_sq ** 0.5, "input_norms": norms,
               "norm_ratio": (self.output_sq ** 0.5) / (sum(norms) / len(norms)) if norms and sum(norms) else None}
        if self.elements and (self.conflicts_before or self.conflicts_after):
            row["sign_conflicts_before"] = self.conflicts_before / self.elements
            row["sign_conflicts_after"] = self.conflicts_after / self.elements
        return row


def _squares(tensor: torch.Tensor) -> float:
    flat = tensor.reshape(-1)
    return float(torch.dot(flat, flat))


CONFLICT_STRIDE = 16  # sign conflicts of large chunks are estimated on every 16th entry


def _conflicts(deltas: list[torch.Tensor]) -> float:
    """(Estimated) number of entries where some deltas are positive and others negative."""
    stride = CONFLICT_STRIDE if deltas[0].numel() >= 1 << 16 else 1
    flat = [d.reshape(-1)[::stride] for d in deltas]
    positive, negative = flat[0] > 0, flat[0] < 0
    for delta in flat[1:]:
        positive |= delta > 0
        negative |= delta < 0
    return float((positive & negative).sum()) * stride
