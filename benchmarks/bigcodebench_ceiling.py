"""The canonical ceiling of BigCodeBench here: every task's reference solution run against its tests in the real
sandbox, by the interpreter of the evaluation environment (``ladder env create bigcodebench``).

Prints, per benchmark: the pass rate, each task that does not pass with its status and a one-line reason (sorted
into the causes docs/bigcodebench.md explains), the wall time, and the environment's record (name, requirement
list, package-list hash). Not part of CI: the environment is several GB.

    python benchmarks/bigcodebench_ceiling.py [--env DIR] [--benchmarks bigcodebench-hard,bigcodebench]
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from collections import Counter
from pathlib import Path

from codeladder.evaluate import EvalParams, evaluate

CAUSES = (  # (cause, pattern in the error text), first match wins
    ("NLTK data not installed (no registry package ships it)", r"Resource .*not found|nltk_data|nltk\.download|NLTK downloader"),
    ("network access (the sandbox has none)", r"Network is unreachable|NewConnectionError|Name or service|"
                                              r"Temporary failure in name resolution|ConnectionError|URLError|"
                                              r"Failed to establish|getaddrinfo|gaierror"),
    ("tesseract binary not installed", r"tesseract"),
    ("library missing from the environment", r"missing module"),
    ("time limit", r"wall-clock limit|CPU-time limit"),
    ("memory limit", r"MemoryError|memory limit|Cannot allocate memory|std::bad_alloc"),
    ("file-size limit", r"file-size limit"),
    ("read-only filesystem outside the working directory", r"Read-only file system"),
)


def cause(row: dict) -> str:
    text = row.get("error", "")
    if row.get("status") == "timeout":
        return "time limit"
    for name, pattern in CAUSES:
        if re.search(pattern, text):
            return name
    return "test failed (see reason)"


def reason(row: dict) -> str:
    lines = [line.strip() for line in row.get("error", "").splitlines() if line.strip()]
    interesting = [line for line in lines if re.search(r"Error|error|assert|Exception|limit|missing", line)]
    return ((interesting or lines or [""])[-1])[:160]


def ceiling(benchmark: str, env: str | None, workers: int, output: Path, data_version: str | None,
            timeout: float | None) -> dict:
    started = time.perf_counter()
    summary = evaluate(EvalParams(benchmark=benchmark, env=env, workers=workers, output=str(output / benchmark),
                                  data_version=data_version, timeout=timeout), show_progress=True)
    wall = time.perf_counter() - started
    rows = [json.loads(line) for line in (output / benchmark / "results.jsonl").read_text().splitlines()]
    failing = sorted((r for r in rows if not r["passed"]), key=lambda r: int(r["task_id"].split("/")[1]))
    passed = len(rows) - len(failing)
    return {"benchmark": benchmark, "data_version": summary["dataset"]["version"], "tasks": len(rows),
            "passed": passed, "pass_rate": passed / max(1, len(rows)), "wall_s": round(wall, 1),
            "statuses": summary["statuses"], "environment": summary["environment"],
            "isolation": summary["isolation"]["level"], "limits": summary["limits"],
            "failing": [{"task_id": r["task_id"], "status": r["status"], "cause": cause(r), "reason": reason(r),
                         "duration_s": r["duration_s"]} for r in failing]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=None, help="environment folder or name (default: the made bigcodebench one)")
    parser.add_argument("--benchmarks", default="bigcodebench-hard,bigcodebench")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data-version", default=None)
    parser.add_argument("--timeout", type=float, default=None, help="seconds per task (default: the benchmark's)")
    parser.add_argument("--output", default=None, help="run folders (default: a temporary folder)")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()
    output = Path(args.output or tempfile.mkdtemp(prefix="bcb-ceiling-"))
    results = []
    for benchmark in args.benchmarks.split(","):
        result = ceiling(benchmark, args.env, args.workers, output, args.data_version, args.timeout)
        results.append(result)
        env = result["environment"] or {}
        print(f"\n{benchmark} {result['data_version']}: {result['passed']}/{result['tasks']} = "
              f"{100 * result['pass_rate']:.1f}% of canonical solutions pass; wall {result['wall_s']:.0f} s "
              f"({args.workers} workers, {result['isolation']}); statuses {result['statuses']}")
        print(f"  environment: {env.get('name')} ({env.get('requirements')}, Python {env.get('python_version')}, "
              f"{env.get('packages')} packages, sha256 {str(env.get('packages_sha256'))[:16]}…)")
        for name, count in Counter(f["cause"] for f in result["failing"]).most_common():
            print(f"  {count:3d}  {name}")
        for f in result["failing"]:
            print(f"  {f['task_id']:<20} {f['status']:<8} {f['cause']}: {f['reason']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
