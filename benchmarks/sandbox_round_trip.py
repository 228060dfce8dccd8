"""CPU of one checker -> candidate call and back (a small list in, a bool out), on each side of real pipes.

Two processes: the candidate runs :func:`codeladder.sandbox.candidate.serve` over fd 3/4 as in the sandbox,
the checker calls it ``--calls`` times through :class:`codeladder.sandbox.checker.Session`. Prints the CPU per
call of each side, the fastest of ``--repeat`` runs (a busy host only adds time); ``--baseline-src DIR`` runs the
same in another checkout's ``src`` in the same rounds. No namespaces, rlimits or checks: the protocol alone.
Usage: ``python benchmarks/sandbox_round_trip.py [--calls 5000] [--repeat 3] [--baseline-src /tmp/old/src]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

_ONE_RUN = r"""
import json, os, sys, time
from codeladder.sandbox import candidate, checker
calls = int(sys.argv[1])
request_r, request_w = os.pipe()
reply_r, reply_w = os.pipe()
pid = os.fork()
if pid == 0:
    os.dup2(request_r, candidate.REQUEST_FD)
    os.dup2(reply_w, candidate.REPLY_FD)
    os.closerange(candidate.REPLY_FD + 1, 1 << 16)
    candidate.serve("def f(xs, t):\n    return sum(xs) > t\n", None,
                    lambda code, namespace: (exec(code, namespace), {"status": "passed"})[1])
os.close(request_r)
os.close(reply_w)
session = checker.Session(time.monotonic() + 600, request_w, reply_r)
assert session.loaded() is None
started = time.thread_time()
for i in range(calls):
    assert session.call("f", ([1.0, 2.0, 3.0, i], 5.0)).value is (i > -1)
spent = time.thread_time() - started
os.close(request_w)
_, _, usage = os.wait4(pid, 0)
print(json.dumps({"checker_us": spent / calls * 1e6, "candidate_us": (usage.ru_utime + usage.ru_stime) / calls * 1e6}))
"""


def one_run(src: str | None, calls: int) -> dict:
    env = {**os.environ, **({"PYTHONPATH": src} if src else {})}
    done = subprocess.run([sys.executable, "-c", _ONE_RUN, str(calls)], env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-src", help="src folder of another codeladder checkout to compare with")
    args = parser.parse_args()
    sides = {"this checkout": None, **({args.baseline_src: args.baseline_src} if args.baseline_src else {})}
    runs: dict[str, list[dict]] = {name: [] for name in sides}
    for _ in range(args.repeat):
        for name, src in sides.items():
            runs[name].append(one_run(src, args.calls))
    print(f"one call and its answer, CPU per call (fastest of {args.repeat} runs of {args.calls} calls)")
    for name, found in runs.items():
        checker_us = min(r["checker_us"] for r in found)
        candidate_us = min(r["candidate_us"] for r in found)
        print(f"  {name:24}: checker {checker_us:6.1f} us + candidate {candidate_us:6.1f} us = "
              f"{checker_us + candidate_us:6.1f} us")


if __name__ == "__main__":
    main()
