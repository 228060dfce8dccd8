"""Run untrusted generated code: parallel, resource-limited, no network, nothing escaping.

Threat model
------------
The code we run was written by a language model. We assume it may be *careless or
pathological* (infinite loops, fork floods, huge allocations, gigabytes of output,
``sys.exit(0)`` before the tests, killing its parent, scribbling on the disk, opening
sockets, reading secrets from the environment). We do **not** assume a kernel exploit.

What protects what:

* **Network** - every worker lives in a fresh Linux network namespace (``unshare --net``)
  whose only interface is a loopback that is down: ``connect`` fails with
  "Network is unreachable", including to listeners on the host's 127.0.0.1.
* **Processes** - a fresh PID namespace per worker; the worker (the "zygote") is its PID 1,
  which the kernel protects from signals sent from inside, so ``os.kill(os.getppid(), 9)``
  or ``os.killpg(0, 9)`` cannot take the harness down. The host's processes are invisible
  (``/proc`` is remounted for the namespace). After every sample the zygote kills every
  other process in its namespace, so nothing outlives its sample.
* **Filesystem** - every mount is remounted read-only inside the worker's mount namespace;
  each sample gets a fresh private tmpfs on ``/tmp`` (its working directory and HOME),
  which vanishes when the sample ends. Samples run with *no capabilities*, so they cannot
  remount anything writable again.
* **Environment** - the zygote starts from a scrubbed environment (no tokens, no keys).
* **Resources** - rlimits per sample: address space (memory), CPU time, file size (bounds
  output too), no core dumps; a pids cgroup per worker bounds fork floods where one can be
  created (``RLIMIT_NPROC`` does not bind root); a wall-clock deadline kills the sample
  and everything it started.
* **Verdict** - a sample's verdict comes only from a pipe the runner writes *after* every
  test ran; an exit code, an early ``os._exit(0)``, an ``atexit`` hook or a raised
  ``SystemExit`` never count as a pass.

Out of scope: code written to *forge* a verdict by introspecting the runner's own memory
(it shares a process with the tests, as in every peer harness) - such code is visible in
``samples.jsonl``; kernel or hardware exploits. Where namespaces are unavailable the pool
still runs (rlimits, scrubbed env, process groups) and the result's ``isolation`` says so.
"""

from codeladder.sandbox.pool import Job, Limits, SandboxPool, Verdict, isolation_probe

STATUSES = ("passed", "failed", "timeout", "oom", "syntax_error", "error")

__all__ = ["Job", "Limits", "SandboxPool", "Verdict", "STATUSES", "isolation_probe"]
