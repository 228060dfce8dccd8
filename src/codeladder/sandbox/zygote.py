"""The sandbox worker ("zygote"): one long-lived process per core that forks the processes of each sample.

Started by :mod:`codeladder.sandbox.pool`, normally as PID 1 of fresh user, network, mount and
PID namespaces. It makes every mount read-only once, covers the benchmark data with empty
tmpfs mounts and makes itself non-dumpable; then for each job it forks two processes:

1. the **candidate** first, before the job's secret part has been read, so nothing secret is in
   its memory: private ``/tmp``, rlimits, no capabilities, ``/dev/null`` as stdin, only its two
   pipe ends (fd 3 requests in, fd 4 replies out) and the output file; it runs the sample's code
   (:mod:`codeladder.sandbox.candidate`);
2. then reads the job's secret part (tests, expected outputs) straight from its stdin into a
   buffer and forks the **checker** (:mod:`codeladder.sandbox.checker`), which alone gets it and
   alone holds the verdict pipe; the zygote wipes its buffer.

A job on stdin is ``%010d`` header length, the header (JSON: id, limits, the candidate's code,
the secret's length), then the secret (JSON). The zygote answers with one JSON line. Forking from
a warm interpreter instead of starting ``python`` per sample is what makes isolated execution fast
(a fork costs about a millisecond; an interpreter start, 20 ms). Hand-written because no library
offers a namespace-isolated fork server.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback

# Imported once here so a sample's imports of them cost nothing after the fork.
import bisect, collections, copy, fractions, functools, hashlib, heapq, itertools  # noqa: E401,F401
import math, operator, random, re, statistics, string, typing  # noqa: E401,F401

from codeladder.sandbox import candidate, checker, isolation, wire

# Checker runners imported once at start, so a checker imports nothing after the fork.
PRELOAD = ("codeladder.benchmarks.differential",)

CHECKER_VERDICT_FD = 7
_MAX_REPORT = 1 << 30


def _missing_module(exc: BaseException) -> str | None:
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        top = exc.name.split(".")[0]
        try:
            return top if importlib.util.find_spec(top) is None else None
        except (ImportError, ValueError):
            return top
    return None


def execute(code: str, namespace: dict) -> dict:
    """Run code in ``namespace``; the verdict of its clean completion (the candidate's top level, or
    a whole in-process test program)."""
    try:
        compiled = compile(code, "<sample>", "exec")
    except (SyntaxError, ValueError) as exc:
        return {"status": "syntax_error", "detail": f"{type(exc).__name__}: {exc}"}
    try:
        exec(compiled, namespace)
    except MemoryError:
        return {"status": "oom", "detail": "MemoryError: the memory limit was reached"}
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are failures too
        return _failure(exc)
    return {"status": "passed", "detail": ""}


def _failure(exc: BaseException) -> dict:
    missing = _missing_module(exc)
    if missing:
        return {"status": "error", "detail": f"missing module {missing!r} in the evaluation environment"}
    tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next))
    return {"status": "failed", "detail": tail[-1500:]}


def _keep_fds(mapping: dict[int, int]) -> None:
    """Put each source fd on its target number and close every other descriptor above 2."""
    moved = {os.dup(source): target for source, target in mapping.items()}
    for temp, target in moved.items():
        os.dup2(temp, target)
    keep = sorted(mapping.values())
    low = 3
    for fd in keep:
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 16)


def _candidate(job: dict, request_r: int, reply_w: int, output_fd: int, isolated: bool, workdir: str) -> None:
    """Runs in the forked candidate; never returns."""
    try:
        isolation.dumpable_again()  # it holds no secret; non-dumpable tasks compute slower
        os.setsid()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        _keep_fds({request_r: candidate.REQUEST_FD, reply_w: candidate.REPLY_FD})
        if isolated:
            isolation.private_tmp()
        home, work = os.path.join(workdir, "home"), os.path.join(workdir, "work")
        os.makedirs(home, exist_ok=True)
        os.makedirs(work, exist_ok=True)
        os.chdir(work)
        os.environ.update(HOME=home, TMPDIR=workdir, PWD=work)
        isolation.set_limits(job)
        if isolated:
            isolation.drop_capabilities()
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        candidate.serve(job["code"], job.get("payload"), execute)
    finally:
        os._exit(1)


def _checker(job: dict, secret: bytearray, deadline: float, fds: tuple[int, int, int], isolated: bool) -> None:
    """Runs in the forked checker; never returns."""
    request_w, reply_r, verdict_w = fds

    def report(fields: dict) -> None:
        wire.write_all(CHECKER_VERDICT_FD, (json.dumps(fields) + "\n").encode())

    try:
        os.setsid()
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        _keep_fds({request_w: checker.REQUEST_FD, reply_r: checker.REPLY_FD, verdict_w: CHECKER_VERDICT_FD})
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        isolation.set_limits({**job, "nproc": max(job["nproc"], 4)})
        if isolated:
            isolation.drop_capabilities()
        spec = json.loads(bytes(secret)) if secret else {"kind": "in-process", "test": ""}
        report(checker.check(spec, deadline, progress=lambda fields: report({"progress": fields})))
    except BaseException as exc:  # noqa: BLE001
        try:
            report({"status": "error", "detail": f"checker: {exc!r}"[-1500:], "checker": "trusted" if secret else
                    "in-process"})
        except BaseException:  # noqa: BLE001
            pass
    os._exit(0)


def _kill_everything_but_us(pid: int, namespace_init: bool) -> None:
    if namespace_init:
        try:
            os.kill(-1, signal.SIGKILL)  # every process of this PID namespace except PID 1
        except ProcessLookupError:
            pass
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _reap(pids: tuple[int, ...], namespace_init: bool) -> None:
    """Collect the sample's processes, and (as PID 1) every orphan they left behind."""
    if not namespace_init:
        for pid in pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        return
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _verdict_without_report(wstatus: int | None, timed_out: bool, timeout: float) -> dict:
    if timed_out:
        return {"status": "timeout", "detail": f"wall-clock limit of {timeout:g} s reached"}
    if wstatus is not None and os.WIFSIGNALED(wstatus):
        sig = os.WTERMSIG(wstatus)
        if sig == signal.SIGXCPU:
            return {"status": "timeout", "detail": "CPU-time limit reached"}
        if sig == signal.SIGXFSZ:
            return {"status": "failed", "detail": "output or file-size limit exceeded"}
        return {"status": "failed", "detail": f"killed by signal {signal.Signals(sig).name} before the tests finished"}
    code = os.WEXITSTATUS(wstatus) if wstatus is not None else None
    return {"status": "failed", "detail": f"exited with code {code} before the tests finished"}


def _read_tail(path: str, size: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _read_exact(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            raise EOFError("the harness closed the job channel")
        data += chunk
    return data


def _read_secret(fd: int, size: int) -> bytearray:
    """Read exactly ``size`` bytes into one buffer (no other copy is made, so wiping it leaves none)."""
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        count = os.readv(fd, [view[got:]])
        if count == 0:
            raise EOFError("the harness closed the job channel")
        got += count
    view.release()
    return buffer


def _wait_for_report(pidfd: int, verdict_r: int, deadline: float) -> tuple[bytes, bool]:
    report, reading = bytearray(), True
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return bytes(report), True
        ready, _, _ = select.select([pidfd] + ([verdict_r] if reading else []), [], [], remaining)
        if pidfd in ready:
            break
        if verdict_r in ready:
            chunk = os.read(verdict_r, 1 << 20)
            reading = bool(chunk)
            report += chunk if len(report) < _MAX_REPORT else b""  # drained past the limit: never blocks
    os.set_blocking(verdict_r, False)
    try:
        while len(report) < _MAX_REPORT and (chunk := os.read(verdict_r, 65536)):
            report += chunk
    except BlockingIOError:
        pass
    return bytes(report), False


def _parse_report(report: bytes) -> tuple[dict | None, dict]:
    """(the checker's final verdict if it wrote one, the progress it reported)."""
    verdict, progress = None, {}
    for line in report.split(b"\n")[:-1] if report.endswith(b"\n") else report.split(b"\n")[:-1]:
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and isinstance(item.get("progress"), dict):
            progress.update(item["progress"])
        elif isinstance(item, dict) and "status" in item:
            verdict = item
    return verdict, progress


def _candidate_status(pid: int) -> int | None:
    """The candidate's wait status if it already ended on its own (it may be finishing its exit)."""
    pidfd = os.pidfd_open(pid)
    try:
        select.select([pidfd], [], [], 0.05)
        reaped, wstatus = os.waitpid(pid, os.WNOHANG)
        return wstatus if reaped == pid else None
    except ChildProcessError:
        return None
    finally:
        os.close(pidfd)


def _explain_gone(verdict: dict, wstatus: int | None) -> dict:
    """The checker saw the candidate's pipe close: say why, from the candidate's own wait status."""
    if wstatus is None:
        return verdict
    if os.WIFSIGNALED(wstatus) or verdict.get("status") != "timeout":
        return {**verdict, **_verdict_without_report(wstatus, False, 0)}
    return verdict


def run_job(job: dict, secret_fd: int, isolated: bool, namespace_init: bool) -> dict:
    output_path = f"/tmp/.ladder-output-{os.getpid()}"
    workdir = "/tmp" if isolated else tempfile.mkdtemp(prefix="ladder-sample-")
    output_fd = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    request_r, request_w = os.pipe()
    reply_r, reply_w = os.pipe()
    start = time.monotonic()
    deadline = start + job["timeout"]
    cand = os.fork()
    if cand == 0:
        _candidate(job, request_r, reply_w, output_fd, isolated, workdir)
    for fd in (request_r, reply_w, output_fd):
        os.close(fd)
    secret = _read_secret(secret_fd, job.get("secret", 0))
    verdict_r, verdict_w = os.pipe()
    check = os.fork()
    if check == 0:
        os.close(verdict_r)
        _checker(job, secret, deadline, (request_w, reply_r, verdict_w), isolated)
    secret[:] = bytes(len(secret))
    for fd in (request_w, reply_r, verdict_w):
        os.close(fd)
    pidfd = os.pidfd_open(check)
    report, timed_out = _wait_for_report(pidfd, verdict_r, deadline)
    duration = time.monotonic() - start
    verdict, progress = (None, {}) if timed_out else _parse_report(report)
    if timed_out:
        progress = _parse_report(report)[1]
    if verdict is not None and verdict.pop("candidate_gone", False):
        verdict = _explain_gone(verdict, _candidate_status(cand))
    for pid in (cand, check):
        _kill_everything_but_us(pid, namespace_init)
    _reap((cand, check), namespace_init)
    os.close(verdict_r)
    os.close(pidfd)
    if verdict is None:
        verdict = _verdict_without_report(None, timed_out, job["timeout"])
        verdict["checker"] = "trusted" if job.get("trusted") else "in-process"
    verdict.update({k: v for k, v in progress.items() if k not in verdict})
    if verdict["status"] != "passed" or job.get("capture"):
        verdict["output_tail"] = _read_tail(output_path, job.get("tail_bytes", 2000))
    if not isolated:
        shutil.rmtree(workdir, ignore_errors=True)
    verdict["id"] = job["id"]
    verdict["duration_s"] = round(duration, 4)
    return verdict


def main() -> None:
    isolation.KEEP.extend(isolation.interpreter_paths_under())
    for module in PRELOAD:
        importlib.import_module(module)
    gc.collect()
    gc.freeze()  # the children's collections skip the zygote's objects: fewer copy-on-write page faults
    isolated = "--isolated" in sys.argv and os.getpid() == 1
    namespace_init = os.getpid() == 1
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    isolation.not_dumpable()
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    null = os.open("/dev/null", os.O_WRONLY)
    os.dup2(null, 1)
    setup = isolation.make_filesystem_read_only() if isolated else {"readonly_root": False, "remount_failures": []}
    hidden = [p for p in os.environ.pop("CODELADDER_HIDE", "").split(os.pathsep) if p]
    setup["hidden"] = [p for p in hidden if p not in (isolation.hide(hidden) if isolated else hidden)]
    setup["isolated"] = isolated
    os.makedirs("/tmp", exist_ok=True)
    channel.write(json.dumps({"ready": True, **setup}) + "\n")
    while True:
        try:
            header = json.loads(_read_exact(0, int(_read_exact(0, 10))))
        except (EOFError, ValueError):
            return
        channel.write(json.dumps(run_job(header, 0, isolated, namespace_init)) + "\n")


if __name__ == "__main__":
    main()
