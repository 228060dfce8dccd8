"""llama.cpp's own quantizer (``llama_model_quantize`` through llama-cpp-python), for the K-quants.

It is the reference implementation of Q4_K/Q5_K/Q6_K, so we call it rather than port it; it sits next
to GGUF export because it reads and writes GGUF files, and imports nothing of the backends. Its ~90
lines of native log go to a file unless ``verbose``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from codeladder.errors import LadderError

K_FAMILY = {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"}


@contextmanager
def _native_output_to(log: Path, quiet: bool) -> Iterator[None]:
    """Send what native code prints on fds 1 and 2 to ``log`` (llama.cpp's quantizer prints ~90 lines)."""
    if not quiet:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(log, "wb") as sink:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)


def llama_cpp_quantize(source: Path, out: Path, ftype: int, verbose: bool = False) -> None:
    try:
        import llama_cpp
    except ImportError:
        raise LadderError("K-quants are made by llama.cpp's quantizer: pip install -e '.[llamacpp]'") from None
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = 0
    log = out.with_name("llama.cpp.log")
    with _native_output_to(log, quiet=not verbose):
        failed = llama_cpp.llama_model_quantize(str(source).encode(), str(out).encode(), params) != 0
    if failed:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()] if log.exists() else []
        detail = f" ({lines[-1].strip()[:200]})" if lines else ""
        raise LadderError(f"{source}: llama.cpp could not quantize this file{detail}; rerun with --verbose for its log")


def k_quant_tensors(path: Path) -> tuple[object, dict]:
    """The K-quantized tensors of a llama.cpp output, as raw bytes (keep the reader while they are used)."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    return reader, {t.name: (t.data, t.tensor_type) for t in reader.tensors if t.tensor_type.name in K_FAMILY}
