"""Lazy safetensors reading with plain ``pread``s: one tensor, or a range of its rows, at a time.

Not ``safe_open``: it memory-maps the files, and every page a merge touches then stays in the
process's resident set, so reading two 1 GB models would show 2 GB RSS whatever we free. Reading
byte ranges into fresh buffers keeps memory at what we actually hold.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from codeladder.errors import LadderError

INDEX = "model.safetensors.index.json"
DTYPES = {"F32": ("float32", 4), "F16": ("float16", 2), "BF16": ("bfloat16", 2), "F64": ("float64", 8),
          "I64": ("int64", 8), "I32": ("int32", 4), "I16": ("int16", 2), "I8": ("int8", 1), "U8": ("uint8", 1),
          "BOOL": ("bool", 1)}


def weight_files(folder: Path) -> list[Path]:
    """The safetensors files of a model folder, in index order."""
    index = folder / INDEX
    if index.exists():
        try:
            mapping = json.loads(index.read_text())["weight_map"]
            files = [folder / name for name in dict.fromkeys(mapping.values())]
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
            raise LadderError(f"{index}: not a valid index (JSON with a weight_map of tensor -> file); "
                              "copy it again with the model's shards") from None
        absent = [p.name for p in files if not p.is_file()]
        if absent:
            raise LadderError(f"{index}: names {absent[0]}, which is missing; copy every shard of the model")
        return files
    single = folder / "model.safetensors"
    if single.exists():
        return [single]
    found = sorted(folder.glob("*.safetensors"))
    if not found:
        raise LadderError(f"{folder}: no safetensors weights (model.safetensors or {INDEX}); "
                          "is this a Hugging Face model folder?")
    return found



@dataclass(frozen=True)
class TensorInfo:
    name: str
    path: Path
    dtype: str  # safetensors name, e.g. "BF16"
    shape: tuple[int, ...]
    begin: int  # absolute byte offset in the file
    end: int

    @property
    def numel(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count

    @property
    def rows(self) -> int:
        return self.shape[0] if self.shape else 1

    @property
    def row_bytes(self) -> int:
        return (self.end - self.begin) // max(1, self.rows)


FIX = "the file is truncated or corrupt: copy or download it again"


def _tensor_info(path: Path, name: str, meta: object, base: int) -> TensorInfo:
    try:
        dtype, shape, (begin, end) = meta["dtype"], tuple(meta["shape"]), meta["data_offsets"]
        valid = (dtype in DTYPES and all(isinstance(d, int) and d >= 0 for d in shape)
                 and isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end)
    except (TypeError, KeyError, ValueError):
        valid = False
    if not valid:
        raise LadderError(f"{path}: tensor {name!r} has a malformed header entry; {FIX}")
    info = TensorInfo(name, path, dtype, shape, base + begin, base + end)
    if end - begin != info.numel * DTYPES[dtype][1]:
        raise LadderError(f"{path}: tensor {name!r} is {end - begin} bytes, its shape {list(shape)} needs "
                          f"{info.numel * DTYPES[dtype][1]}; {FIX}")
    return info


def read_header(path: Path) -> dict[str, TensorInfo]:
    """The tensors a safetensors file declares, checked against the file's size (reads the header only)."""
    try:
        total = path.stat().st_size
        with open(path, "rb") as f:
            prefix = f.read(8)
            size = struct.unpack("<Q", prefix)[0] if len(prefix) == 8 else None
            if size is None or size > total - 8:
                raise LadderError(f"{path}: not a safetensors file ({total} bytes, "
                                  f"{'too short for a header' if size is None else 'header longer than the file'}); "
                                  f"{FIX}")
            header = json.loads(f.read(size))
    except OSError as exc:
        raise LadderError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, ValueError):
        raise LadderError(f"{path}: its safetensors header is not valid JSON; {FIX}") from None
    if not isinstance(header, dict):
        raise LadderError(f"{path}: its safetensors header is not a JSON object; {FIX}")
    base = 8 + size
    infos = {name: _tensor_info(path, name, meta, base) for name, meta in header.items() if name != "__metadata__"}
    end = max((i.end for i in infos.values()), default=base)
    if end != total:
        state = "truncated" if end > total else f"{total - end} bytes longer than its header says"
        raise LadderError(f"{path}: {state} (the header describes {end} bytes, the file has {total}); {FIX}")
    return infos


class LazyTensors:
    """Every tensor of a model folder, read on demand."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.infos: dict[str, TensorInfo] = {}
        for path in weight_files(self.folder):
            self.infos.update(read_header(path))
        self._files: dict[Path, int] = {}

    def names(self) -> list[str]:
        return list(self.infos)

    def nbytes(self, name: str, rows: tuple[int, int] | None = None) -> int:
        """Bytes :meth:`read` reads for ``rows`` of ``name`` (all of it when None)."""
        info = self.infos[name]
        start, stop = rows if rows is not None else (0, info.rows)
        return (stop - start) * info.row_bytes if info.shape else info.end - info.begin

    def read(self, name: str, rows: tuple[int, int] | None = None, into: bytearray | None = None):
        """Rows ``[start, stop)`` of a tensor (all of it when None), read into ``into`` when given (a buffer
        reused across reads: the tensor returned is a view of it, valid until the next read into it)."""
        import torch

        info = self.infos[name]
        start = rows[0] if rows is not None else 0
        stop = rows[1] if rows is not None else info.rows
        begin = info.begin + start * info.row_bytes
        length = self.nbytes(name, rows)
        if info.path not in self._files:
            self._files[info.path] = os.open(info.path, os.O_RDONLY)
        buffer = into if into is not None and len(into) >= length else bytearray(length)
        view, done = memoryview(buffer)[:length], 0
        while done < length:
            got = os.preadv(self._files[info.path], [view[done:]], begin + done)
            if got <= 0:
                raise LadderError(f"{info.path}: unexpected end of file reading {name}")
            done += got
        dtype = getattr(torch, DTYPES[info.dtype][0])
        shape = ((stop - start), *info.shape[1:]) if info.shape else ()
        if not length:
            return torch.empty(shape, dtype=dtype)
        return torch.frombuffer(buffer, dtype=dtype, count=length // DTYPES[info.dtype][1]).reshape(shape)

    def close(self) -> None:
        for fd in self._files.values():
            os.close(fd)
        self._files.clear()
