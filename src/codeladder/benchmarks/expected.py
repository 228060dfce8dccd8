"""EvalPlus expected outputs: computed once per dataset version in the sandbox, cached on disk.

The canonical solution of every task runs as the *candidate* of a recording checker
(:func:`codeladder.benchmarks.differential.record`), in a pool of its own that is closed before
any sample runs, so a sample's process never holds the reference nor the answers. The file is
``$CODELADDER_CACHE/expected/<dataset sha256>.json.gz`` (default ``~/.cache/codeladder``), written
atomically; the sandbox hides that folder from samples. Hand-written: a few lines of gzip+JSON.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import tempfile
from pathlib import Path

from codeladder.errors import LadderError
from codeladder.sandbox import Job, Limits, SandboxPool
from codeladder.sandbox.isolation import expected_cache_dir

FORMAT = 1
RECORD_TIMEOUT_S = 300.0


def cache_path(sha256: str) -> Path:
    return expected_cache_dir() / f"{sha256}.json.gz"


def _write_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(gzip.compress(json.dumps(data, separators=(",", ":")).encode(), compresslevel=6))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _record_jobs(specs: dict[str, dict], references: dict[str, str]) -> list[Job]:
    runner = "codeladder.benchmarks.differential:record"
    return [Job(task_id, references[task_id], checker={"kind": "runner", "runner": runner, **spec},
                timeout_s=RECORD_TIMEOUT_S) for task_id, spec in specs.items()]


def build(sha256: str, specs: dict[str, dict], references: dict[str, str], workers: int | None = None,
          show: bool = True) -> dict[str, dict]:
    """Run every reference once and cache its outputs; returns task id -> {"base": [...], "plus": [...]}."""
    if show:
        print(f"computing expected outputs for {len(specs)} tasks (once per dataset version) ...", file=sys.stderr)
    outputs: dict[str, dict] = {}
    limits = Limits(timeout_s=RECORD_TIMEOUT_S, memory_mb=8192)
    with SandboxPool(workers=workers or os.cpu_count() or 1, limits=limits) as pool:
        for verdict in pool.run(_record_jobs(specs, references)):
            if verdict.status != "passed" or "outputs" not in verdict.extra:
                raise LadderError(f"{verdict.key}: the reference solution could not be recorded "
                                  f"({verdict.status}: {verdict.detail[-300:]})")
            outputs[verdict.key] = verdict.extra["outputs"]
            if show:
                print(f"  {len(outputs)}/{len(specs)} {verdict.key} ({verdict.duration_s:.1f} s)", file=sys.stderr)
    _write_atomic(cache_path(sha256), {"format": FORMAT, "sha256": sha256, "outputs": outputs})
    return outputs


SHIPPED = Path(__file__).resolve().parent / "data" / "expected"  # built here once; hidden from samples


def load(sha256: str) -> dict[str, dict] | None:
    """The expected outputs: those shipped with the package, else the ones built on this machine."""
    return _read(SHIPPED / f"{sha256}.json.gz", sha256) or _read(cache_path(sha256), sha256)


def _read(path: Path, sha256: str) -> dict[str, dict] | None:
    try:
        data = json.loads(gzip.decompress(path.read_bytes()))
    except (OSError, ValueError, EOFError):
        return None
    if data.get("format") != FORMAT or data.get("sha256") != sha256:
        return None
    return data["outputs"]
