"""``ladder data decontaminate F --against humaneval,mbpp``: which training rows copy a benchmark.

Hand-written here: reading the rows, the report and the clean file; the matching is in
:mod:`codeladder.data.detect` (n-gram containment in a raw and an identifier-normalized view, and datasketch
MinHash). ``-o REPORT.json`` holds ``rows``: one ``{line, contaminated, matches}`` per input row (``line``
0-based; each match names the benchmark, task_id, field and kind); ``--drop FILE`` gets the clean rows,
byte for byte. Both are written atomically, and neither replaces an existing file without ``--overwrite``. An
empty input is an error, never a clean report.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, ClassVar, Optional

from pydantic import BeforeValidator

from codeladder.errors import LadderError
from codeladder.params import OUTPUT, VerbParams, comma_words, option
from codeladder.progress import progress_bar
from codeladder.runs import check_new_file, write_json_atomic, write_text_atomic

BATCH = 256


def scored_benchmarks() -> tuple[str, ...]:
    """Every bundled benchmark that is scored (not a training pool; not one read from the user's files)."""
    from codeladder.benchmarks import BENCHMARKS

    return tuple(e.name for e in BENCHMARKS.entries()
                 if getattr(e.load(), "split", "test") == "test" and getattr(e.load(), "bundled", True))


class DecontaminateParams(VerbParams):
    """Flag training rows that copy a benchmark's prompt, tests or solution (also with renamed variables)."""

    verb: ClassVar[str] = "data decontaminate"
    file: str = option(..., "training data: JSONL of prompt/completion, messages, or prompt/chosen/rejected rows",
                       argument=True)
    against: Annotated[tuple[str, ...], BeforeValidator(comma_words)] = option(
        (), "benchmarks to check against, comma-separated (default: every bundled test benchmark)",
        choices="benchmark")
    output: Optional[str] = option(None, "the report: JSON with one {line, contaminated, matches} per row",
                                   flags=OUTPUT)
    drop: Optional[str] = option(None, "write the rows that matched nothing here (the clean file)")
    ngram: int = option(10, "words per n-gram for exact overlap", ge=3, le=50)
    code_ngram: int = option(20, "tokens per n-gram after identifiers are normalized (renamed copies)", ge=5, le=100)
    threshold: float = option(0.5, "share of a benchmark field's n-grams a row must contain to match", gt=0, le=1)
    minhash_threshold: float = option(0.7, "estimated Jaccard similarity of a MinHash near-duplicate", gt=0, le=1)
    overwrite: bool = option(False, "replace existing --output / --drop files")

    def benchmarks(self) -> list[str]:
        return list(self.against or scored_benchmarks())


def _settings(params: DecontaminateParams):
    from codeladder.data.detect import Settings

    return Settings(ngram=params.ngram, code_ngram=params.code_ngram, threshold=params.threshold,
                    minhash_threshold=params.minhash_threshold)


def _overlap(report_rows: list[dict]) -> dict[str, dict]:
    """Per benchmark: rows that match it, distinct tasks matched, matches by kind."""
    out: dict[str, dict] = {}
    for row in report_rows:
        for benchmark in {m["benchmark"] for m in row["matches"]}:
            out.setdefault(benchmark, {"rows": 0, "tasks": set(), "kinds": Counter()})["rows"] += 1
        for match in row["matches"]:
            entry = out[match["benchmark"]]
            entry["tasks"].add(match["task_id"])
            entry["kinds"][match["kind"]] += 1
    return {name: {"rows": e["rows"], "tasks": len(e["tasks"]), "kinds": dict(e["kinds"])}
            for name, e in sorted(out.items())}


def decontaminate(params: DecontaminateParams, show_progress: bool = False) -> dict:
    """Scan the file; write the report and the clean file where asked; return the report."""
    from codeladder.data import require_datasketch
    from codeladder.data.rows import read_rows

    require_datasketch("data decontaminate")
    from codeladder.data.detect import Detector

    if params.drop and Path(params.drop).resolve() == Path(params.file).resolve():
        raise LadderError(f"--drop {params.drop}: is the input file; pass another path")
    for path, flag in ((params.output, "--output"), (params.drop, "--drop")):
        if path:
            check_new_file(Path(path), flag, params.overwrite)
    rows = read_rows(params.file, "FILE")
    detector = Detector(params.benchmarks(), _settings(params))
    report_rows = []
    with progress_bar("decontaminating", len(rows), show_progress) as advance:
        for start in range(0, len(rows), BATCH):
            batch = rows[start:start + BATCH]
            for row, matches in zip(batch, detector.scan([list(r.texts.values()) for r in batch])):
                report_rows.append({"line": row.line, "contaminated": bool(matches),
                                    "matches": [m.as_dict() for m in matches]})
            advance(len(batch))
    report = {"file": str(params.file), "against": params.benchmarks(),
              "settings": asdict(_settings(params)),
              "rows_total": len(rows), "rows_contaminated": sum(r["contaminated"] for r in report_rows),
              "overlap": _overlap(report_rows), "rows": report_rows}
    if params.output:
        write_json_atomic(Path(params.output), report)
    if params.drop:
        clean = [row.source for row, entry in zip(rows, report_rows) if not entry["contaminated"]]
        write_text_atomic(Path(params.drop), "".join(line + "\n" for line in clean))
        report["clean_file"] = params.drop
    return report


def decontaminate_verb(params: DecontaminateParams) -> dict:
    return decontaminate(params, show_progress=True)


__all__ = ["DecontaminateParams", "decontaminate", "decontaminate_verb", "scored_benchmarks"]
