"""``hf --continuous`` against static batches, on a real model's real answers (answers end at different
lengths only on a trained model: a random-init one runs every row to the token budget).

Runs ``ladder eval BENCH --limit N`` (chat, greedy) on the same folder with static batches of ``--static``
rows (the peer: transformers' batched ``generate``) and continuously with each of ``--widths`` rows, all with
``--replicas``, and prints generation seconds, kept tokens per second, the ratio to static, and how many answers
equal the static run's, character for character.

Usage: ``python benchmarks/continuous_batching.py --model FOLDER [--bench mbpp-plus] [--limit 128] [--static 16]
[--widths 16,32] [--replicas 0] [--work DIR]`` (measured on SmolLM2-135M-Instruct: see docs/backends.md).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from eval_runs import eval_run, print_table


def run(model: Path, out: Path, bench: str, limit: int, batch: int, replicas: int, continuous: bool) -> dict:
    return eval_run([bench, "--backend", "hf", "--model", str(model), "--mode", "chat", "--max-new-tokens", "256",
                     "--workers", "1", "--limit", str(limit), "--batch-size", str(batch), "--replicas",
                     str(replicas), "--dtype", "float32"] + (["--continuous"] if continuous else []), out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, required=True, help="a model folder (e.g. the imported SmolLM2)")
    parser.add_argument("--bench", default="mbpp-plus")
    parser.add_argument("--limit", type=int, default=128)
    parser.add_argument("--static", type=int, default=16, help="rows of the static batches (the peer)")
    parser.add_argument("--widths", default="16,32", help="rows decoding together with --continuous")
    parser.add_argument("--replicas", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path(tempfile.mkdtemp(prefix="continuous-")))
    args = parser.parse_args()
    common = (args.bench, args.limit)
    static = run(args.model, args.work / "static", *common, args.static, args.replicas, False)
    runs = [(f"continuous x{w}", run(args.model, args.work / f"continuous-{w}", *common, w, args.replicas, True))
            for w in (int(w) for w in args.widths.split(","))]
    print(f"{args.bench}, {args.limit} tasks, greedy, 256 new tokens, --replicas {args.replicas}")
    print_table(f"static x{args.static} (generate)", static, runs, "static")


if __name__ == "__main__":
    main()
