"""``ladder data quality F``: what is wrong with a training file before it costs a training run.

Exact duplicates (identical texts after whitespace is collapsed), near duplicates (datasketch MinHash LSH over
identifier-normalized shingles, the view :mod:`codeladder.data.tokens` gives), empty and short fields, length
statistics per field, and code that does not parse. Hand-written: the checks and the report; the similarity
search is datasketch's.
"""

from __future__ import annotations

import ast
import hashlib
import math
import re
import statistics
from collections import defaultdict
from typing import ClassVar

from codeladder.data.rows import Row, read_rows
from codeladder.params import VerbParams, option

FENCED = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
CODE_LINE = re.compile(r"^\s*(def |class |import |from \S+ import |return\b|for .+:\s*$|while .+:\s*$)", re.MULTILINE)
SHOWN = 10  # line numbers listed per finding


class QualityParams(VerbParams):
    """Check a training file: duplicates, near duplicates, empty or short fields, lengths, unparsable code."""

    verb: ClassVar[str] = "data quality"
    file: str = option(..., "training data: JSONL of prompt/completion, messages, or prompt/chosen/rejected rows",
                       argument=True)
    min_chars: int = option(8, "a field shorter than this (stripped) is reported as short", ge=1)
    near: float = option(0.85, "estimated Jaccard similarity at which two rows are near duplicates", gt=0, le=1)


def _code_parts(field: str, text: str, prompt: object) -> list[str]:
    """The code an answer holds: its fenced blocks; else the text when it reads as code (a completion that
    does not parse alone is read after the prompt it continues)."""
    blocks = FENCED.findall(text)
    if blocks:
        return blocks
    if isinstance(prompt, str) and not field.startswith("messages"):  # a completion continues its prompt
        if not CODE_LINE.search(prompt + text):
            return []
        return [text] if _parses(text) else [prompt + text]
    return [text] if CODE_LINE.search(text) else []


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def _unparsable(row: Row) -> list[str]:
    prompt = row.texts.get("prompt")
    return [field for field, text in row.answers().items()
            if any(not _parses(code) for code in _code_parts(field, text, prompt))]


def _field_kind(field: str) -> str:
    """``messages[3].content`` -> ``messages``: statistics are per kind of field."""
    return field.split("[", 1)[0]


def _lengths(rows: list[Row]) -> dict[str, dict]:
    by_kind: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        for field, text in row.texts.items():
            by_kind[_field_kind(field)].append(len(text))
    return {kind: _stats(values) for kind, values in sorted(by_kind.items())}


def _stats(values: list[int]) -> dict:
    ordered = sorted(values)
    return {"count": len(values), "min": ordered[0], "median": statistics.median(ordered),
            "mean": round(statistics.mean(ordered), 1), "p95": ordered[math.ceil(0.95 * len(ordered)) - 1],
            "max": ordered[-1]}


def _exact_duplicates(rows: list[Row]) -> list[list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        joined = "\x00".join(f"{k}\x01{' '.join(v.split())}" for k, v in row.texts.items())
        groups[hashlib.sha1(joined.encode()).hexdigest()].append(row.line)
    return [lines for lines in groups.values() if len(lines) > 1]


def near_duplicate_pairs(rows: list[Row], threshold: float, exact: list[list[int]]) -> list[list[int]]:
    """Pairs of rows whose normalized texts are near duplicates (exact duplicates left out)."""
    from datasketch import MinHashLSH

    from codeladder.data.detect import MINHASH_N, _minhash
    from codeladder.data.tokens import code_tokens, shingle_pairs

    same = {line: group[0] for group in exact for line in group}
    keys, owner = shingle_pairs([code_tokens("\n".join(r.texts.values())) for r in rows], MINHASH_N)
    order = owner.argsort(kind="stable")
    keys, owner = keys[order], owner[order]
    bounds = owner.searchsorted(range(len(rows) + 1))
    lsh, signatures, pairs = MinHashLSH(threshold=threshold, num_perm=128), {}, []
    for number, row in enumerate(rows):
        part = keys[bounds[number]:bounds[number + 1]]
        if not len(part) or same.get(row.line, row.line) != row.line:
            continue
        signatures[number] = _minhash(part, 128)
        for other in lsh.query(signatures[number]):
            if signatures[number].jaccard(signatures[other]) >= threshold:
                pairs.append([rows[other].line, row.line])
        lsh.insert(number, signatures[number])
    return pairs


def quality(params: QualityParams) -> dict:
    from codeladder.data import require_datasketch

    require_datasketch("data quality")
    rows = read_rows(params.file, "FILE")
    empty, short, unparsable = defaultdict(list), defaultdict(list), defaultdict(list)
    for row in rows:
        for field, text in row.texts.items():
            size = len(text.strip())
            if size == 0:
                empty[_field_kind(field)].append(row.line)
            elif size < params.min_chars:
                short[_field_kind(field)].append(row.line)
        for field in _unparsable(row):
            unparsable[_field_kind(field)].append(row.line)
    exact = _exact_duplicates(rows)
    near = near_duplicate_pairs(rows, params.near, exact)
    return {"file": params.file, "rows": len(rows), "lengths": _lengths(rows),
            "exact_duplicates": {"rows": sum(len(g) - 1 for g in exact), "groups": exact},
            "near_duplicates": {"pairs": len(near), "examples": near[:SHOWN], "threshold": params.near},
            "empty_fields": {k: sorted(set(v)) for k, v in empty.items()},
            "short_fields": {k: sorted(set(v)) for k, v in short.items()},
            "unparsable_code": {k: sorted(set(v)) for k, v in unparsable.items()}}


__all__ = ["QualityParams", "quality"]
