"""The harness side of the sandbox: a pool of namespace-isolated zygotes, one per core.

See the package docstring for the threat model. Each worker is started as
``unshare --user --map-root-user --net --mount --pid --fork --mount-proc --kill-child``
around ``python -m codeladder.sandbox.zygote`` with a scrubbed environment, inside a pids
cgroup of its own where the machine lets us make one.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import queue
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import codeladder
from codeladder.sandbox.cgroup import PidsCgroup
from codeladder.sandbox.isolation import expected_cache_dir, secret_paths

UNSHARE = ["unshare", "--user", "--map-root-user", "--net", "--mount", "--pid", "--fork", "--mount-proc",
           "--kill-child"]
_BACKSTOP_S = 15.0  # extra wall time before the harness gives up on a zygote that stopped answering


@dataclass(frozen=True)
class Limits:
    """Per-sample limits. ``cpu_s`` defaults to the wall-clock timeout plus one second."""

    timeout_s: float = 3.0
    memory_mb: int = 2048
    cpu_s: float | None = None
    fsize_mb: int = 16
    nproc: int = 64
    pids_max: int = 256

    def as_dict(self) -> dict:
        return asdict(self)

    def rlimits(self, timeout_s: float) -> dict:
        """The rlimits of one sample with this wall-clock limit (what :func:`isolation.set_limits` applies)."""
        return {"memory_mb": self.memory_mb, "cpu_s": self.cpu_s or int(timeout_s) + 1, "fsize_mb": self.fsize_mb,
                "nproc": self.nproc}


@dataclass
class Job:
    key: str
    code: str
    payload: str | None = None
    timeout_s: float | None = None
    capture: bool = False  # return the output's tail even when the program passed
    # The trusted checker's instructions (tests, expected outputs): sent only to the checker process,
    # never to the one running ``code``. None: ``code`` is the whole test program (in-process).
    checker: dict | None = None
    loopback: bool = False  # a fresh network namespace of its own, with ``lo`` up, for this sample


@dataclass
class Verdict:
    key: str
    status: str
    detail: str = ""
    duration_s: float = 0.0
    output_tail: str = ""
    checker: str = "in-process"  # "trusted": judged by a separate process that ran only dataset code
    extra: dict = field(default_factory=dict)  # structured results of the checker (e.g. EvalPlus phases)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _package_path(python: str | None) -> str:
    """PYTHONPATH that makes codeladder importable. For another interpreter (an evaluation environment) it is a
    folder holding only a link to the package: the folder above it may be the harness's site-packages, whose
    libraries would shadow the environment's."""
    package = Path(codeladder.__file__).resolve().parent
    if python is None:
        return str(package.parent)
    folder = expected_cache_dir().parent / "sandbox-path" / hashlib.sha256(str(package).encode()).hexdigest()[:16]
    link = folder / "codeladder"
    if not (link.is_symlink() and link.resolve() == package):
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".codeladder-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        temporary.symlink_to(package, target_is_directory=True)
        os.replace(temporary, link)
    return str(folder)


def _scrubbed_env(python: str | None = None) -> dict[str, str]:
    system_path = "/usr/local/bin:/usr/bin:/bin"
    return {
        # an evaluation environment's bin/ first: a test's ``subprocess.run(["python", ...])`` gets its interpreter
        "PATH": f"{Path(python).parent}:{system_path}" if python else system_path,
        "LANG": "C.UTF-8",
        "PYTHONPATH": _package_path(python),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "HOME": "/tmp/home",
        "CODELADDER_HIDE": os.pathsep.join(secret_paths()),
    }


@functools.cache
def isolation_probe() -> dict:
    """Can this machine give us namespaces? Checked once per process."""
    if shutil.which("unshare") is None:
        return {"namespaces": False, "reason": "the unshare command (util-linux) is not installed"}
    try:
        done = subprocess.run([*UNSHARE, "true"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"namespaces": False, "reason": f"unshare failed: {exc}"}
    if done.returncode != 0:
        return {"namespaces": False, "reason": f"unshare failed: {done.stderr.strip()[:200]}"}
    return {"namespaces": True, "reason": ""}


class _Worker:
    """One zygote (namespace-isolated, runs candidates) and its checker (outside those namespaces,
    judges them), joined by a socket over which the zygote hands the checker each candidate's pipes."""

    def __init__(self, limits: Limits, isolated: bool, python: str | None = None):
        self.limits = limits
        self.isolated = isolated
        self.python = python  # the zygote's interpreter (an evaluation environment's); None: this one
        self.process: subprocess.Popen | None = None
        self.checker: subprocess.Popen | None = None
        self.cgroup: PidsCgroup | None = None
        self.setup: dict = {}
        self._buffer = bytearray()
        self.spawn()

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        """Start the checker and the zygote; :meth:`wait_ready` waits for the zygote's hello (the pool spawns
        every worker first, so their interpreters start side by side)."""
        zygote_end, checker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with zygote_end, checker_end:
            command = [sys.executable, "-m", "codeladder.sandbox.checker_server", str(checker_end.fileno()),
                       str(self.limits.memory_mb), *([] if self.isolated else ["--not-dumpable"])]
            self.checker = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env=_scrubbed_env(), cwd="/", start_new_session=True, pass_fds=(checker_end.fileno(),))
            self.cgroup = PidsCgroup(self.limits.pids_max)
            command = [self.python or sys.executable, "-m", "codeladder.sandbox.zygote", str(zygote_end.fileno()),
                       f"--limits={json.dumps(self.limits.rlimits(self.limits.timeout_s))}"]
            if self.isolated:
                command = [*UNSHARE, *command, "--isolated"]
            self.process = subprocess.Popen(
                self.cgroup.wrap(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, env=_scrubbed_env(self.python), cwd="/", start_new_session=True,
                pass_fds=(zygote_end.fileno(),))
        self._buffer = bytearray()

    def wait_ready(self) -> None:
        hello = self._read_line(60.0)
        if hello is None:
            raise RuntimeError("the sandbox worker did not start (is util-linux unshare working?)")
        self.setup = json.loads(hello)
        self.setup["pids_cgroup"] = self.cgroup is not None and self.cgroup.holds(self.process.pid)

    def hang_up(self) -> None:
        """Close both processes' job channels: they finish and exit (:meth:`stop` waits for them)."""
        for process in (self.process, self.checker):
            if process is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()

    def stop(self) -> None:
        self.hang_up()
        for process in (self.process, self.checker):
            if process is None:
                continue
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        self.process = self.checker = None
        if self.cgroup is not None:
            self.cgroup.remove()

    def _read_line(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        scanned = 0
        while (end := self._buffer.find(b"\n", scanned)) < 0:
            scanned = len(self._buffer)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return None
            self._buffer += chunk
        line = bytes(self._buffer[:end])
        del self._buffer[:end + 1]
        return line

    def run(self, job: Job) -> Verdict:
        timeout = job.timeout_s or self.limits.timeout_s
        request = {"id": job.key, "code": job.code, "payload": job.payload, "timeout": timeout,
                   **self.limits.rlimits(timeout), "capture": job.capture, "loopback": job.loopback}
        request["trusted"] = job.checker is not None and job.checker.get("kind") != "in-process"
        header = json.dumps(request).encode()
        secret = json.dumps({"id": job.key, "spec": job.checker}).encode()
        try:
            self.checker.stdin.write(b"%010d" % len(secret) + secret)  # read by the checker before the job
            self.checker.stdin.flush()
            self.process.stdin.write(b"%010d" % len(header) + header)
            self.process.stdin.flush()
            line = self._read_line(timeout + _BACKSTOP_S)
        except (BrokenPipeError, OSError):
            line = None
        reply = json.loads(line) if line is not None else None
        if reply is None or reply.pop("restart", False):
            self.stop()
            self.start()
        if reply is None:
            return Verdict(job.key, "error", "the sandbox worker stopped answering; it was restarted")
        known = {"id", "status", "detail", "duration_s", "output_tail", "checker"}
        return Verdict(job.key, reply["status"], reply.get("detail", ""), reply.get("duration_s", 0.0),
                       reply.get("output_tail", ""), reply.get("checker", "in-process"),
                       {k: v for k, v in reply.items() if k not in known})


@dataclass
class SandboxPool:
    """``with SandboxPool(workers=2) as pool: for verdict in pool.run(jobs): ...``"""

    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    limits: Limits = field(default_factory=Limits)
    isolate: bool = True
    python: str | None = None  # interpreter of the zygotes (the candidates' libraries); None: this one

    def __post_init__(self) -> None:
        self._workers: list[_Worker] = []
        self._waiting: list[_Worker] = []
        probe = isolation_probe() if self.isolate else {"namespaces": False, "reason": "isolation disabled"}
        self._isolated = bool(probe["namespaces"])
        self._probe = probe

    def __enter__(self) -> "SandboxPool":
        """Start every worker; the first :meth:`run` (or :attr:`isolation`) waits for them, so whatever the caller
        does meanwhile (reading samples, building jobs) overlaps their interpreters' start."""
        self._workers = [_Worker(self.limits, self._isolated, self.python) for _ in range(max(1, self.workers))]
        self._waiting = list(self._workers)
        return self

    def _ready(self) -> None:
        try:
            for worker in self._waiting:
                worker.wait_ready()
        except BaseException:
            self.__exit__()
            raise
        self._waiting = []

    def __exit__(self, *exc) -> None:
        for worker in self._workers:  # every worker winds down side by side
            worker.hang_up()
        for worker in self._workers:
            try:
                worker.stop()
            except Exception:
                if not exc or exc[0] is None:
                    raise  # a failure of its own; while unwinding (Ctrl-C) it must not replace the cause
        self._workers, self._waiting = [], []

    @property
    def isolation(self) -> dict:
        """What the result files record: which protections were really in force. ``protections`` holds what every
        worker observed once it started (its namespaces, an unreachable network, rlimits read back in a forked
        child, membership of its pids cgroup), not what was asked for."""
        self._ready()
        setups = [worker.setup for worker in self._workers]
        seen = lambda key: bool(setups) and all(setup.get(key) is True for setup in setups)  # noqa: E731
        protections = {"namespaces": self._isolated and seen("isolated") and seen("user_namespace"),
                       "network": seen("network_isolated"), "read_only_filesystem": seen("readonly_root"),
                       "pids_cgroup": seen("pids_cgroup"), "rlimits": seen("rlimits")}
        level = "namespaces" if protections["namespaces"] else "process"
        reason = self._probe.get("reason", "")
        if self._isolated and level != "namespaces":
            reason = "unshare worked, but the workers did not start in namespaces of their own"
        return {
            "level": level,
            "protections": protections,
            "network": ("none (empty network namespace; a loopback of its own for jobs that ask)"
                        if protections["network"] else "host network (not isolated)"),
            "filesystem": ("read-only mounts, private tmpfs per sample" if protections["read_only_filesystem"]
                           else "host filesystem writable (not isolated)"),
            "pids": (f"cgroup pids.max={self.limits.pids_max}" if protections["pids_cgroup"]
                     else f"RLIMIT_NPROC={self.limits.nproc} (no pids cgroup: binds only non-root users)"),
            "environment": "scrubbed",
            "hidden_data": setups[0].get("hidden", []) if setups else [],
            "checker": "separate process (candidate/checker split; see result rows' 'checker')",
            "reason": reason,
        }

    def run(self, jobs: Iterable[Job]) -> Iterator[Verdict]:
        """Run every job; yields verdicts in completion order, in the caller's thread."""
        self._ready()
        todo: queue.Queue = queue.Queue()
        count = 0
        for job in jobs:
            todo.put(job)
            count += 1
        done: queue.Queue = queue.Queue()

        def serve(worker: _Worker) -> None:
            while True:
                try:
                    job = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    done.put(worker.run(job))
                except Exception as exc:  # noqa: BLE001 - a broken worker must not lose the job silently
                    done.put(Verdict(job.key, "error", f"sandbox: {exc}"))

        threads = [threading.Thread(target=serve, args=(w,), daemon=True) for w in self._workers]
        for thread in threads:
            thread.start()
        for _ in range(count):
            yield done.get()
        for thread in threads:
            thread.join()
