"""``ladder data split F --train .8 --val .1 --test .1 --seed 42`` and ``ladder data calibration F -n 128``.

``split`` shuffles the rows of a JSONL training file with a seeded generator and writes ``F.train.jsonl``,
``F.val.jsonl`` and ``F.test.jsonl`` beside it (or under ``-o DIR``): rows identical up to whitespace move together,
so no held-out row has a copy in train. ``calibration`` draws ``-n`` rows without replacement as ``{"text": ...}``
rows, the shape ``ladder prune --calibration`` reads (prompt and answer joined). Each output has its metadata beside
it (``FILE.meta.json``: source and its sha256, seed, fractions, rows, the file's sha256), and follows the data
verbs' output rule.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import datetime, timezone
from pathlib import Path
from typing import ClassVar, Optional

import codeladder
from codeladder.errors import LadderError
from codeladder.params import OUTPUT, VerbParams, option
from codeladder.runs import write_json_atomic, write_text_atomic

PARTS = ("train", "val", "test")


class SplitParams(VerbParams):
    """Train / validation / test files from one JSONL file, seeded; duplicate rows never straddle two parts."""

    verb: ClassVar[str] = "data split"
    file: Path = option(..., "a JSONL training file (prompt/completion, messages, pairs or text rows)", argument=True)
    train: float = option(0.8, "share of rows for FILE.train.jsonl", ge=0, le=1)
    val: float = option(0.1, "share of rows for FILE.val.jsonl", ge=0, le=1)
    test: float = option(0.1, "share of rows for FILE.test.jsonl", ge=0, le=1)
    seed: int = option(42, "shuffle seed")
    output: Optional[Path] = option(None, "folder for the parts (default: beside FILE)", flags=OUTPUT)
    overwrite: bool = option(False, "replace existing parts (ones a data verb wrote are replaced anyway)")


class CalibrationParams(VerbParams):
    """A seeded sample of rows as {"text": ...} rows for `ladder prune --calibration`."""

    verb: ClassVar[str] = "data calibration"
    file: Path = option(..., "a JSONL training file", argument=True)
    samples: int = option(128, "rows to draw", ge=1, flags=("-n", "--samples"))
    seed: int = option(42, "sampling seed")
    output: Path = option(..., "the JSONL to write (metadata beside it: FILE.meta.json)", flags=OUTPUT)
    overwrite: bool = option(False, "replace an existing output file (one a data verb wrote is replaced anyway)")


def _meta(kind: str, out: Path, text: str, source: Path, **fields) -> dict:
    return {"kind": kind, "file": str(out), "sha256": hashlib.sha256(text.encode()).hexdigest(),
            "source": str(source), "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(), **fields,
            "codeladder_version": codeladder.__version__,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _groups(rows) -> list[list]:
    """Rows identical up to whitespace, together, in file order of their first row."""
    groups: dict[str, list] = {}
    for row in rows:
        key = hashlib.sha1("\x00".join(" ".join(t.split()) for t in row.texts.values()).encode()).hexdigest()
        groups.setdefault(key, []).append(row)
    return list(groups.values())


def split(params: SplitParams) -> dict:
    """Write the three parts and their metadata; returns {part: metadata}."""
    from codeladder.data.pairs import check_output, meta_path
    from codeladder.data.rows import read_rows

    shares = {"train": params.train, "val": params.val, "test": params.test}
    if abs(sum(shares.values()) - 1) > 1e-9:
        raise LadderError(f"--train {params.train} --val {params.val} --test {params.test}: they sum to "
                          f"{sum(shares.values()):g}; give shares that sum to 1")
    rows = read_rows(params.file, "FILE")
    folder = Path(params.output) if params.output else Path(params.file).parent
    stem = Path(params.file).name.removesuffix(".jsonl")
    outs = {part: folder / f"{stem}.{part}.jsonl" for part in PARTS}
    folder.mkdir(parents=True, exist_ok=True)
    for out in outs.values():
        check_output(out, params.overwrite)
    groups = _groups(rows)
    random.Random(params.seed).shuffle(groups)
    wanted = {"train": round(params.train * len(rows)), "val": round(params.val * len(rows))}
    parts: dict[str, list] = {part: [] for part in PARTS}
    for group in groups:  # fill train, then val, then test, a whole group at a time
        part = next((p for p in ("train", "val") if len(parts[p]) < wanted[p]), "test")
        parts[part] += group
    metas = {}
    for part, chosen in parts.items():
        text = "".join(row.source + "\n" for row in sorted(chosen, key=lambda r: r.line))
        write_text_atomic(outs[part], text)
        metas[part] = _meta("split", outs[part], text, Path(params.file), part=part, seed=params.seed,
                            fractions=shares, rows=len(chosen), rows_in_source=len(rows))
        write_json_atomic(meta_path(outs[part]), metas[part])
    return metas


def _text(texts: dict[str, str]) -> str:
    return "\n".join(text for text in texts.values() if text.strip())


def calibration(params: CalibrationParams) -> dict:
    """Write the sampled rows and their metadata; returns the metadata."""
    from codeladder.data.pairs import check_output, meta_path
    from codeladder.data.rows import read_rows

    out = Path(params.output)
    check_output(out, params.overwrite)
    rows = read_rows(params.file, "FILE")
    if params.samples > len(rows):
        raise LadderError(f"-n {params.samples}: {params.file} has {len(rows)} rows; ask for at most {len(rows)}")
    chosen = sorted(random.Random(params.seed).sample(range(len(rows)), params.samples))
    text = "".join(json.dumps({"text": _text(rows[i].texts)}) + "\n" for i in chosen)
    write_text_atomic(out, text)
    meta = _meta("calibration", out, text, Path(params.file), seed=params.seed, rows=len(chosen),
                 rows_in_source=len(rows), lines=[rows[i].line for i in chosen])
    write_json_atomic(meta_path(out), meta)
    return meta


__all__ = ["SplitParams", "CalibrationParams", "split", "calibration"]
