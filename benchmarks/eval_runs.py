"""What the batching benchmarks share: one timed ``ladder eval`` run, and the table that sets runs against a peer
run of the same tasks (generation seconds, kept tokens per second, the ratio, answers equal character for
character)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def eval_run(arguments: list[str], out: Path) -> dict:
    """``ladder eval ARGUMENTS -o OUT``: generation seconds, completion tokens and the raw answers in order."""
    command = [sys.executable, "-m", "codeladder.cli.main", "eval", *arguments, "-o", str(out)]
    subprocess.run(command, check=True, capture_output=True)
    summary = json.loads((out / "summary.json").read_text())
    answers = [json.loads(line)["raw"] for line in (out / "samples.jsonl").open()]
    return {"seconds": summary["timings"]["generation_s"], "tokens": summary["tokens"]["completion"],
            "answers": answers}


def print_table(peer_label: str, peer: dict, runs: list[tuple[str, dict]], against: str) -> None:
    print(f"| run | generation s | kept tok/s | vs {against} | answers equal to {against} |")
    print("|---|---|---|---|---|")
    print(f"| {peer_label} | {peer['seconds']:.1f} | {peer['tokens'] / peer['seconds']:.1f} | 1.00x | - |")
    for label, run in runs:
        same = sum(a == b for a, b in zip(run["answers"], peer["answers"]))
        print(f"| {label} | {run['seconds']:.1f} | {run['tokens'] / run['seconds']:.1f} | "
              f"{peer['seconds'] / run['seconds']:.2f}x | {same}/{len(peer['answers'])} |")
