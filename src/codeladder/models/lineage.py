"""Lineage and reports: what every written model records about how it was made, and how to read it back.

A model folder holds its lineage in ``ladder.json``; a GGUF file in a sidecar ``NAME.gguf.ladder.json``
(GGUF metadata cannot be appended without rewriting the file) that also records the GGUF's sha256, so a
sidecar left beside another file (a crash between the two renames, a copy) is recognised and ignored.
A transform's typed report (a dataclass or pydantic model) becomes ``report.json`` in the folder, or the
``report`` of the sidecar. :func:`lineage_fingerprint` is the short record an evaluation stores so a
result joins to the model's lineage.

Hand-written: the checksum cache, because a merge tournament reads the same multi-GB base many times.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import codeladder
from codeladder.models.lazy import INDEX
from codeladder.models.output import LINEAGE

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
                   "tokenizer.model", "added_tokens.json", "chat_template.jinja", "chat_template.json")
REPORT = "report.json"
SIDECAR_SUFFIX = ".ladder.json"
FORMAT = 1
TRAINING_CUTOFF = "training_cutoff"  # YYYY-MM-DD: the newest data the weights may have seen (LiveCodeBench windows)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _checksum_cache() -> Path:
    return Path(os.environ.get("CODELADDER_CACHE", Path.home() / ".cache" / "codeladder")) / "sha256.json"


def _cache_key(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ino}"


def _load_cache() -> dict:
    try:
        return json.loads(_checksum_cache().read_text())
    except (OSError, ValueError):
        return {}


def remember_sha256(path: Path, digest: str) -> None:
    """Record a checksum already computed (e.g. of a staged file now renamed into place)."""
    cache_path = _checksum_cache()
    cache = _load_cache()
    cache[_cache_key(path)] = digest
    try:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache_path.with_name(f".{cache_path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(cache))
        os.replace(temporary, cache_path)
    except OSError:
        pass  # a read-only home only costs the next run the hashing again


def sha256_of(path: Path) -> str:
    """sha256 of a file, computed now."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime, inode)."""
    known = _load_cache().get(_cache_key(path))
    if known is None:
        known = sha256_of(path)
        remember_sha256(path, known)
    return known


def folder_fingerprint(folder: Path) -> dict:
    """Checksums of what defines a model folder (config, tokenizer, weights)."""
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and (
        p.suffix in (".safetensors", ".gguf") or p.name in TOKENIZER_FILES or p.name in ("config.json", INDEX)))
    return {"path": str(folder), "files": {name: file_sha256(folder / name) for name in names}}


def fingerprint(path: Path) -> dict:
    """An input as lineage records it: a folder's defining files, or a file's checksum."""
    path = Path(path)
    return folder_fingerprint(path) if path.is_dir() else {"path": str(path), "sha256": file_sha256(path)}


def sidecar_path(gguf: Path) -> Path:
    return gguf.with_name(gguf.name + SIDECAR_SUFFIX)


def _read_json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def read_sidecar(gguf: Path) -> dict | None:
    """A GGUF file's sidecar, only when it describes this very file (its sha256 matches)."""
    sidecar = _read_json(sidecar_path(gguf))
    if sidecar is None or not gguf.is_file() or sidecar.get("sha256") != file_sha256(gguf):
        return None
    return sidecar


def read_lineage(path: Path) -> dict:
    """The lineage of a folder or GGUF file; a fresh one naming ``path`` as its source when it has none."""
    path = Path(path)
    found = _read_json(path / LINEAGE) if path.is_dir() else (read_sidecar(path) or {}).get("lineage")
    return found if found is not None else {"format": FORMAT, "source": str(path), "stages": []}


def stage_record(stage: str, params: dict, inputs: list[dict], started_at: str | None = None) -> dict:
    return {"stage": stage, "params": params, "inputs": inputs, "codeladder_version": codeladder.__version__,
            "started_at": started_at or now(), "finished_at": now()}


def stage_id(record: dict) -> str:
    """A stage's id: the one it was written with, else (lineage written before ids) a hash of the record."""
    found = record.get("id")
    if isinstance(found, str) and found:
        return found
    body = {k: v for k, v in record.items() if k not in ("id", "parents")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]


def stage_parents(lineage: dict) -> dict[str, list[str]]:
    """Each stage's id -> the ids of the stages that made its inputs (``source:PATH`` for an input with no
    stages). A lineage written before the graph is a chain: each stage's parent is the one before it."""
    parents: dict[str, list[str]] = {}
    previous = f"source:{lineage.get('source')}"
    for record in lineage.get("stages", []):
        found = record.get("parents")
        parents[stage_id(record)] = list(found) if isinstance(found, list) else [previous]
        previous = stage_id(record)
    return parents


def _tip(lineage: dict) -> str:
    stages = lineage.get("stages") or []
    return stage_id(stages[-1]) if stages else f"source:{lineage.get('source')}"


def extend_lineage(lineage_source: Path | None, origin: str, record: dict,
                   parents: Sequence[Path] = ()) -> dict:
    """The lineage of a new output: a graph. Its ``stages`` are every stage of every parent's lineage (each
    once, parents before children) plus ``record``, whose ``parents`` name the stages that made its inputs.

    ``lineage_source`` is the parent the output continues (its ``source`` is kept); ``parents`` are all the
    models whose weights went into the output (a merge's inputs), so a merged fine-tune keeps its finetune
    stage, training data sha256 and contamination mark."""
    lineage = read_lineage(lineage_source) if lineage_source else {"format": FORMAT, "source": origin, "stages": []}
    known = {stage_id(s) for s in lineage["stages"]}
    tips = [_tip(lineage)] if lineage_source or not parents else []
    sources = [lineage["source"]]
    others_cutoffs = []
    for parent in parents:
        if lineage_source is not None and Path(parent).resolve() == Path(lineage_source).resolve():
            continue
        other = read_lineage(Path(parent))
        their_parents = stage_parents(other)
        for stage in other.get("stages", []):
            sid = stage_id(stage)
            if sid not in known:
                known.add(sid)
                lineage["stages"].append({**stage, "id": sid, "parents": their_parents[sid]})
        tips.append(_tip(other))
        sources.append(other["source"])
        others_cutoffs.append(other.get(TRAINING_CUTOFF))
    chain = stage_parents(lineage)
    lineage["stages"] = [s if "id" in s else {**s, "id": stage_id(s), "parents": chain[stage_id(s)]}
                         for s in lineage["stages"]]
    record = {**record, "id": uuid.uuid4().hex[:16], "parents": list(dict.fromkeys(tips))}
    lineage["stages"].append(record)
    if len(set(sources)) > 1:
        lineage["sources"] = list(dict.fromkeys(sources))
    cutoffs = [c for c in [lineage.get(TRAINING_CUTOFF), *others_cutoffs] if isinstance(c, str) and c]
    if cutoffs:  # a merge has seen what any of its parents saw: the latest cutoff holds
        lineage[TRAINING_CUTOFF] = max(cutoffs)
    return lineage


def training_cutoff(path: Path) -> str | None:
    """The ``training_cutoff`` a model folder's or GGUF file's lineage records, if any."""
    found = read_lineage(Path(path)).get(TRAINING_CUTOFF)
    return found if isinstance(found, str) and found else None


def out_of_order(lineage: dict, order: Sequence[str], aliases: dict[str, str]) -> list[tuple[str, str]]:
    """Pairs ``(earlier, later)`` of weight-changing stages on one path of the graph whose ladder ``order`` is
    backwards (a later stage of the order applied before an earlier one)."""
    parents = stage_parents(lineage)
    rank = {stage_id(s): order.index(aliases.get(s.get("stage"), s.get("stage")))
            for s in lineage.get("stages", []) if aliases.get(s.get("stage"), s.get("stage")) in order}
    name = {stage_id(s): str(s.get("stage")) for s in lineage.get("stages", [])}
    highest: dict[str, tuple[int, str] | None] = {}
    backwards = []
    for record in lineage.get("stages", []):
        sid = stage_id(record)
        above = max((h for p in parents.get(sid, []) if (h := highest.get(p)) is not None), default=None)
        if sid in rank and above is not None and rank[sid] < above[0]:
            backwards.append((above[1], name[sid]))
        mine = (rank[sid], name[sid]) if sid in rank else None
        highest[sid] = max(filter(None, (above, mine)), default=None)
    return backwards


def report_dict(report: object) -> dict:
    """A typed report (its ``as_dict()``, a dataclass, a pydantic model or a dict) as plain JSON-ready data."""
    if hasattr(report, "as_dict"):
        return report.as_dict()
    if dataclasses.is_dataclass(report) and not isinstance(report, type):
        return dataclasses.asdict(report)
    if hasattr(report, "model_dump"):
        return report.model_dump(mode="json")
    return dict(report)


def to_json(data: object) -> str:
    return json.dumps(data, indent=2) + "\n"


def lineage_fingerprint(path: str | Path) -> dict | None:
    """The evaluated model's lineage, short: enough to join a result to it. None when it has none.

    ``lineage_sha256`` identifies the lineage document (it holds every input's checksum and timestamps,
    so two different models never share it); ``stages`` names what was applied, in order."""
    path = Path(path)
    if path.is_dir():
        document = path / LINEAGE
        lineage = _read_json(document)
    else:
        sidecar = read_sidecar(path) if path.is_file() else None
        document, lineage = sidecar_path(path), (sidecar or {}).get("lineage")
    if lineage is None:
        return None
    return {"path": str(path), "kind": "folder" if path.is_dir() else "gguf", "source": lineage.get("source"),
            "stages": [s.get("stage") for s in lineage.get("stages", [])],
            "lineage_sha256": hashlib.sha256(document.read_bytes()).hexdigest()}


__all__ = ["TOKENIZER_FILES", "REPORT", "now", "sha256_of", "file_sha256", "remember_sha256", "folder_fingerprint",
           "fingerprint",
           "sidecar_path", "read_sidecar", "read_lineage", "stage_record", "stage_id", "stage_parents",
           "extend_lineage", "out_of_order", "report_dict",
           "to_json", "lineage_fingerprint", "TRAINING_CUTOFF", "training_cutoff"]
