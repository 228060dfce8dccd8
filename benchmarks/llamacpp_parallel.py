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
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def eval_run(model: Path, out: Path, bench: str, limit: int, parallel: int, replicas: int, threads: int) -> dict:
    command = [sys.executable, "-m", "codeladder.cli.main", "eval", bench, "--backend", "llamacpp", "--model",
               str(model), "--mode", "chat", "--max-new-tokens", "256", "--workers", "1", "--limit", str(limit),
               "--parallel", str(parallel), "--replicas", str(replicas), "-o", str(out)] + (["--threads", str(threads)] if threads else [])
    subprocess.run(command, check=True, capture_output=True)
    summary = json.loads((out / "summary.json").read_text())
    answers = [json.loads(line)["raw"] for line in (out / "samples.jsonl").open()]
    return {"seconds": summary["timings"]["generation_s"], "tokens": summary["tokens"]["completion"],
            "answers": answers, "passed": summary.get("passed")}


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
    peer = eval_run(args.model, args.work / "parallel-1", args.bench, args.limit, 1, args.replicas,
                    args.threads)
    print(f"{args.model.name}: {args.bench}, {args.limit} tasks, greedy, 256 new tokens, --replicas {args.replicas}")
    print("| decoding | generation s | kept tok/s | vs one at a time | answers equal to one at a time |")
    print("|---|---|---|---|---|")
    print(f"| one at a time (create_completion) | {peer['seconds']:.1f} | {peer['tokens'] / peer['seconds']:.1f} "
          f"| 1.00x | - |")
    for width in (int(w) for w in args.widths.split(",")):
        run = eval_run(args.model, args.work / f"parallel-{width}", args.bench, args.limit, width, args.replicas,
                       args.threads)
        same = sum(a == b for a, b in zip(run["answers"], peer["answers"]))
        print(f"| --parallel {width} | {run['seconds']:.1f} | {run['tokens'] / run['seconds']:.1f} | "
              f"{peer['seconds'] / run['seconds']:.2f}x | {same}/{len(peer['answers'])} |")


if __name__ == "__main__":
    main()
