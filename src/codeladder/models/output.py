"""Where a model or GGUF file is written: checked first, staged beside the target, renamed into place.

Every writer path (the checkpoint writer's folders, its GGUF files and their sidecars) goes through
:func:`begin_output` and :func:`publish`:

- an output that is one of the inputs, lies inside one, or holds one is refused before anything
  is touched (``merge A B -o A`` would otherwise destroy A while reading it);
- an existing output is replaced only when codeladder wrote it (a folder with ``ladder.json``, a
  file starting with the GGUF magic); anything else of the user's is refused, never deleted;
- the new model is written to a hidden sibling ``.NAME.partial-<pid>`` and renamed into place
  only when complete. An existing folder is swapped atomically (``renameat2(RENAME_EXCHANGE)``),
  so at every instant either the old or the new complete model is at the path; a ``kill -9``
  leaves a sibling that the next run (of any verb writing there) removes, because its pid is dead.

``CODELADDER_CRASH_AT=<point>`` makes the process SIGKILL itself at that named point: the tests
use it to kill a real writer at exact places.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
from collections.abc import Sequence
from pathlib import Path

from codeladder.errors import LadderError
from codeladder.runs import pid_alive

LINEAGE = "ladder.json"
GGUF_MAGIC = b"GGUF"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def crash_point(name: str) -> None:
    """Test hook: die like ``kill -9`` here when ``CODELADDER_CRASH_AT`` names this point."""
    if os.environ.get("CODELADDER_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def partial_path(out: Path, suffix: str = "") -> Path:
    """This process's hidden staging sibling of ``out``."""
    return out.parent / f".{out.name}.partial-{os.getpid()}{suffix}"


def _replaced_path(out: Path) -> Path:
    return out.parent / f".{out.name}.replaced-{os.getpid()}"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def clean_stale(out: Path) -> None:
    """Remove the staging leftovers of dead writers of ``out``; put back an old model a killed swap
    had moved aside (only the fallback two-rename swap can leave one)."""
    if not out.parent.is_dir():
        return
    pattern = re.compile(rf"\.{re.escape(out.name)}\.(partial|replaced)-(\d+)")
    for sibling in out.parent.iterdir():
        match = pattern.match(sibling.name)
        if not match or int(match.group(2)) == os.getpid() or pid_alive(int(match.group(2))):
            continue
        if match.group(1) == "replaced" and not os.path.lexists(out):
            os.rename(sibling, out)
        else:
            _remove(sibling)


def _overlap(out: Path, inputs: Sequence[Path]) -> str | None:
    target = out.resolve()
    for given in inputs:
        source = Path(given).resolve()
        if target == source:
            return f"-o {out} is the input {given}"
        if source in target.parents:
            return f"-o {out} lies inside the input {given}"
        if target in source.parents:
            return f"the input {given} lies inside -o {out}"
    return None


def _refuse_foreign(out: Path, kind: str) -> None:
    """An existing ``out`` may be replaced only when codeladder wrote it."""
    if not os.path.lexists(out):
        return
    if kind == "folder":
        if not out.is_dir() or out.is_symlink():
            raise LadderError(f"-o {out}: exists and is not a folder; choose a new folder path for the model")
        if any(out.iterdir()) and not (out / LINEAGE).is_file():
            raise LadderError(f"-o {out}: exists and is not a model folder codeladder wrote (no {LINEAGE}); "
                              "choose a new or empty folder, or remove it yourself")
        return
    if out.is_dir():
        raise LadderError(f"-o {out}: is a folder; give a file path such as {out / 'model.gguf'}")
    with open(out, "rb") as f:
        magic = f.read(4)
    if magic and magic != GGUF_MAGIC:
        raise LadderError(f"-o {out}: exists and is not a GGUF file; choose a new path or remove it yourself")


def begin_output(out: str | Path, inputs: Sequence[str | Path], kind: str = "folder") -> Path:
    """Check ``out`` (``kind`` ``folder`` or ``file``) against the inputs and what is there, clean dead
    writers' leftovers, and return the empty staging path to write into (a folder is created)."""
    out = Path(out)
    problem = _overlap(out, [Path(p) for p in inputs])
    if problem:
        raise LadderError(f"{problem}; write to another path (the input would be destroyed while it is read)")
    _refuse_foreign(out, kind)
    stage = partial_path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(out)
        _remove(stage)
        if kind == "folder":
            stage.mkdir()
        else:
            stage.touch()
    except OSError as exc:
        raise LadderError(f"-o {out}: cannot write there ({exc.strerror or exc}); choose a writable location") from None
    return stage


def discard(stage: Path) -> None:
    """Drop a staging path after a failure (the target is untouched)."""
    _remove(stage)


def _exchange(first: Path, second: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2``); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    return done == 0


def publish(stage: Path, out: Path) -> Path:
    """Move a complete staging path onto ``out``: at every instant the old or the new one is there."""
    crash_point("before-publish")
    if stage.is_file() or not out.is_dir():
        os.replace(stage, out)
        return out
    if _exchange(stage, out):
        crash_point("after-exchange")
        _remove(stage)  # it holds the old model now
        return out
    aside = _replaced_path(out)
    os.rename(out, aside)
    crash_point("after-move-aside")
    os.rename(stage, out)
    _remove(aside)
    return out
