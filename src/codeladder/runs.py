"""A run folder: ``samples.jsonl``, ``results.jsonl``, ``summary.json`` (+ ``config.json``).

Rows are appended with one ``write`` each on an ``O_APPEND`` descriptor, so a crash or
``kill -9`` can at worst leave a torn last line, which the next open cuts off; nothing that
was finished is redone or lost. ``summary.json`` and ``config.json`` are replaced atomically.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from codeladder.errors import LadderError

SAMPLES, RESULTS, SUMMARY, CONFIG = "samples.jsonl", "results.jsonl", "summary.json", "config.json"


def write_json_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2, sort_keys=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_jsonl(path: Path) -> list[dict]:
    """Every complete row; a torn or corrupt tail (from a crash) is cut off the file."""
    if not path.exists():
        return []
    blob = path.read_bytes()
    rows, good_end = [], 0
    for line in blob.split(b"\n")[:-1] if blob else []:
        try:
            rows.append(json.loads(line))
        except ValueError:
            break
        good_end += len(line) + 1
    if good_end != len(blob):
        with open(path, "r+b") as f:
            f.truncate(good_end)
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
    for number, line in enumerate(path.read_text().splitlines(), 1):
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

    def prepare(self, config: dict, overwrite: bool = False) -> None:
        """Create the folder, or check that an existing one holds a run with the same settings."""
        if overwrite and self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        config_path = self.path / CONFIG
        if config_path.exists():
            previous = json.loads(config_path.read_text())
            changed = [k for k in config if k in previous and previous[k] != config[k]]
            if changed:
                key = changed[0]
                raise LadderError(f"{self.path}: holds a run with {key}={previous[key]!r}, not {config[key]!r}; "
                                  "pass another --output, or --overwrite to start again")
        write_json_atomic(config_path, config)
