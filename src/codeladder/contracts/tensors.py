"""Read safetensors weights with numpy, for claims that check the weights themselves rather than a report.

Hand-written (forty lines over ``struct`` and ``numpy.memmap``): safetensors' own numpy loader rejects bf16, and
importing torch here would make every contract check pay for it.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING

from codeladder.contracts.base import NotApplicable

if TYPE_CHECKING:
    import numpy as np

_FLOATS = {"F32": "float32", "F16": "float16", "F64": "float64", "BF16": "uint16"}


def tensor_index(folder: Path) -> dict[str, tuple[Path, dict, int]]:
    """name -> (shard, header entry, where the shard's data starts)."""
    found = {}
    for shard in sorted(folder.glob("*.safetensors")):
        with open(shard, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(size))
        for name, info in header.items():
            if name != "__metadata__":
                found[name] = (shard, info, 8 + size)
    if not found:
        raise NotApplicable(f"{folder} holds no safetensors weights")
    return found


def read_float(shard: Path, info: dict, data_start: int) -> np.ndarray:
    """The tensor as float32 (bf16 widened bit-exactly)."""
    import numpy as np

    if info["dtype"] not in _FLOATS:
        raise NotApplicable(f"{shard}: {info['dtype']} weights (the claim reads float weights)")
    kind = np.dtype(_FLOATS[info["dtype"]])
    begin, end = info["data_offsets"]
    raw = np.memmap(shard, dtype=kind, mode="r", offset=data_start + begin, shape=((end - begin) // kind.itemsize,))
    values = (raw.astype(np.uint32) << 16).view(np.float32) if info["dtype"] == "BF16" else raw.astype(np.float32)
    return values.reshape(info["shape"])
