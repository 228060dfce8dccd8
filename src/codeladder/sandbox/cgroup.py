"""The pids cgroup that bounds one sandbox worker and everything it forks (cgroup v2, or v1's pids hierarchy).

Best effort: a machine that gives us no writable pids controller (no root, no delegated cgroup) runs without
one, and :meth:`PidsCgroup.holds` says, once the worker started, whether the limit is really in force for it.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

ROOTS = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup/pids"))


def _remove_stale(root: Path) -> None:
    """Empty cgroups left by a harness that was killed (kill -9) before it could remove them."""
    for stale in root.glob("codeladder-*"):
        try:
            os.kill(int(stale.name.split("-")[1]), 0)
        except ProcessLookupError:
            try:
                stale.rmdir()
            except OSError:
                pass
        except (ValueError, PermissionError):
            pass


def pids_roots() -> list[Path]:
    """The cgroup roots of this machine that offer the pids controller."""
    found = []
    for root in ROOTS:
        controllers = root / "cgroup.controllers"
        is_v1_pids = root.name == "pids" and (root / "tasks").exists()
        if is_v1_pids or (controllers.exists() and "pids" in controllers.read_text().split()):
            found.append(root)
    return found


class PidsCgroup:
    """A fresh cgroup with ``pids.max`` written, under the first root that lets us make one; else none."""

    def __init__(self, pids_max: int):
        self.pids_max = pids_max
        self.path: Path | None = None
        for root in pids_roots():
            _remove_stale(root)
            candidate = root / f"codeladder-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            try:
                candidate.mkdir()
                (candidate / "pids.max").write_text(str(pids_max))
            except OSError:
                shutil.rmtree(candidate, ignore_errors=True) if candidate.exists() else None
                continue
            self.path = candidate
            break

    def wrap(self, command: list[str]) -> list[str]:
        """The command, made to join this cgroup first (it does not start if it cannot join)."""
        if self.path is None:
            return command
        return ["sh", "-c", f'echo $$ > "{self.path}/cgroup.procs" && exec "$@"', "sh", *command]

    def holds(self, pid: int) -> bool:
        """Observed, not assumed: ``pid`` is listed in the cgroup and its ``pids.max`` reads back as the limit."""
        if self.path is None:
            return False
        try:
            members = (self.path / "cgroup.procs").read_text().split()
            limit = (self.path / "pids.max").read_text().strip()
        except OSError:
            return False
        return str(pid) in members and limit == str(self.pids_max)

    def remove(self) -> None:
        if self.path is not None:
            for _ in range(50):
                try:
                    self.path.rmdir()
                    return
                except OSError:
                    time.sleep(0.02)
