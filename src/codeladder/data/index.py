"""An inverted index of the bundled benchmarks' shingles: which benchmark fields a text contains, and how much.

Hand-written: no library answers "what fraction of this benchmark prompt's n-grams appear in this row" over
millions of shingles fast enough; numpy does, with one sorted array of (shingle, field) pairs per view.

Every task gives up to three fields (``prompt``, ``solution``: the reference minus the prompt, ``tests``); a
field with the same text in several benchmarks (HumanEval and HumanEval+ share prompts) is indexed once and
names every task it belongs to. A shingle found in more than ``max_df`` distinct fields is an idiom
(``for ID in range(len(ID)):``, ``from typing import List``), not evidence of a copy, and is dropped; so is a
field left with fewer than ``min_shingles`` shingles (too short to tell a copy from a coincidence).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from codeladder.data.tokens import VIEWS, shingle_pairs


@dataclass
class Field:
    """One distinct benchmark text, and every (benchmark, task_id, part) it is."""

    text: str
    owners: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class ViewIndex:
    keys: np.ndarray  # sorted shingle hashes, one entry per (shingle, field)
    fields: np.ndarray  # the field index of each entry
    sizes: np.ndarray  # shingles per field after the common ones were dropped


def task_fields(prompt: str, reference: str, tests: str) -> dict[str, str]:
    """A task's parts: the solution is the reference without the prompt it repeats (HumanEval's does)."""
    solution = reference[len(prompt):] if prompt and reference.startswith(prompt) else reference
    return {"prompt": prompt, "solution": solution, "tests": tests}


def benchmark_fields(names: list[str]) -> list[Field]:
    """Every distinct prompt, solution and test text of the named benchmarks."""
    from codeladder.benchmarks import get_benchmark

    by_digest: dict[bytes, Field] = {}
    for name in names:
        for task in get_benchmark(name).load():
            test = task.data.get("test")
            tests = "\n".join([*task.tests, *([test] if isinstance(test, str) else [])])
            for part, text in task_fields(task.prompt, task.reference, tests).items():
                if not text.strip():
                    continue
                digest = hashlib.sha1(text.encode()).digest()
                by_digest.setdefault(digest, Field(text)).owners.append((name, task.task_id, part))
    return list(by_digest.values())


def build_view(texts: list[str], view: str, n: int, max_df: int, min_shingles: int) -> ViewIndex:
    """The view's shingles of every field, idioms (in more than ``max_df`` fields) and short fields dropped."""
    tokenize = VIEWS[view]
    keys, owner = shingle_pairs([tokenize(text) for text in texts], n)
    _, counts = np.unique(keys, return_counts=True)
    common = np.repeat(counts > max_df, counts)
    keys, owner = keys[~common], owner[~common]
    sizes = np.bincount(owner, minlength=len(texts))
    small = sizes < min_shingles
    keep = ~small[owner]
    return ViewIndex(keys[keep], owner[keep].astype(np.int32), np.where(small, 0, sizes))


def shared_counts(index: ViewIndex, keys: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a batch of query shingles (``owner``: which row each came from, pairs distinct): (rows, fields,
    shingles shared) for every row and field that share at least one."""
    left = np.searchsorted(index.keys, keys, side="left")
    lengths = np.searchsorted(index.keys, keys, side="right") - left
    hit = lengths > 0
    left, lengths, rows = left[hit], lengths[hit], owner[hit]
    if not len(left):
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    starts = np.repeat(left - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
    pair = np.repeat(rows, lengths).astype(np.int64) * len(index.sizes) + index.fields[starts]
    pairs, shared = np.unique(pair, return_counts=True)
    return pairs // len(index.sizes), pairs % len(index.sizes), shared


__all__ = ["Field", "ViewIndex", "benchmark_fields", "build_view", "shared_counts", "task_fields"]
