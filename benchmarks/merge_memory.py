"""Merge memory and speed: two random-init bf16 models of Qwen2.5-Coder-0.5B's shape (988 MB each on disk),
every method, peak RSS as a ratio to one model's size, wall time; and mergekit on the same folders in the
same run when it is installed (LGPL-3.0: a comparison, never a dependency; install it in its own venv:
``python -m venv --system-site-packages /tmp/mkvenv && /tmp/mkvenv/bin/pip install mergekit==0.1.5``).

Usage: ``python benchmarks/merge_memory.py [--models A B --base C] [--mergekit /tmp/mkvenv/bin/mergekit-yaml]``
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

MEASURE = """
import resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(done.returncode, seconds, peak)
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


def measure(command: list[str]) -> tuple[bool, float, int]:
    out = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True)
    code, seconds, peak = out.stdout.split()
    if code != "0":
        print(f"  failed: {' '.join(command[:4])}…: {out.stderr.strip()[-300:]}")
    return code == "0", float(seconds), int(peak)


def mergekit_config(method: str, a: Path, b: Path, base: Path) -> str:
    needs_base, _, parameters = METHODS[method]
    if method == "slerp":
        return (f"merge_method: slerp\nbase_model: {a}\nslices:\n  - sources:\n      - model: {a}\n        layer_range: [0, 24]\n"
                f"      - model: {b}\n        layer_range: [0, 24]\nparameters:\n  t: 0.5\ndtype: bfloat16\n")
    models = "".join(f"  - model: {m}\n    parameters:\n      {parameters}\n" for m in (a, b))
    head = f"merge_method: {method}\n" + (f"base_model: {base}\n" if needs_base else "")
    return head + f"models:\n{models}dtype: bfloat16\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    root = Path(tempfile.gettempdir())
    parser.add_argument("--models", type=Path, nargs=2, default=[root / "codeladder-merge-a", root / "codeladder-merge-b"])
    parser.add_argument("--base", type=Path, default=root / "codeladder-merge-base")
    parser.add_argument("--mergekit", type=Path, default=None, help="path to mergekit-yaml")
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args()
    a, b = build(args.models[0], 21), build(args.models[1], 22)
    base = build(args.base, 23)
    size = sum(p.stat().st_size for p in a.glob("*.safetensors"))
    print(f"one model: {size / 1e6:.0f} MB (bf16, Qwen2.5-Coder-0.5B shape)")
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        for method in args.methods.split(","):
            needs_base, extra, _ = METHODS[method]
            out = Path(tmp) / f"ours-{method}"
            command = ["ladder", "merge", str(a), str(b), "--method", method, *extra, "-o", str(out)]
            if needs_base:
                command += ["--base", str(base)]
            command[0] = shutil.which("ladder") or "ladder"
            ok, seconds, peak = measure(command)
            line = f"{method:15s} codeladder: {seconds:6.1f} s, peak RSS {peak / 1e9:.2f} GB = {peak / size:.2f}x a model"
            shutil.rmtree(out, ignore_errors=True)
            if args.mergekit:
                config = Path(tmp) / f"{method}.yml"
                config.write_text(mergekit_config(method, a, b, base))
                theirs = Path(tmp) / f"mergekit-{method}"
                ok_k, k_seconds, k_peak = measure([str(args.mergekit), str(config), str(theirs), "--lazy-unpickle"])
                if ok_k:
                    line += (f" | mergekit: {k_seconds:6.1f} s, {k_peak / 1e9:.2f} GB = {k_peak / size:.2f}x"
                             f" | time ratio {seconds / k_seconds:.2f}, memory ratio {peak / k_peak:.2f}")
                shutil.rmtree(theirs, ignore_errors=True)
            print(line)


if __name__ == "__main__":
    main()
