"""The sandbox worker ("zygote"): one long-lived process per core that forks one child per sample.

Started by :mod:`codeladder.sandbox.pool`, normally as PID 1 of fresh user, network, mount and
PID namespaces. It makes every mount read-only once, then for each job read from stdin
(one JSON object per line) it forks a child that gets a private ``/tmp``, rlimits, no
capabilities and a null stdin; the child compiles and runs the program, then writes its
verdict to a pipe only after the program returned. The zygote answers with one JSON line.

Forking from a warm interpreter instead of starting ``python`` per sample is what makes
isolated execution fast (a fork costs about a millisecond; an interpreter start, 20 ms).
Written by hand because no library offers a namespace-isolated fork server; the few
syscalls it needs (mount, unshare, capset, prctl) come from libc through ctypes.
"""

from __future__ import annotations

import builtins
import ctypes
import importlib.util
import json
import os
import resource
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

_libc = ctypes.CDLL(None, use_errno=True)

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND = 32, 1024, 2048, 4096
MS_REC, MS_RELATIME, MS_STRICTATIME = 16384, 1 << 21, 1 << 24
CLONE_NEWNS = 0x00020000
PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS = 24, 28, 38
# NOROOT, NO_SETUID_FIXUP, KEEP_CAPS_LOCKED, NO_CAP_AMBIENT_RAISE, each with its lock bit.
SECUREBITS_LOCKED_DOWN = 0b11101111
VERDICT_FD = 200
PRIVATE_TMPFS = ("/tmp", "/dev/shm")
_MOUNT_FLAG_OPTIONS = {
    "nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME, "strictatime": MS_STRICTATIME,
}


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def _mount_points() -> list[tuple[str, int]]:
    """Mount points of this namespace with the flags a remount must keep (they may be locked)."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            target = fields[4].encode().decode("unicode_escape")
            flags = sum(_MOUNT_FLAG_OPTIONS.get(opt, 0) for opt in fields[5].split(","))
            points.append((target, flags))
    return points


def interpreter_paths_under(tops: tuple[str, ...] = PRIVATE_TMPFS) -> list[str]:
    """Folders this interpreter imports from (prefix, ``sys.path``) that lie under a folder we cover with
    a private tmpfs: a venv made in /tmp, as CI runners and cluster jobs do, would vanish from samples."""
    candidates = {sys.prefix, sys.exec_prefix, sys.base_prefix, *sys.path}
    found = sorted({os.path.abspath(c) for c in candidates if c and os.path.isdir(c)
                    and any(os.path.abspath(c).startswith(top + "/") for top in tops)})
    outermost: list[str] = []
    for path in found:
        if not any(path.startswith(kept + "/") for kept in outermost):
            outermost.append(path)
    return outermost


def _fresh_tmpfs_keeping(target: str, keep: list[str]) -> None:
    """Mount a fresh tmpfs on ``target``, then bind the ``keep`` folders (under it) back, read-only.

    The folders are opened before the tmpfs covers them; the bind's source is that open handle, which
    still names the covered (read-only) mount of this very namespace, so the bind is read-only too."""
    inside = [path for path in keep if path.startswith(target + "/")]
    handles = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY)) for path in inside]
    try:
        _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
        for path, handle in handles:
            os.makedirs(path, exist_ok=True)
            _mount(f"/proc/self/fd/{handle}", path, None, MS_BIND | MS_REC, None)
            try:
                _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
            except OSError:
                pass  # already read-only: a bind keeps its source mount's read-only flag
    finally:
        for _, handle in handles:
            os.close(handle)


def make_filesystem_read_only() -> dict:
    """Remount every mount read-only (except /proc), then give /tmp and /dev/shm fresh tmpfs (keeping
    the interpreter's own folders visible, read-only, where they live there)."""
    failed = []
    for target, flags in _mount_points():
        if target == "/proc" or target.startswith("/proc/"):
            continue
        try:
            _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags, None)
        except OSError:
            failed.append(target)
    for target in PRIVATE_TMPFS:
        try:
            _fresh_tmpfs_keeping(target, _KEEP)
        except OSError:
            failed.append(target)
    root_ro = "/" not in failed
    return {"readonly_root": root_ro, "remount_failures": failed}


def _drop_capabilities() -> None:
    """No capabilities, now or after exec: a sample cannot remount, mount or unshare."""
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    _libc.prctl(PR_SET_SECUREBITS, SECUREBITS_LOCKED_DOWN, 0, 0, 0)
    for cap in range(64):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.capset(header, data), "capset")


def _private_tmp() -> None:
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _fresh_tmpfs_keeping("/tmp", _KEEP)


def _set_limits(job: dict) -> None:
    memory = job["memory_mb"] * 1024 * 1024
    cpu = int(job["cpu_s"])
    fsize = job["fsize_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (job["nproc"], job["nproc"]))


def _missing_module(exc: BaseException) -> str | None:
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        top = exc.name.split(".")[0]
        try:
            return top if importlib.util.find_spec(top) is None else None
        except (ImportError, ValueError):
            return top
    return None


def _execute(code: str, payload: str | None) -> dict:
    try:
        compiled = compile(code, "<sample>", "exec")
    except (SyntaxError, ValueError) as exc:
        return {"status": "syntax_error", "detail": f"{type(exc).__name__}: {exc}"}
    namespace = {"__name__": "__sample__", "__builtins__": builtins, "__ladder_payload__": payload}
    try:
        exec(compiled, namespace)
    except MemoryError:
        return {"status": "oom", "detail": "MemoryError: the memory limit was reached"}
    except Exception as exc:
        if type(exc).__name__ != "LadderTimeout":  # raised by a benchmark's own per-input time limit
            return _failure(exc)
        return {"status": "timeout", "detail": str(exc)}
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are failures too
        return _failure(exc)
    return {"status": "passed", "detail": ""}


def _failure(exc: BaseException) -> dict:
    missing = _missing_module(exc)
    if missing:
        return {"status": "error", "detail": f"missing module {missing!r} in the evaluation environment"}
    tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next))
    return {"status": "failed", "detail": tail[-1500:]}


def _child(job: dict, verdict_w: int, output_fd: int, isolated: bool, workdir: str) -> None:
    """Runs in the forked child; never returns."""
    try:
        os.setsid()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.dup2(verdict_w, VERDICT_FD)
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.closerange(3, VERDICT_FD)
        os.closerange(VERDICT_FD + 1, 4096)
        if isolated:
            _private_tmp()
        home, work = os.path.join(workdir, "home"), os.path.join(workdir, "work")
        os.makedirs(home, exist_ok=True)
        os.makedirs(work, exist_ok=True)
        os.chdir(work)
        os.environ.update(HOME=home, TMPDIR=workdir, PWD=work)
        _set_limits(job)
        if isolated:
            _drop_capabilities()
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        verdict = _execute(job["code"], job.get("payload"))
        try:
            sys.stdout.flush()
        except BaseException:  # noqa: BLE001
            pass
        os.write(VERDICT_FD, (json.dumps(verdict) + "\n").encode())
    except BaseException as exc:  # noqa: BLE001
        try:
            os.write(VERDICT_FD, (json.dumps({"status": "error", "detail": f"sandbox: {exc!r}"}) + "\n").encode())
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


def _reap(pid: int, namespace_init: bool) -> int | None:
    """Collect the child's wait status, and (as PID 1) every orphan it left behind."""
    status = None
    while True:
        try:
            reaped, wstatus = os.waitpid(-1 if namespace_init else pid, 0)
        except ChildProcessError:
            return status
        if reaped == pid:
            status = wstatus
            if not namespace_init:
                return status


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


def run_job(job: dict, isolated: bool, namespace_init: bool) -> dict:
    output_path = f"/tmp/.ladder-output-{os.getpid()}"
    workdir = "/tmp" if isolated else tempfile.mkdtemp(prefix="ladder-sample-")
    verdict_r, verdict_w = os.pipe()
    output_fd = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(job, verdict_w, output_fd, isolated, workdir)
    os.close(verdict_w)
    os.close(output_fd)
    pidfd = os.pidfd_open(pid)
    deadline = start + job["timeout"]
    report, reading, timed_out = b"", True, False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([pidfd] + ([verdict_r] if reading else []), [], [], remaining)
        if pidfd in ready:
            break
        if verdict_r in ready:
            chunk = os.read(verdict_r, 65536)
            reading = bool(chunk) and len(report) < 1 << 20
            report += chunk
    duration = time.monotonic() - start
    os.set_blocking(verdict_r, False)
    try:
        while len(report) < 1 << 20 and (chunk := os.read(verdict_r, 65536)):
            report += chunk
    except BlockingIOError:
        pass
    _kill_everything_but_us(pid, namespace_init)
    wstatus = _reap(pid, namespace_init)
    os.close(verdict_r)
    os.close(pidfd)
    verdict = None
    if not timed_out and report.endswith(b"\n"):
        try:
            verdict = json.loads(report.splitlines()[0])
        except ValueError:
            verdict = None
    if verdict is None:
        verdict = _verdict_without_report(wstatus, timed_out, job["timeout"])
    if verdict["status"] != "passed" or job.get("capture"):
        verdict["output_tail"] = _read_tail(output_path, job.get("tail_bytes", 2000))
    if not isolated:
        shutil.rmtree(workdir, ignore_errors=True)
    verdict["id"] = job["id"]
    verdict["duration_s"] = round(duration, 4)
    return verdict


_KEEP: list[str] = []


def main() -> None:
    _KEEP.extend(interpreter_paths_under())
    isolated = "--isolated" in sys.argv and os.getpid() == 1
    namespace_init = os.getpid() == 1
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    null = os.open("/dev/null", os.O_WRONLY)
    os.dup2(null, 1)
    setup = make_filesystem_read_only() if isolated else {"readonly_root": False, "remount_failures": []}
    setup["isolated"] = isolated
    os.makedirs("/tmp", exist_ok=True)
    channel.write(json.dumps({"ready": True, **setup}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        channel.write(json.dumps(run_job(job, isolated, namespace_init)) + "\n")


if __name__ == "__main__":
    main()
