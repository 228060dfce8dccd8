"""Decontamination speed and recall, codeladder against plain datasketch, in one run.

Rows: MBPP's train split (320 unrelated problems: every match is a false positive) plus every HumanEval
problem renamed (every name it binds, docstrings included, reformatted by ast.unparse: every row must match).

- codeladder: ``Detector`` (raw 10-gram and normalized 20-gram containment, idiom filter, datasketch MinHash on
  normalized 5-grams at Jaccard 0.7);
- peer: datasketch MinHash LSH on plain word 5-grams at Jaccard 0.7 (the common recipe), same rows, same
  benchmark fields.

Usage: ``python benchmarks/decontaminate_speed.py [--against humaneval] [--repeat 4]``
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "data"))

from renaming import rename  # noqa: E402

from codeladder.benchmarks import get_benchmark  # noqa: E402
from codeladder.data.detect import Detector  # noqa: E402
from codeladder.data.index import benchmark_fields  # noqa: E402


def peer(fields: list[str], rows: list[list[str]]) -> tuple[list[bool], float, float]:
    from datasketch import MinHash, MinHashLSH

    def signature(text: str) -> MinHash | None:
        words = re.findall(r"\w+", text.lower())
        grams = {" ".join(words[i:i + 5]).encode() for i in range(len(words) - 4)}
        if not grams:
            return None
        m = MinHash(num_perm=128)
        m.update_batch(list(grams))
        return m

    started = time.perf_counter()
    lsh = MinHashLSH(threshold=0.7, num_perm=128)
    for number, text in enumerate(fields):
        m = signature(text)
        if m is not None:
            lsh.insert(number, m)
    built = time.perf_counter()
    flagged = [any(m is not None and lsh.query(m) for m in map(signature, row)) for row in rows]
    return flagged, built - started, time.perf_counter() - built


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--against", default="humaneval")
    parser.add_argument("--repeat", type=int, default=4, help="copies of the rows to time (bigger batches)")
    args = parser.parse_args()
    against = args.against.split(",")
    clean = [[t.prompt, t.reference] for t in get_benchmark("mbpp-train").load()]
    copies = [[rename(t.prompt + "    pass\n"), rename(t.reference)] for t in get_benchmark("humaneval").load()]
    rows = (clean + copies) * args.repeat
    started = time.perf_counter()
    detector = Detector(against)
    built = time.perf_counter()
    found = detector.scan(rows)
    ours_s = time.perf_counter() - built
    fields = [f.text for f in benchmark_fields(against)]
    flagged, peer_build_s, peer_s = peer(fields, rows)
    n_clean, n_copy = len(clean), len(copies)
    ours = [bool(f) for f in found[:n_clean + n_copy]]
    print(f"rows: {len(rows)} ({n_clean} MBPP-train + {n_copy} renamed HumanEval, x{args.repeat}); against {against}")
    print(f"codeladder: {len(rows) / ours_s:,.0f} rows/s (index {built - started:.1f} s); "
          f"renamed copies found {sum(ours[n_clean:])}/{n_copy}, MBPP-train flagged {sum(ours[:n_clean])}/{n_clean}")
    print(f"datasketch word-5-gram MinHash 0.7: {len(rows) / peer_s:,.0f} rows/s (index {peer_build_s:.1f} s); "
          f"renamed copies found {sum(flagged[n_clean:n_clean + n_copy])}/{n_copy}, "
          f"MBPP-train flagged {sum(flagged[:n_clean])}/{n_clean}")


if __name__ == "__main__":
    main()
