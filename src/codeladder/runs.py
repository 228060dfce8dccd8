"""A run folder: ``samples.jsonl``, ``results.jsonl``, ``summary.json`` (+ ``config.json``).

Rows are appended with one ``write`` each on an ``O_APPEND`` descriptor, so a crash or
``kill -9`` can at worst leave a torn last line (no newline at its end), which the next open
cuts off; nothing that was finished is redone or lost. A damaged row anywhere else is not a
crash's doing, so it is reported, never cut. ``summary.json`` and ``config.json`` are replaced
atomically. One process at a time writes a run folder (an ``flock`` on ``.lock``), and
``--overwrite`` removes only the files codeladder writes there, never a folder of the user's.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from pathlib import Path

from codeladder.errors import LadderError

SAMPLES, RESULTS, SUMMARY, CONFIG = "samples.jsonl", "results.jsonl", "summary.json", "config.json"
LOCK = ".lock"
ROW_KEYS = ("task_id", "sample_index")
RUN_FILES = frozenset({SAMPLES, RESULTS, SUMMARY, CONFIG, LOCK, "backend.json", "rerank.json"})


def write_json_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def check_output_file(path: Path, flag: str) -> None:
    """Before any work: an output file's path must not be a folder, and its folder must be writable."""
    if path.is_dir():
        raise LadderError(f"{flag} {path}: is a folder; pass a file path")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise LadderError(f"{flag} {path}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise LadderError(f"{flag} {path}: not writable; pass a path you can write to")


def check_new_file(path: Path, flag: str, overwrite: bool, ours: bool = False) -> None:
    """Before any work: :func:`check_output_file`'s rules, and an existing file is replaced only with
    ``--overwrite`` or when codeladder wrote it (``ours``, as the verb can tell): the rule run folders follow,
    so a user's file is never overwritten silently."""
    check_output_file(path, flag)
    if path.exists() and not (overwrite or ours):
        raise LadderError(f"{flag} {path}: exists; choose a new path, or pass --overwrite to replace it")


def write_text_atomic(path: Path, text: str) -> None:
    """Write beside the target and rename into place: a crash never leaves half a file at ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def read_jsonl(path: Path, required: tuple[str, ...] = ()) -> list[dict]:
    """Every row of a run file. A torn last line (a crash mid-write: no newline at its end) is cut off;
    a damaged complete line is an error naming it, since cutting there would throw finished work away."""
    if not path.exists():
        return []
    blob = path.read_bytes()
    complete, _, torn = blob.rpartition(b"\n")
    rows = []
    for number, line in enumerate(complete.split(b"\n") if complete else [], 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict) or any(key not in row for key in required):
            raise LadderError(f"{path}:{number}: damaged row (not a crash's torn last line); repair or delete that "
                              "line to resume, or pass --overwrite to start the run again")
        rows.append(row)
    if torn:
        with open(path, "r+b") as f:
            f.truncate(len(blob) - len(torn))
    return rows


class Appender:
    """Appends JSON rows to a file, one ``write`` per row."""

    def __init__(self, path: Path):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, row: dict) -> None:
        os.write(self.fd, (json.dumps(row) + "\n").encode())

    def close(self) -> None:
        os.fsync(self.fd)
        os.close(self.fd)

    def __enter__(self) -> "Appender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_input_jsonl(path: str | Path, flag: str):
    """A user's JSONL input file: yields (line number, object) per non-empty line; a bad line is one
    clear error naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise LadderError(f"{flag} {path}: no such file")
    for number, raw in enumerate(path.read_bytes().splitlines(), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise LadderError(f"{path}:{number}: not UTF-8 text; {flag} takes a JSONL file (one JSON object "
                              "per line)") from None
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise LadderError(f"{path}:{number}: not valid JSON; each line must be one JSON object") from None
        if not isinstance(row, dict):
            raise LadderError(f"{path}:{number}: expected a JSON object")
        yield number, row


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:80] or "run"


class RunDir:
    def __init__(self, path: Path | str):
        self.path = Path(path)

    @property
    def samples(self) -> Path:
        return self.path / SAMPLES

    @property
    def results(self) -> Path:
        return self.path / RESULTS

    @property
    def summary(self) -> Path:
        return self.path / SUMMARY

    def sample_rows(self) -> list[dict]:
        return read_jsonl(self.samples, ROW_KEYS)

    def result_rows(self) -> list[dict]:
        return read_jsonl(self.results, ROW_KEYS)

    def foreign_files(self) -> list[str]:
        """Names in the folder that codeladder does not write into a run folder."""
        if not self.path.is_dir():
            return []
        return sorted(p.name for p in self.path.iterdir()
                      if p.name not in RUN_FILES and not (p.name.startswith(".") and p.name.endswith(".tmp")))

    def holds_work(self) -> bool:
        files = (self.path / name for name in (SAMPLES, RESULTS))
        return any(path.is_file() and path.stat().st_size > 0 for path in files)

    def lock(self) -> None:
        """Hold the folder for this process until it exits; a second writer is refused, not interleaved."""
        self._lock_fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._lock_fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(self._lock_fd)
            raise LadderError(f"{self.path}: another ladder process (pid {holder}) is writing this run folder; "
                              "wait for it to finish, or pass another --output") from None
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, f"{os.getpid()}\n".encode(), 0)

    def unlock(self) -> None:
        fd = getattr(self, "_lock_fd", None)
        if fd is not None:
            os.close(fd)
            self._lock_fd = None

    def _clear(self) -> None:
        """--overwrite: remove what codeladder wrote here, and only that."""
        for name in RUN_FILES - {LOCK}:
            (self.path / name).unlink(missing_ok=True)

    def prepare(self, config: dict, overwrite: bool = False) -> None:
        """Create and lock the folder, or check that an existing one holds a run with the same settings.

        A folder holding anything codeladder did not write is refused (so ``--output . --overwrite`` in a
        project can delete nothing of the user's). A folder whose run never produced a sample takes the
        new settings: a failed first attempt must not block the corrected retry."""
        if self.path.exists() and not self.path.is_dir():
            raise LadderError(f"--output {self.path}: is a file, not a run folder; pass a folder path")
        foreign = self.foreign_files()
        if foreign:
            shown = ", ".join(foreign[:3])
            raise LadderError(f"--output {self.path}: holds files that are not a codeladder run ({shown}"
                              f"{', …' if len(foreign) > 3 else ''}); pass an empty or new folder")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LadderError(f"--output {self.path}: cannot create the run folder ({exc.strerror})") from None
        if not os.access(self.path, os.W_OK):
            raise LadderError(f"--output {self.path}: not writable; pass a folder you can write to")
        self.lock()
        try:
            self._take(config, overwrite)
        except BaseException:
            self.unlock()
            raise

    def _take(self, config: dict, overwrite: bool) -> None:
        if overwrite:
            self._clear()
        config_path = self.path / CONFIG
        if config_path.exists() and self.holds_work():
            try:
                previous = json.loads(config_path.read_text())
            except ValueError:
                raise LadderError(f"{config_path}: damaged; pass --overwrite to start the run again") from None
            changed = [k for k in config if k in previous and previous[k] != config[k]]
            if changed:
                key = changed[0]
                raise LadderError(f"{self.path}: holds a run with {key}={previous[key]!r}, not {config[key]!r}; "
                                  "pass another --output, or --overwrite to start again")
        write_json_atomic(config_path, config)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine still exists (another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
