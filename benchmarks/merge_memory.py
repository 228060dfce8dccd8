"""Merge speed and memory: two random-init bf16 models of Qwen2.5-Coder-0.5B's shape (988 MB each on disk) and a
base, every method; ``ladder merge`` and mergekit on the same folders in the same run, alternating which goes first
over ``--rounds`` rounds, each in its own process: wall time, CPU time (user + system), peak RSS (and as a ratio to
one model's size) and minor page faults (memory new to the process), the median of the rounds, and the ratios.

mergekit (LGPL-3.0) is a comparison, never a dependency: install it in its own venv,
``python -m venv --system-site-packages /tmp/mkvenv && /tmp/mkvenv/bin/pip install mergekit==0.1.5``.

Usage: ``python benchmarks/merge_memory.py [--mergekit /tmp/mkvenv/bin/mergekit-yaml] [--rounds 3] [--methods slerp,ties]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

MEASURE = """
import resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
seconds = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(done.returncode, seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, usage.ru_minflt)
if done.returncode:
    print(done.stderr[-400:], file=sys.stderr)
"""
METHODS = {  # method -> (needs base, extra arguments, mergekit parameters)
    "linear": (False, [], "weight: 0.5"),
    "slerp": (False, ["--t", "0.5"], None),
    "task_arithmetic": (True, [], "weight: 0.5"),
    "ties": (True, ["--density", "0.2"], "weight: 0.5\n      density: 0.2"),
    "dare_ties": (True, ["--density", "0.2"], "weight: 0.5\n      density: 0.2"),
    "dare_linear": (True, ["--density", "0.2"], "weight: 0.5\n      density: 0.2"),
}


def build(path: Path, seed: int) -> Path:
    from codeladder.models.tiny import TinySpec, build_tiny_model

    if not (path / "config.json").exists():
        build_tiny_model(path, TinySpec(hidden=896, layers=24, heads=14, kv_heads=2, intermediate=4864,
                                        pad_vocab_to=151936, dtype="bfloat16", tie_embeddings=True, seed=seed))
    return path


@dataclass
class Measured:
    wall: float
    cpu: float
    peak: int
    faults: int


def measure(command: list[str]) -> Measured | None:
    """One run of ``command`` in a fresh process; None (and the reason printed) when it fails."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True)
    code, wall, cpu, peak, faults = out.stdout.split()
    if code != "0":
        print(f"  failed: {' '.join(command[:4])}…: {out.stderr.strip()[-300:]}")
        return None
    return Measured(float(wall), float(cpu), int(peak), int(faults))


def median_of(runs: list[Measured]) -> Measured:
    return Measured(*(statistics.median(getattr(r, f) for r in runs) for f in ("wall", "cpu", "peak", "faults")))


def mergekit_config(method: str, a: Path, b: Path, base: Path) -> str:
    needs_base, _, parameters = METHODS[method]
    if method == "slerp":
        return (f"merge_method: slerp\nbase_model: {a}\nslices:\n  - sources:\n      - model: {a}\n        layer_range: [0, 24]\n"
                f"      - model: {b}\n        layer_range: [0, 24]\nparameters:\n  t: 0.5\ndtype: bfloat16\n")
    models = "".join(f"  - model: {m}\n    parameters:\n      {parameters}\n" for m in (a, b))
    head = f"merge_method: {method}\n" + (f"base_model: {base}\n" if needs_base else "")
    return head + f"models:\n{models}dtype: bfloat16\n"


def ours_command(method: str, a: Path, b: Path, base: Path, out: Path) -> list[str]:
    needs_base, extra, _ = METHODS[method]
    command = [shutil.which("ladder") or "ladder", "merge", str(a), str(b), "--method", method, *extra, "-o", str(out)]
    return command + (["--base", str(base)] if needs_base else [])


def text(m: Measured, size: int) -> str:
    return (f"{m.wall:7.1f} s wall, {m.cpu:7.1f} s CPU, peak {m.peak / 1e9:.2f} GB ({m.peak / size:.2f}x a model), "
            f"{m.faults / 1e3:7.0f}k minor faults")


def main() -> None:
    parser = argparse.ArgumentParser()
    root = Path(tempfile.gettempdir())
    parser.add_argument("--models", type=Path, nargs=2, default=[root / "codeladder-merge-a", root / "codeladder-merge-b"])
    parser.add_argument("--base", type=Path, default=root / "codeladder-merge-base")
    parser.add_argument("--mergekit", type=Path, default=None, help="path to mergekit-yaml")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    a, b = build(args.models[0], 21), build(args.models[1], 22)
    base = build(args.base, 23)
    size = sum(p.stat().st_size for p in a.glob("*.safetensors"))
    print(f"one model: {size / 1e6:.0f} MB (bf16, Qwen2.5-Coder-0.5B shape); {os.cpu_count()} CPUs; "
          f"{args.rounds} rounds, order alternating; medians")
    rows = []
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        for method in args.methods.split(","):
            config = Path(tmp) / f"{method}.yml"
            config.write_text(mergekit_config(method, a, b, base))
            commands = {"codeladder": ours_command(method, a, b, base, Path(tmp) / "ours")}
            if args.mergekit:
                commands["mergekit"] = [str(args.mergekit), str(config), str(Path(tmp) / "theirs"), "--lazy-unpickle"]
            measured: dict[str, list[Measured]] = {name: [] for name in commands}
            for round_ in range(args.rounds):
                names = list(commands) if round_ % 2 == 0 else list(reversed(commands))
                for name in names:
                    result = measure(commands[name])
                    if result is not None:
                        measured[name].append(result)
                    for out in ("ours", "theirs"):
                        shutil.rmtree(Path(tmp) / out, ignore_errors=True)
            ours = median_of(measured["codeladder"]) if measured["codeladder"] else None
            theirs = median_of(measured["mergekit"]) if measured.get("mergekit") else None
            print(f"{method:15s} codeladder: {text(ours, size) if ours else 'failed'}")
            if theirs:
                print(f"{'':15s} mergekit:   {text(theirs, size)}")
            if ours and theirs:
                print(f"{'':15s} ratio (codeladder / mergekit): wall {ours.wall / theirs.wall:.2f}, "
                      f"CPU {ours.cpu / theirs.cpu:.2f}, peak RSS {ours.peak / theirs.peak:.2f}")
            rows.append((method, ours, theirs))
    print("\n| method | codeladder wall s | CPU s | peak RSS × model | minor faults | mergekit wall s | CPU s | "
          "peak RSS × model | minor faults | wall ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for method, ours, theirs in rows:
        mine = f"{ours.wall:.1f} | {ours.cpu:.1f} | {ours.peak / size:.2f} | {ours.faults / 1e3:.0f}k" if ours else "failed | | |"
        other = (f"{theirs.wall:.1f} | {theirs.cpu:.1f} | {theirs.peak / size:.2f} | {theirs.faults / 1e3:.0f}k | "
                 f"**{ours.wall / theirs.wall:.2f}**" if theirs and ours else "— | — | — | — | —")
        print(f"| {method} | {mine} | {other} |")


if __name__ == "__main__":
    main()
