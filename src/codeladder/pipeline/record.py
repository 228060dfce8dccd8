"""``RUN_DIR/lineage.json``: what a recipe run did, stage by stage, rewritten atomically after every change.

``stages`` is a list of ``{name, kind, inputs, config, outputs, gates, status, seconds}``: ``inputs`` and
``outputs`` map each field to ``{path, sha256}`` (a folder's sha256 is over its files' names and sha256s),
``gates`` is ``[{expr, value, passed}]``, ``status`` one of pending, running, done, failed, gate_failed,
interrupted. ``versions`` names codeladder, Python and the libraries that shape the numbers. Resume trusts a
finished stage only while its outputs and inputs still hash to what is recorded here.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import codeladder
from codeladder.errors import LadderError
from codeladder.runs import write_json_atomic

FORMAT = "codeladder-recipe-run/1"
LINEAGE_FILE, RECIPE_COPY, LOCK = "lineage.json", "recipe.yaml", ".lock"
LIBRARIES = ("torch", "transformers", "peft", "trl", "accelerate", "safetensors", "tokenizers", "gguf",
             "llama_cpp_python", "bitsandbytes", "pydantic", "PyYAML")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def versions() -> dict:
    """codeladder, Python, the platform and the installed libraries (read from metadata: nothing imported)."""
    found = {"codeladder": codeladder.__version__, "python": platform.python_version(), "platform": platform.platform()}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def sha256_path(path: Path) -> str | None:
    """A file's sha256, or a folder's: over each file's relative name and sha256 (hidden entries skipped: locks,
    staging leftovers). None when nothing is there."""
    from codeladder.models.lineage import file_sha256

    path = Path(path)
    if path.is_file():
        return file_sha256(path)
    if not path.is_dir():
        return None
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        relative = file.relative_to(path)
        if any(part.startswith(".") for part in relative.parts):
            continue
        digest.update(f"{relative}\0{file_sha256(file)}\n".encode())
    return digest.hexdigest()


def describe_path(path: Path, ref: str | None = None) -> dict:
    entry = {"path": str(path), "sha256": sha256_path(path)}
    return {"ref": ref, **entry} if ref else entry


class RunRecord:
    """The lineage document of one run folder, held locked by this process while it runs."""

    def __init__(self, run_dir: Path, document: dict):
        self.run_dir, self.document = Path(run_dir), document
        self._lock_fd: int | None = None

    @property
    def path(self) -> Path:
        return self.run_dir / LINEAGE_FILE

    @classmethod
    def load(cls, run_dir: Path) -> "RunRecord":
        path = Path(run_dir) / LINEAGE_FILE
        try:
            document = json.loads(path.read_text())
        except FileNotFoundError:
            raise LadderError(f"{run_dir}: no {LINEAGE_FILE}; not a recipe run folder (start one with "
                              "`ladder recipe run RECIPE -o RUN_DIR`)") from None
        except ValueError as exc:
            raise LadderError(f"{path}: damaged ({exc}); it is rewritten atomically, so something else changed "
                              "it") from None
        if document.get("format") != FORMAT:
            raise LadderError(f"{path}: format {document.get('format')!r}, expected {FORMAT!r}")
        return cls(run_dir, document)

    def stage(self, name: str) -> dict:
        return next(s for s in self.document["stages"] if s["name"] == name)

    def save(self) -> None:
        self.document["updated_at"] = now()
        write_json_atomic(self.path, self.document)

    def lock(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise LadderError(f"{self.run_dir}: another ladder process (pid {holder}) is running this recipe; "
                              "wait for it to finish") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def new_document(recipe_name: str, source: Path, base: Path, recipe_sha256: str, stages: list[tuple[str, str]],
                 options: dict) -> dict:
    return {"format": FORMAT, "recipe": {"name": recipe_name, "source": str(source), "base": str(base),
                                         "sha256": recipe_sha256},
            "options": options, "versions": versions(), "created_at": now(), "updated_at": now(),
            "stages": [{"name": name, "kind": kind, "inputs": {}, "config": {}, "outputs": {}, "gates": [],
                        "status": "pending", "seconds": None, "attempts": 0} for name, kind in stages]}


__all__ = ["RunRecord", "new_document", "versions", "sha256_path", "describe_path", "now", "FORMAT", "LINEAGE_FILE",
           "RECIPE_COPY"]
