"""What this host lets the sandbox isolate, asked of the kernel directly rather than through the pool: the
expectation the sandbox tests hold the pool to. A test that needs namespaces fails (never skips) with one line
on a host that refuses them, and fails where the host allows them but the pool ran below."""

from __future__ import annotations

import functools
import os
import subprocess
import sys

import pytest

from codeladder.sandbox.cgroup import pids_roots

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, 0x40000000


@functools.cache
def host_namespaces() -> tuple[bool, str]:
    """Can a process here create user, mount, PID and network namespaces (what every worker is started in)?
    Tried with unshare(2) in a child interpreter; the reason says why not."""
    flags = CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET
    code = ("import ctypes, sys\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            f"sys.exit(0 if libc.unshare({flags}) == 0 else ctypes.get_errno() or 255)\n")
    done = subprocess.run([sys.executable, "-c", code], timeout=60)
    if done.returncode == 0:
        return True, ""
    return False, (f"unshare(user, mount, pid, net) is refused here ({os.strerror(done.returncode)}: a seccomp "
                   "profile such as Docker's default, or user.max_user_namespaces=0)")


@functools.cache
def host_pids_cgroup() -> tuple[bool, str]:
    """Can this process make a cgroup with a pids limit (a root offering the controller that we may write)?"""
    roots = pids_roots()
    for root in roots:
        probe = root / f"codeladder-{os.getpid()}-hostprobe"
        try:
            probe.mkdir()
            (probe / "pids.max").write_text("64")
        except OSError:
            continue
        finally:
            if probe.exists():
                probe.rmdir()
        return True, ""
    return False, f"no writable pids cgroup root ({', '.join(map(str, roots)) or 'no pids controller'})"


def require_namespaces(isolation: dict | None = None) -> None:
    """For a test that needs namespaces: one-line failure on a host that refuses them, and, where the host allows
    them, when the run's ``isolation`` record is below ``namespaces``."""
    can, reason = host_namespaces()
    if not can:
        pytest.fail(f"this test needs user namespaces, which this host refuses: {reason}", pytrace=False)
    if isolation is not None and isolation["level"] != "namespaces":
        pytest.fail(f"this host can create user namespaces, yet the sandbox ran at {isolation['level']!r}: "
                    f"{isolation.get('reason') or 'no reason recorded'}", pytrace=False)
