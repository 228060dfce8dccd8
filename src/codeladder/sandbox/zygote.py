"""The sandbox worker ("zygote"): one long-lived process per core that forks the processes of each sample.

Started by :mod:`codeladder.sandbox.pool`, normally as PID 1 of fresh user, network, mount and
PID namespaces. It makes every mount read-only once, covers the benchmark data with empty
tmpfs mounts and makes itself non-dumpable (it holds the channel that reports verdicts to the
harness); then for each job it forks the **candidate**: private ``/tmp``, rlimits, no
capabilities, ``/dev/null`` as stdin, only its two pipe ends (fd 3 requests in, fd 4 replies out)
and the output file; it runs the sample's code (:mod:`codeladder.sandbox.candidate`). The other
ends of the two pipes go, just before the fork, to the worker's **checker**
(:mod:`codeladder.sandbox.checker_server`, outside these namespaces) over a socket (fd ``argv[1]``),
with the job's id and deadline; the checker, which alone knows the job's tests and expected outputs,
answers with the verdict. The zygote never sees a secret.

A job on stdin is ``%010d`` header length, then the header (JSON: id, limits, the candidate's
code). The zygote answers with one JSON line. Forking from
a warm interpreter instead of starting ``python`` per sample is what makes isolated execution fast
(a fork and its copy-on-write faults cost well under a millisecond; an interpreter start, 20 ms).
What a candidate would do for itself is done here once, or before the fork: after it, each page either
process writes is copied (docs/sandbox.md, "Speed", has the figures). Hand-written because no library
offers a namespace-isolated fork server.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import gc
import importlib.util
import json
import os
import select
import socket
import shutil
import signal
import sys
import time
import traceback

# Imported once here so a sample's imports of them cost nothing after the fork: what solutions import most.
# Not hashlib (OpenSSL's 400 KiB of data), statistics or fractions (decimal): rare in solutions, and every
# page the zygote holds is copied into the page tables of every fork. Never ``random`` (nor ``tempfile``,
# which imports it): its at-fork hook reseeds from os.urandom in every child, 0.2 ms of CPU a sample.
import bisect, collections, copy, functools, heapq, itertools  # noqa: E401,F401
import math, operator, re, string, typing  # noqa: E401,F401

from codeladder.sandbox import candidate, isolation, wire

_FIRST_OTHER_FD = candidate.REPLY_FD + 1  # the candidate keeps 0-4
_SAMPLE_STREAMS: tuple = ()
_TMP_BASE = os.environ.get("TMPDIR") or "/tmp"  # read once: each job points TMPDIR at its own folder

_MAX_MESSAGE = 1 << 20  # one message of the checker (a verdict's detail is at most a few KiB)
_GRACE_S = 2.0
# Whole test programs (in-process jobs: BigCodeBench's suites) import these; a worker imports them on its first
# such job. Not before: every module the zygote holds makes each fork dearer (unittest: +0.45 ms of CPU a sample).
_PROGRAM_PRELOAD = ("unittest",)


def _preload_for_programs() -> None:
    if _PROGRAM_PRELOAD[0] not in sys.modules:
        for module in _PROGRAM_PRELOAD:
            importlib.import_module(module)
        gc.collect()
        gc.freeze()


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


# The zygote keeps its own descriptors at 10 and above and /dev/null on 0-4; per job it puts the output file
# on 1 and 2 and the candidate's pipe ends on 3 and 4 *before* the fork, so the candidate only closes
# everything above 4 (one syscall): whatever a child does itself it pays again in copy-on-write faults.
_OWN_FDS_FROM = 10
_MAX_FD = 1 << 16


def _own_fd(fd: int) -> int:
    """A copy of ``fd`` at 10 or above, close-on-exec (the original stays open)."""
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, _OWN_FDS_FROM)


def _arrange_fds(judge_fd: int) -> tuple[int, int, int, int]:
    """The zygote's jobs in (was 0), verdicts out (was 1), checker socket and a /dev/null write end, all
    moved to 10 and above; /dev/null on 0-4, and nothing else below 10."""
    jobs, channel, judge = (_own_fd(fd) for fd in (0, 1, judge_fd))
    opened = os.open("/dev/null", os.O_RDONLY), os.open("/dev/null", os.O_WRONLY)
    null_r, null_w = (_own_fd(fd) for fd in opened)
    for fd in {*opened, judge_fd}:
        os.close(fd)
    os.dup2(null_r, 0)
    for fd in range(1, _FIRST_OTHER_FD):
        os.dup2(null_w, fd)
    os.close(null_r)
    os.closerange(_FIRST_OTHER_FD, _OWN_FDS_FROM)
    return jobs, channel, judge, null_w


def _job_fds(output_fd: int) -> tuple[int, int]:
    """The output file on 1 and 2, fresh pipes' candidate ends on 3 (requests) and 4 (replies); returns the
    zygote's ends (requests to write, replies to read), which the checker gets."""
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    request_r, request_w = os.pipe()
    reply_r, reply_w = os.pipe()
    for fd, target in ((request_r, candidate.REQUEST_FD), (reply_w, candidate.REPLY_FD)):
        os.dup2(fd, target)
        os.close(fd)
    return request_w, reply_r


def _enter_workdir(workdir: str) -> None:
    """Make and enter the sample's working directory, set HOME and TMPDIR: in the zygote, before the fork,
    because whatever a child does itself it pays again in copy-on-write faults, every sample."""
    home, work = os.path.join(workdir, "home"), os.path.join(workdir, "work")
    for path in (home, work):
        with contextlib.suppress(FileExistsError):
            os.mkdir(path)
    os.chdir(work)
    if os.environ.get("PWD") != work:
        os.environ.update(HOME=home, TMPDIR=workdir, PWD=work)


def _candidate(job: dict, isolated: bool) -> None:
    """Runs in the forked candidate; never returns. Its descriptors are already in place (see ``_job_fds``)."""
    try:
        os.closerange(_FIRST_OTHER_FD, _MAX_FD)
        isolation.dumpable_again()  # it holds no secret; non-dumpable tasks compute slower
        os.setsid()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if isolated and job.get("loopback"):
            isolation.private_loopback()
        isolation.set_limits(job)
        if isolated:
            isolation.drop_capabilities()
        sys.stdout, sys.stderr = _SAMPLE_STREAMS
        candidate.serve(job["code"], job.get("payload"), execute)
    finally:
        os._exit(1)


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


def _output_file(folder: str) -> int:
    """A fresh file for the candidate's stdout and stderr that has no name: only descriptors reach it."""
    try:
        return os.open(folder, os.O_TMPFILE | os.O_RDWR, 0o600)
    except OSError:  # a filesystem without O_TMPFILE
        path = os.path.join(folder, f".ladder-output-{os.urandom(8).hex()}")
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        os.unlink(path)
        return fd


def _fresh_folder() -> str:
    """A new private folder under $TMPDIR (or /tmp) for a sample without namespaces."""
    path = os.path.join(_TMP_BASE, f"ladder-sample-{os.urandom(8).hex()}")
    os.mkdir(path, 0o700)
    return path


def _read_tail(fd: int, size: int) -> str:
    try:
        end = os.fstat(fd).st_size
        return os.pread(fd, size, max(0, end - size)).decode("utf-8", "replace")
    except OSError:
        return ""


def _send_job(judge: socket.socket, job_id: str, deadline: float, fds: tuple[int, int]) -> bool:
    """Hand the candidate's pipe ends to the checker with the job's id and deadline."""
    message = json.dumps({"id": job_id, "deadline": deadline}).encode()
    try:
        judge.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
        return True
    except OSError:
        return False


def _await_verdict(judge: socket.socket, job_id: str, deadline: float,
                   progress: list[bytes]) -> tuple[bytes | None, str]:
    """The checker's verdict message for ``job_id``, unparsed (progress messages collected on the way), and why
    there is none: ``"timeout"`` or ``"gone"`` (the checker ended); messages of earlier jobs are skipped."""
    heads = {kind: wire.message_head(kind, job_id) for kind in (wire.PROGRESS, wire.VERDICT, wire.GONE)}
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([judge], [], [], remaining)[0]:
            return None, "timeout"
        try:
            message = judge.recv(_MAX_MESSAGE)
        except OSError:
            message = b""
        if not message:
            return None, "gone"
        if message.startswith(heads[wire.PROGRESS]):
            progress.append(message)
        elif message.startswith((heads[wire.VERDICT], heads[wire.GONE])):
            return message, ""


def _parsed(message: bytes) -> dict:
    return json.loads(message[message.index(b"\n") + 1:])


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


def run_job(job: dict, judge: socket.socket, isolated: bool, namespace_init: bool, null_w: int) -> dict:
    if not job.get("trusted"):
        _preload_for_programs()
    workdir = "/tmp" if isolated else _fresh_folder()
    _enter_workdir(workdir)
    output_fd = _output_file(workdir)
    request_w, reply_r = _job_fds(output_fd)
    start = time.monotonic()
    deadline = start + job["timeout"]
    # Everything before the fork: after it, each page the zygote writes is copied while the candidate lives.
    sent = _send_job(judge, job["id"], deadline, (request_w, reply_r))
    os.close(request_w)  # the checker holds them now; the candidate must not
    os.close(reply_r)
    cand = os.fork()
    if cand == 0:
        _candidate(job, isolated)
    for fd in (candidate.REQUEST_FD, candidate.REPLY_FD):
        os.dup2(null_w, fd)  # now, so the checker sees the pipes close when the candidate dies
    progress: list[bytes] = []
    message, missing = _await_verdict(judge, job["id"], deadline, progress) if sent else (None, "gone")
    duration = time.monotonic() - start
    gone = message is not None and message.startswith(wire.GONE)
    wstatus = _candidate_status(cand) if gone else None  # before the kill: did it end on its own?
    _kill_everything_but_us(cand, namespace_init)
    _reap((cand,), namespace_init)
    verdict = None if message is None else _parsed(message)
    if gone:
        verdict = _explain_gone(verdict, wstatus)
    for fd in (1, 2):
        os.dup2(null_w, fd)  # the zygote's copies of the output file
    timed_out = missing == "timeout"
    if timed_out:  # the checker answers as soon as the candidate's pipes close: drain that late verdict
        missing = _await_verdict(judge, job["id"], time.monotonic() + _GRACE_S, [])[1]
    if verdict is None:
        verdict = _verdict_without_report(None, timed_out, job["timeout"])
        verdict["checker"] = "trusted" if job.get("trusted") else "in-process"
        if missing == "gone":
            verdict["detail"] = "the checker ended before a verdict"
        if missing:
            verdict["restart"] = True  # the checker did not answer: the pool restarts this worker
    for fields in map(_parsed, progress):
        verdict.update({k: v for k, v in fields.items() if k not in verdict})
    if verdict["status"] != "passed" or job.get("capture"):
        verdict["output_tail"] = _read_tail(output_fd, job.get("tail_bytes", 2000))
    os.close(output_fd)
    os.chdir("/")
    if not isolated:
        shutil.rmtree(workdir, ignore_errors=True)
    elif isolation.wipe_private_tmpfs():
        verdict["restart"] = True  # something of this sample could not be removed: a fresh worker for the next
    verdict["id"] = job["id"]
    verdict["duration_s"] = round(duration, 4)
    return verdict


def main() -> None:
    global _SAMPLE_STREAMS
    isolation.KEEP.extend(isolation.interpreter_paths_under())
    jobs, channel_fd, judge_fd, null_w = _arrange_fds(int(sys.argv[1]))
    judge = socket.socket(fileno=judge_fd)
    channel = os.fdopen(channel_fd, "w", buffering=1)
    isolated = "--isolated" in sys.argv and os.getpid() == 1
    namespace_init = os.getpid() == 1
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    isolation.not_dumpable()
    setup = isolation.make_filesystem_read_only() if isolated else {"readonly_root": False, "remount_failures": []}
    hidden = [p for p in os.environ.pop("CODELADDER_HIDE", "").split(os.pathsep) if p]
    setup["hidden"] = [p for p in hidden if p not in (isolation.hide(hidden) if isolated else hidden)]
    setup["isolated"] = isolated
    # What is in force, observed here rather than assumed from the command line (summary.json's protections).
    limits = next((json.loads(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--limits=")), None)
    setup.update(user_namespace=isolation.in_user_namespace(), network_isolated=isolation.network_unreachable(),
                 rlimits=bool(limits) and isolation.limits_take_effect(limits))
    if isolated:
        isolation.lock_down_privileges()
    os.makedirs("/tmp", exist_ok=True)
    # Made once: each candidate's sys.stdout/stderr (fds 1 and 2 are its output file by then).
    _SAMPLE_STREAMS = (open(1, "w", closefd=False), open(2, "w", closefd=False))
    gc.collect()
    gc.freeze()  # the children's collections skip the zygote's objects: fewer copy-on-write page faults
    channel.write(json.dumps({"ready": True, **setup}) + "\n")
    while True:
        try:
            header = json.loads(wire.read_exact(jobs, int(wire.read_exact(jobs, 10))))
        except (EOFError, ValueError):
            return
        channel.write(json.dumps(run_job(header, judge, isolated, namespace_init, null_w)) + "\n")


if __name__ == "__main__":
    main()
