"""``llamacpp --parallel N`` (continuous batching in one llama.cpp context) against one sequence at a time
(llama-cpp-python's ``create_completion``, the peer), on a real GGUF model's real answers.

Runs ``ladder eval BENCH --limit N`` (chat, greedy, 256 new tokens) through the llamacpp backend with
``--parallel 1`` and each of ``--widths``, all with ``--replicas``, and prints generation seconds, kept tokens
per second, the ratio to one-at-a-time, and how many answers equal the peer's, character for character.

Usage: ``python benchmarks/llamacpp_parallel.py --model FILE.gguf [--bench mbpp-plus] [--limit 64]
[--widths 8,16] [--replicas 0] [--threads T] [--work DIR]`` (measured on SmolLM2-135M-Instruct Q8_0: see docs/backends.md).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from eval_runs import eval_run, print_table


def run(model: Path, out: Path, bench: str, limit: int, parallel: int, replicas: int, threads: int) -> dict:
    return eval_run([bench, "--backend", "llamacpp", "--model", str(model), "--mode", "chat", "--max-new-tokens",
                     "256", "--workers", "1", "--limit", str(limit), "--parallel", str(parallel), "--replicas",
                     str(replicas)] + (["--threads", str(threads)] if threads else []), out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, required=True, help="a GGUF file (e.g. the climb's Q8_0 stage)")
    parser.add_argument("--bench", default="mbpp-plus")
    parser.add_argument("--limit", type=int, default=64)
    parser.add_argument("--widths", default="8,16", help="sequences decoding together with --parallel")
    parser.add_argument("--replicas", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="threads of each context (default: the backend's)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.mkdtemp(prefix="llamacpp-parallel-")))
    args = parser.parse_args()
    common = (args.bench, args.limit)
    peer = run(args.model, args.work / "parallel-1", *common, 1, args.replicas, args.threads)
    widths = [int(w) for w in args.widths.split(",")]
    runs = [(f"--parallel {w}", run(args.model, args.work / f"parallel-{w}", *common, w, args.replicas, args.threads))
            for w in widths]
    print(f"{args.model.name}: {args.bench}, {args.limit} tasks, greedy, 256 new tokens, --replicas {args.replicas}")
    print_table("one at a time (create_completion)", peer, runs, "one at a time")


if __name__ == "__main__":
    main()
