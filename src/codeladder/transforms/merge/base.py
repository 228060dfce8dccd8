"""The streaming merge engine every method plugs into.

Tensors are read one name at a time, and large ones in row chunks (``CHUNK_ELEMENTS`` per input),
from every input with plain reads (:mod:`codeladder.models.lazy`), merged in float32, cast back to
the input dtype and written straight into the output shard: peak memory stays near a few chunks,
never a model. Methods that need a whole-tensor statistic (SLERP's angle, TIES's magnitude
threshold) get a ``prepare`` pass over the same chunks first (a tensor of one chunk is read once).

Every chunk lands in the buffers of one :class:`Workspace`, allocated at the first chunk and reused for
all the others (reads, float32 inputs, task vectors, masks, the output and its cast): memory new to a process
costs a page fault per 4 KB page on first touch, and on a VM that was most of a merge's time (1.37 M faults in
one 0.5B SLERP merge). Methods write with ``out=`` and in-place operations in the same order of operations as
the plain expressions they replace, so results are bit-identical.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch

from codeladder.transforms.merge.params import MethodParams

CHUNK_ELEMENTS = 1 << 21  # per input, per chunk: 8 MB in float32


def largest_chunk(reader, chunk_elements: int) -> int:
    """Elements in the largest chunk a merge will read (whole rows, at most ``chunk_elements`` unless one row is
    more): the size every workspace buffer is allocated at once."""
    largest = 1
    for info in reader.infos.values():
        row = max(1, info.numel // max(1, info.rows))
        largest = max(largest, min(info.numel, max(1, chunk_elements // row) * row))
    return largest


class Workspace:
    """Named buffers reused across the chunks of a merge; each is at least ``capacity`` elements, so after the
    first chunk of the largest size nothing is allocated. A buffer's content lives until its key is taken again."""

    def __init__(self, capacity: int = 0) -> None:
        self.capacity = capacity
        self._buffers: dict[tuple[str, torch.dtype], torch.Tensor] = {}
        self._raw: dict[str, bytearray] = {}

    def take(self, key: str, shape: Sequence[int] | torch.Size, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        numel = math.prod(shape)
        buffer = self._buffers.get((key, dtype))
        if buffer is None or buffer.numel() < numel:
            buffer = self._buffers[key, dtype] = torch.empty(max(numel, self.capacity), dtype=dtype)
        return buffer[:numel].view(tuple(shape))

    def raw(self, key: str, nbytes: int) -> bytearray:
        """Bytes for a file read to land in."""
        buffer = self._raw.get(key)
        if buffer is None or len(buffer) < nbytes:
            buffer = self._raw[key] = bytearray(max(nbytes, 4 * self.capacity))
        return buffer


@dataclass
class Chunk:
    rows: tuple[int, int]
    models: list[torch.Tensor]  # float32, one per merged model
    base: torch.Tensor | None  # float32
    work: Workspace = field(default_factory=Workspace)  # where this chunk's results are written
    slot: int = 0  # chunks held at once (prepare, then combine) keep their inputs and deltas in their own slots
    _deltas: list[torch.Tensor] | None = None
    _squares: dict[int, float] = field(default_factory=dict)
    _magnitudes: dict[int, torch.Tensor] | None = None

    def deltas(self) -> list[torch.Tensor]:
        """Task vectors (model - base), computed once per chunk; the models themselves without a base."""
        if self._deltas is None:
            self._deltas = self.models if self.base is None else [
                torch.sub(m, self.base, out=self.work.take(f"delta{i}@{self.slot}", m.shape))
                for i, m in enumerate(self.models)]
        return self._deltas

    def magnitude(self, index: int) -> torch.Tensor:
        """|delta| of model ``index``, computed once per chunk (TIES needs it in three passes)."""
        if self._magnitudes is None:
            self._magnitudes = {}
        if index not in self._magnitudes:
            delta = self.deltas()[index]
            self._magnitudes[index] = torch.abs(delta, out=self.work.take(f"abs{index}@{self.slot}", delta.shape))
        return self._magnitudes[index]

    def square(self, index: int) -> float:
        """The squared L2 norm of model ``index`` in this chunk (a float32 BLAS dot), computed once per chunk:
        SLERP's angle and the report's norms both need it."""
        if index not in self._squares:
            self._squares[index] = _squares(self.models[index])
        return self._squares[index]

    def scratch(self, key: str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """A workspace buffer of this chunk's shape (overwritten when the next chunk takes the same key)."""
        return self.work.take(key, self.models[0].shape, dtype)


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

    def prepare(self, tensor_name: str, chunks: ChunkSource, numel: int, params: MethodParams) -> dict:
        return {}

    def combine(self, chunk: Chunk, stats: dict, params: MethodParams, tensor_name: str) -> MergeOutput:
        raise NotImplementedError


def chunk_seed(seed: int, tensor_name: str, rows: tuple[int, int], model: int) -> int:
    digest = hashlib.sha256(f"{seed}|{tensor_name}|{rows[0]}|{model}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def magnitude_thresholds(chunks: ChunkSource, numel: int, density: float, count: int) -> list[float]:
    """Per model, the |delta| at or above which the top ``density`` share of entries lies.

    Exact (k-th value) when the tensor is one chunk; otherwise from a 65,536-bin histogram of
    |delta| built over the chunks, exact to 1/65,536 of the largest magnitude."""
    keep = max(1, int(round(density * numel)))
    parts = chunks() if numel <= CHUNK_ELEMENTS else iter(())
    first = next(parts, None)
    if first is not None and next(parts, None) is None:  # one chunk (its buffers are still this chunk's)
        return [float(torch.kthvalue(first.magnitude(i).reshape(-1), numel - keep + 1).values) if keep < numel
                else 0.0 for i in range(count)]
    peaks = [0.0] * count
    for chunk in chunks():
        for i in range(count):
            peaks[i] = max(peaks[i], float(chunk.magnitude(i).max()))
    bins = 65536
    histograms = [torch.zeros(bins, dtype=torch.float64) for _ in range(count)]
    for chunk in chunks():
        for i in range(count):
            if peaks[i] > 0:
                histograms[i] += _histogram(chunk, chunk.magnitude(i), bins, peaks[i])
    thresholds = []
    for i, histogram in enumerate(histograms):
        above = torch.flip(torch.cumsum(torch.flip(histogram, [0]), 0), [0])  # entries in bins >= b
        index = int(torch.nonzero(above >= keep).max()) if peaks[i] > 0 else 0
        thresholds.append(peaks[i] * index / bins)
    return thresholds


def sum_into(parts: list[torch.Tensor], out: torch.Tensor) -> torch.Tensor:
    """``sum(parts)`` into ``out``, in the same order (from 0, so a -0.0 total is +0.0 as sum() makes it)."""
    out.zero_()
    for part in parts:
        out.add_(part)
    return out


def _histogram(chunk: Chunk, magnitude: torch.Tensor, bins: int, peak: float) -> torch.Tensor:
    """``torch.histc(magnitude, bins, 0, peak)`` as float64 counts, by histc's own arithmetic (``x * bins / peak``
    in float32, truncated; ``peak`` itself in the last bin) and a bincount: the same counts (checked against histc
    in the tests), at a third of histc's time on these sizes."""
    scaled = torch.mul(magnitude, float(bins), out=chunk.scratch("scaled")).div_(peak)
    index = chunk.scratch("bin", torch.int32).copy_(scaled).clamp_(max=bins - 1)
    return torch.bincount(index.reshape(-1), minlength=bins).double()


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
        for i in range(len(chunk.models)):
            self.input_sq[i] += chunk.square(i)
        self.output_sq += _squares(out.tensor)
        self.elements += out.tensor.numel()
        if chunk.base is not None:
            before = _conflicts(chunk.deltas(), chunk.work)
            self.conflicts_before += before
            self.conflicts_after += before if out.contributions is None else _conflicts(out.contributions, chunk.work)

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


def _conflicts(deltas: list[torch.Tensor], work: Workspace) -> float:
    """(Estimated) number of entries where some deltas are positive and others negative. The sample is copied
    out once per delta (a strided read touches every cache line anyway), then compared where it sits in cache."""
    stride = CONFLICT_STRIDE if deltas[0].numel() >= 1 << 16 else 1
    size = (deltas[0].numel() + stride - 1) // stride
    positive, negative = work.take("conflict+", (size,), torch.bool), work.take("conflict-", (size,), torch.bool)
    sign = work.take("conflict-sign", (size,), torch.bool)
    for index, delta in enumerate(deltas):
        sample = work.take("conflict-sample", (size,)).copy_(delta.reshape(-1)[::stride])
        if index == 0:
            torch.gt(sample, 0, out=positive)
            torch.lt(sample, 0, out=negative)
        else:
            positive.logical_or_(torch.gt(sample, 0, out=sign))
            negative.logical_or_(torch.lt(sample, 0, out=sign))
    return float(positive.logical_and_(negative).sum()) * stride
