"""Which benchmark fields a batch of training rows copies: n-gram containment in two views, and MinHash.

Hand-written: the decision rule and its calibration. datasketch (imported lazily) gives the MinHash
signatures and the LSH index; :mod:`codeladder.data.index` the exact n-gram counts. A row is matched to a
benchmark field when

- ``ngram``: at least ``threshold`` of the field's word n-grams appear in the row (a pasted copy);
- ``normalized-ngram``: the same with identifiers normalized and ``code_ngram``-token shingles (a copy with
  renamed variables; the longer shingles and the idiom filter keep generic loops from matching);
- ``minhash``: one of the row's texts and the field have an estimated Jaccard similarity of at least
  ``minhash_threshold`` over normalized 5-token shingles (a near-duplicate of the same size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codeladder.data.index import Field, ViewIndex, benchmark_fields, build_view, shared_counts
from codeladder.data.tokens import code_tokens, raw_tokens, shingle_pairs

MINHASH_N = 5
LOW_32 = np.uint64(0xFFFFFFFF)


@dataclass(frozen=True)
class Settings:
    ngram: int = 10  # tokens per shingle in the raw view
    code_ngram: int = 20  # tokens per shingle in the normalized view
    threshold: float = 0.5  # share of a benchmark field's shingles a row must contain
    minhash_threshold: float = 0.7  # estimated Jaccard similarity of a near-duplicate
    num_perm: int = 128
    max_df: int = 5  # a shingle in more benchmark fields than this is an idiom
    min_shingles: int = 8  # fields with fewer (after idioms are dropped) are too short to judge


@dataclass(frozen=True)
class Match:
    benchmark: str
    task_id: str
    field: str  # prompt, solution or tests
    kind: str  # ngram, normalized-ngram, minhash
    score: float

    def as_dict(self) -> dict:
        return {"benchmark": self.benchmark, "task_id": self.task_id, "field": self.field, "kind": self.kind,
                "score": round(self.score, 3)}


_PERMUTATIONS: dict[int, tuple] = {}


def _minhash(keys: np.ndarray, num_perm: int):
    """A datasketch MinHash of shingles that are already hashed (the permutations made once per size)."""
    from datasketch import MinHash

    if num_perm not in _PERMUTATIONS:
        _PERMUTATIONS[num_perm] = MinHash(num_perm=num_perm, scheme="affine32").permutations
    signature = MinHash(num_perm=num_perm, hashfunc=int, permutations=_PERMUTATIONS[num_perm], scheme="affine32")
    signature.update_batch((keys & LOW_32).tolist())
    return signature


def _rows_of(pairs: tuple[np.ndarray, np.ndarray], text_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(shingle, text) pairs to distinct (shingle, row) pairs."""
    keys, rows = pairs[0], text_row[pairs[1]]
    order = np.lexsort((rows, keys))
    keys, rows = keys[order], rows[order]
    fresh = np.ones(len(keys), dtype=bool)
    fresh[1:] = (keys[1:] != keys[:-1]) | (rows[1:] != rows[:-1])
    return keys[fresh], rows[fresh]


class Detector:
    """The benchmarks' index, built once; :meth:`scan` matches a batch of rows (each a list of texts)."""

    def __init__(self, benchmarks: list[str], settings: Settings = Settings()):
        self.settings = settings
        self.fields: list[Field] = benchmark_fields(benchmarks)
        texts = [f.text for f in self.fields]
        self.views: dict[str, tuple[ViewIndex, int]] = {
            "ngram": (build_view(texts, "raw", settings.ngram, settings.max_df, settings.min_shingles),
                      settings.ngram),
            "normalized-ngram": (build_view(texts, "code", settings.code_ngram, settings.max_df,
                                            settings.min_shingles), settings.code_ngram)}
        self._build_lsh([code_tokens(text) for text in texts])

    def _build_lsh(self, token_lists: list[list[str]]) -> None:
        from datasketch import MinHashLSH

        s = self.settings
        self.lsh = MinHashLSH(threshold=s.minhash_threshold, num_perm=s.num_perm)
        self.signatures = {}
        keys, owner = shingle_pairs(token_lists, MINHASH_N)
        bounds = np.searchsorted(np.sort(owner), np.arange(len(token_lists) + 1))
        by_owner = keys[np.argsort(owner, kind="stable")]
        for number in range(len(token_lists)):
            part = by_owner[bounds[number]:bounds[number + 1]]
            if len(part) >= s.min_shingles:
                self.signatures[number] = _minhash(part, s.num_perm)
                self.lsh.insert(number, self.signatures[number])

    def scan(self, rows: list[list[str]]) -> list[list[Match]]:
        """Every match of every row (a row's texts are its prompt, completion, messages...)."""
        found: list[dict[tuple, float]] = [{} for _ in rows]
        texts = [text for row in rows for text in row]
        text_row = np.repeat(np.arange(len(rows)), [len(row) for row in rows])
        token_lists = {"raw": [raw_tokens(t) for t in texts], "code": [code_tokens(t) for t in texts]}
        for kind, (index, n) in self.views.items():
            pairs = _rows_of(shingle_pairs(token_lists["raw" if kind == "ngram" else "code"], n), text_row)
            for row, field, shared in zip(*shared_counts(index, *pairs)):
                score = shared / index.sizes[field]
                if score >= self.settings.threshold:
                    found[row][(int(field), kind)] = float(score)
        self._scan_minhash(token_lists["code"], text_row, found)
        return [self._matches(row) for row in found]

    def _scan_minhash(self, token_lists: list[list[str]], text_row: np.ndarray, found: list[dict]) -> None:
        keys, owner = shingle_pairs(token_lists, MINHASH_N)
        order = np.argsort(owner, kind="stable")
        keys, bounds = keys[order], np.searchsorted(owner[order], np.arange(len(token_lists) + 1))
        for number in range(len(token_lists)):
            part = keys[bounds[number]:bounds[number + 1]]
            if len(part) < self.settings.min_shingles:
                continue
            signature = _minhash(part, self.settings.num_perm)
            for field in self.lsh.query(signature):
                score = signature.jaccard(self.signatures[field])
                if score >= self.settings.minhash_threshold:
                    slot = found[text_row[number]]
                    slot[(field, "minhash")] = max(score, slot.get((field, "minhash"), 0.0))

    def _matches(self, found: dict[tuple, float]) -> list[Match]:
        matches = [Match(benchmark, task_id, part, kind, score)
                   for (field, kind), score in found.items()
                   for benchmark, task_id, part in self.fields[field].owners]
        return sorted(matches, key=lambda m: (m.benchmark, m.task_id, m.field, m.kind))


__all__ = ["Detector", "Match", "Settings"]
