"""The long-lived checker process of one sandbox worker: judges every sample its zygote runs.

Started by :mod:`codeladder.sandbox.pool` beside the zygote, but *outside* the zygote's PID,
mount and network namespaces: a candidate cannot name it (no PID of it exists in the candidate's
namespace, nor a ``/proc`` entry), so it can neither signal, ptrace nor read it. Where namespaces
are unavailable it makes itself non-dumpable instead (and a candidate that kills it leaves no
verdict: failed).

Two channels, one job at a time:

* **stdin**, from the harness: each job's secret part (tests, expected outputs) as ``%010d`` length
  + JSON ``{"id", "spec"}``. The zygote never sees it.
* **a SOCK_SEQPACKET socket** to the zygote: per job ``{"id", "deadline"}`` with the two pipe ends
  of the candidate it is about to fork (``SCM_RIGHTS``); the checker answers on the same socket with
  progress messages and one verdict (see :func:`codeladder.sandbox.wire.message_head`).

Long-lived because forking a checker per sample was most of the sandbox's cost (a fork, a cold
interpreter's copy-on-write faults, and one more process to reap). Each job runs in fresh
namespaces (dicts) of dataset code.
Hand-written: no library offers a judge that takes a sandboxed process's pipes by fd passing.
"""

from __future__ import annotations

import array
import gc
import importlib
import json
import os
import resource
import socket
import sys

from codeladder.sandbox import checker, isolation, wire

_MAX_SPEC = 1 << 31


def read_secret(fd: int = 0) -> dict:
    """The next job's secret part from the harness."""
    size = int(wire.read_exact(fd, 10))
    if not 0 < size < _MAX_SPEC:
        raise EOFError("malformed job")
    return json.loads(wire.read_exact(fd, size))


def receive_job(sock: socket.socket) -> tuple[dict, list[int]]:
    """The zygote's message: the job's id and deadline, and the candidate's pipe ends."""
    fds = array.array("i")
    message, ancillary, _, _ = sock.recvmsg(1 << 16, socket.CMSG_SPACE(2 * fds.itemsize))
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    if not message:
        raise EOFError("the zygote closed its channel")
    return json.loads(message), list(fds)


def _import_runner(spec: dict | None) -> None:
    """The job's runner module, imported on the first job that names one, before the candidate's clock matters
    (this process then keeps it): HumanEval and MBPP need none, and a checker starts in a few milliseconds."""
    runner = (spec or {}).get("runner")
    if isinstance(runner, str):
        importlib.import_module(runner.partition(":")[0])  # a dict lookup once it is imported


def judge(sock: socket.socket, secret: dict) -> None:
    """Receive the candidate's pipes for ``secret``'s job, run its checks, send the verdict."""
    _import_runner(secret.get("spec"))
    job, fds = receive_job(sock)
    job_id = job.get("id")

    def send(kind: bytes, fields: dict) -> None:
        sock.send(wire.message_head(kind, job_id) + json.dumps(fields).encode())

    try:
        if len(fds) != 2 or job_id != secret.get("id"):
            send(wire.VERDICT, {"status": "error", "detail": "sandbox: the checker got a job it was not told of"})
            return
        spec = secret.get("spec") or {"kind": "in-process", "test": ""}
        verdict = checker.check(spec, float(job["deadline"]), (fds[0], fds[1]),
                                progress=lambda fields: send(wire.PROGRESS, fields))
        send(wire.GONE if verdict.pop("candidate_gone", False) else wire.VERDICT, verdict)
    finally:
        for fd in fds:
            os.close(fd)


def _set_memory_limit(memory_mb: int) -> None:
    memory = max(memory_mb, 1024) * 2 * 1024 * 1024  # it decodes outputs as large as the candidate's
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main() -> None:
    sock = socket.socket(fileno=int(sys.argv[1]))
    if "--not-dumpable" in sys.argv:
        isolation.not_dumpable()
    _set_memory_limit(int(sys.argv[2]))
    gc.collect()
    gc.freeze()  # collections during checks skip the modules' objects
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 1)
    os.dup2(null, 2)
    while True:
        try:
            secret = read_secret()
            judge(sock, secret)
        except (EOFError, ConnectionError, ValueError):
            return


if __name__ == "__main__":
    main()
