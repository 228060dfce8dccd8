"""``ladder compile MODEL -o FILE``: one executable file that runs the model offline on Linux, no Python.

The file is ``[runtime][zero padding to 4096][GGUF][trailer]``. The runtime is a static llama.cpp build
(:mod:`codeladder.ship.runtime_build`, cached) whose ``main.cpp`` finds the trailer (GGUF offset and size,
then the magic ``LADDERGG``) at the end of its own executable and has llama.cpp read the GGUF **in place**:
one patch makes ``gguf_init_from_file`` start at that offset, so every GGUF offset is absolute within the
executable and the weights are memory-mapped straight from it. Nothing is extracted, so there is no cold
versus warm start beyond the page cache, and the file can be copied anywhere (it finds itself through
``/proc/self/exe``, else ``argv[0]``/``PATH``). A self-extracting stub was the fallback; it is not needed.

``FILE --prompt TEXT [-n N]`` prints the greedy completion that ``ladder run`` prints for the GGUF (same
tokenization, template, sampling and UTF-8 handling as llama-cpp-python); ``FILE`` alone reads prompts
interactively; ``FILE --server --port P`` serves llama.cpp's OpenAI-compatible API (``ladder eval --backend
openai --base-url http://127.0.0.1:P/v1``). MODEL is a ``.gguf`` file or a model folder, exported to GGUF
(``--type``, default q8_0) on the way with ``ladder export``'s code.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Optional

from codeladder.errors import LadderError
from codeladder.models.export_types import gguf_types
from codeladder.params import OUTPUT, VerbParams, option

MAGIC = b"LADDERGG"
TRAILER = struct.Struct("<QQ8s")  # GGUF offset, GGUF size, magic
ALIGN = 4096  # page-aligned: the GGUF's own 32-byte data alignment holds, and mmap offsets line up


class CompileParams(VerbParams):
    """One executable file with the model inside: runs offline on Linux without Python (llama.cpp, CPU)."""

    verb: ClassVar[str] = "compile"
    model: Path = option(..., "a .gguf file, or a model folder (exported to GGUF on the way)", argument=True)
    output: Path = option(..., "the executable to write", flags=OUTPUT)
    type: str = option("q8_0", "GGUF type when MODEL is a folder (see `ladder ls export`; q4_k for the "
                               "smallest file)", choices=tuple(gguf_types()))
    native: bool = option(False, "build the runtime for this CPU's full instruction set (faster where "
                                 "AVX-512 is present; the file then runs only on similar CPUs)")
    llama_source: Optional[Path] = option(None, "a llama-cpp-python source package (.tar.gz) to build the runtime "
                                                "from, instead of `pip download`")


@dataclass
class CompileReport:
    output: str
    runtime: str
    runtime_bytes: int
    gguf_bytes: int
    total_bytes: int
    gguf_type: str | None
    seconds: float


def is_compiled(path: str | Path) -> bool:
    """True for a file ``ladder compile`` wrote (its trailer is there)."""
    try:
        with open(path, "rb") as f:
            f.seek(-TRAILER.size, os.SEEK_END)
            return TRAILER.unpack(f.read(TRAILER.size))[2] == MAGIC
    except (OSError, struct.error):
        return False


def read_trailer(path: str | Path) -> tuple[int, int]:
    """(GGUF offset, GGUF size) of a compiled file."""
    with open(path, "rb") as f:
        f.seek(-TRAILER.size, os.SEEK_END)
        offset, size, magic = TRAILER.unpack(f.read(TRAILER.size))
    if magic != MAGIC:
        raise LadderError(f"{path}: not a file `ladder compile` wrote")
    return offset, size


def _check_output(out: Path, inputs: list[Path]) -> None:
    if out.is_dir():
        raise LadderError(f"-o {out}: is a folder; give a file path such as {out / 'model.run'}")
    for given in inputs:
        if out.resolve() == given.resolve() or given.resolve() in out.resolve().parents:
            raise LadderError(f"-o {out}: is (inside) the input {given}; write to another path")
    if os.path.lexists(out) and not is_compiled(out):
        raise LadderError(f"-o {out}: exists and is not a file `ladder compile` wrote; choose a new path or "
                          "remove it yourself")


def _gguf_type(path: Path) -> str | None:
    """The GGUF's file type name (``general.file_type``), for the report."""
    try:
        from gguf import GGUFReader, LlamaFileType
    except ImportError:
        return None
    field = GGUFReader(path).fields.get("general.file_type")
    if field is None:
        return None
    value = int(field.parts[field.data[0]][0])
    try:
        return LlamaFileType(value).name.removeprefix("MOSTLY_")
    except ValueError:
        return str(value)


def assemble(runtime: Path, gguf: Path, out: Path) -> tuple[int, int]:
    """Write ``[runtime][padding][gguf][trailer]`` to ``out`` (executable); (runtime bytes, gguf bytes)."""
    runtime_bytes, gguf_bytes = runtime.stat().st_size, gguf.stat().st_size
    offset = -(-runtime_bytes // ALIGN) * ALIGN
    with open(out, "wb") as dst:
        with open(runtime, "rb") as src:
            shutil.copyfileobj(src, dst, 1 << 20)
        dst.write(b"\0" * (offset - runtime_bytes))
        with open(gguf, "rb") as src:
            shutil.copyfileobj(src, dst, 1 << 24)
        dst.write(TRAILER.pack(offset, gguf_bytes, MAGIC))
        dst.flush()
        os.fsync(dst.fileno())
    out.chmod(0o755)
    return runtime_bytes, gguf_bytes


def _gguf_of(params: CompileParams, scratch: Path) -> Path:
    """The GGUF to embed: MODEL itself, or MODEL exported with ``ladder export``'s code into ``scratch``."""
    from codeladder.models.integrity import require_gguf_file

    model = params.model
    if model.is_dir():
        from codeladder.models.export_types import gguf_type

        entry = gguf_type(params.type)
        target = scratch / f"{model.name}-{entry.name}.gguf"
        entry.load()(model, target, entry.name, show_progress=True)
        return target
    if not model.exists():
        raise LadderError(f"MODEL {model}: no such file or folder (a .gguf file or a model folder)")
    return require_gguf_file(model)


def compile_model(params: CompileParams) -> CompileReport:
    """``ladder compile``: build (or reuse) the runtime, then write the one-file executable atomically."""
    from codeladder.models.output import clean_stale, discard, partial_path, publish
    from codeladder.ship.runtime_build import build_runtime, require_tools, runtime_path

    began = time.monotonic()
    out = params.output
    _check_output(out, [params.model])
    if params.llama_source is not None and not params.llama_source.is_file():
        raise LadderError(f"--llama-source {params.llama_source}: no such file (a llama_cpp_python-*.tar.gz)")
    if not runtime_path(native=params.native).exists():
        require_tools()  # before a long export: fail in a second when cmake or g++ is missing
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(out)
        scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.gguf-", dir=out.parent))
    except OSError as exc:
        raise LadderError(f"-o {out}: cannot write there ({exc.strerror or exc}); choose a writable location") from None
    stage = partial_path(out)
    try:
        gguf = _gguf_of(params, scratch)
        kind = _gguf_type(gguf)
        runtime = build_runtime(native=params.native, source=params.llama_source)
        runtime_bytes, gguf_bytes = assemble(runtime, gguf, stage)
        publish(stage, out)
    except BaseException:
        discard(stage)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return CompileReport(output=str(out), runtime=str(runtime), runtime_bytes=runtime_bytes, gguf_bytes=gguf_bytes,
                         total_bytes=out.stat().st_size, gguf_type=kind,
                         seconds=round(time.monotonic() - began, 2))


__all__ = ["CompileParams", "CompileReport", "assemble", "compile_model", "is_compiled", "read_trailer"]
