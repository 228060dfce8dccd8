"""Executors: where ``ladder eval`` runs its sandbox jobs. ``local`` (the default) is this machine's
:class:`~codeladder.sandbox.SandboxPool`; ``ray`` is :class:`RayExecutor`, the same pool on every node of a Ray
cluster, behind the same interface (a context manager with ``run(jobs) -> Iterator[Verdict]`` and ``isolation``).

How the Ray path keeps the local guarantees:

* **Same sandbox on every node.** One actor per node (pinned there, ``num_cpus=0``) holds a long-lived
  ``SandboxPool`` with one zygote per CPU the node gives Ray (or ``--workers`` per node): the same namespaces,
  rlimits, pids cgroup and trusted checker as locally. The run's ``isolation.protections`` holds a protection
  only where every node observed it in force. Jobs carry their checker's secret part; the actor hands it
  to the node's checker processes exactly as the local harness does.
* **Checked before any work is sent.** Each node reports codeladder's version, a sha256 of its sandbox sources,
  its isolation (the pool's own record, after its zygotes started) and, when the run uses an evaluation
  environment, the sha256 of that environment's package list on that node. Any difference from this machine,
  or a node that cannot isolate while isolation is asked for, stops the run with one line naming the node.
* **Batches.** Jobs travel in batches of 50-200 (a Ray call costs milliseconds; a sample a few), at most
  ``DEPTH`` batches queued per node, and verdicts come back a batch at a time, in completion order.
* **Lost nodes.** A batch whose node died is sent again to another node; a batch's verdicts are read once, from
  the one call that finished, so no verdict is yielded twice. If every node is lost the run stops; the verdicts
  already written stay, and the same command resumes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import math
import socket
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path

from codeladder.errors import LadderError
from codeladder.sandbox import Job, Limits, SandboxPool, Verdict

BATCH_MIN, BATCH_MAX = 50, 200
DEPTH = 2  # batches queued per node: the next one waits in the actor while the current one runs
ATTEMPTS = 3  # a batch failing this often on live nodes (not a lost node) stops the run
START_TIMEOUT_S = 300.0


NO_RAY = "--executor ray needs Ray: pip install 'codeladder[ray]' (here and on every node)"


def ray_available() -> bool:
    try:
        return importlib.util.find_spec("ray") is not None
    except ValueError:
        return False


def _ray():
    try:
        import ray
    except ImportError as exc:
        raise LadderError(f"{NO_RAY}; importing it failed: {exc}") from None
    return ray


def sandbox_sha256() -> str:
    """sha256 of the sandbox's sources: nodes must run the very code that isolates and judges samples."""
    folder = Path(__file__).resolve().parent.parent / "sandbox"
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def environment_facts(python: str | None) -> dict | None:
    """The evaluation environment whose interpreter is ``python`` (``ENV/bin/python``): name, path, package hash."""
    if python is None:
        return None
    from codeladder.envs.store import installed_packages, load, packages_sha256

    env = load(Path(python).parent.parent)
    return {"name": env.name, "path": str(env.path), "packages_sha256": packages_sha256(installed_packages(env.path))}


def _node_environment(wanted: dict | None) -> dict | None:
    """On a node: the environment named like ``wanted`` (the node's own, made there by ``ladder env create NAME``,
    else the one at the driver's path, e.g. on a shared filesystem), with its interpreter and package hash;
    ``error`` says why none is there."""
    if wanted is None:
        return None
    from codeladder.envs.store import META, envs_root, interpreter

    candidates = [envs_root() / wanted["name"], Path(wanted["path"])]
    for folder in candidates:
        if (folder / META).is_file() and interpreter(folder).exists():
            facts = environment_facts(str(interpreter(folder)))
            if facts["name"] == wanted["name"]:
                return {**facts, "python": str(interpreter(folder))}
    where = " or ".join(dict.fromkeys(str(c) for c in candidates))
    return {"error": f"no environment {wanted['name']!r} at {where}"}


class NodeSandbox:
    """A Ray actor: one node's ``SandboxPool``, started after :meth:`facts` were checked."""

    def __init__(self, limits: Limits, isolate: bool, workers: int, environment: dict | None):
        self.limits, self.isolate, self.workers, self.environment = limits, isolate, workers, environment
        self.pool: SandboxPool | None = None

    def facts(self) -> dict:
        import codeladder
        import ray

        from codeladder.sandbox import isolation_probe

        return {"node_id": ray.get_runtime_context().get_node_id(), "host": socket.gethostname(),
                "codeladder": codeladder.__version__, "sandbox_sha256": sandbox_sha256(),
                "python": sys.version.split()[0], "probe": isolation_probe(),
                "environment": _node_environment(self.environment)}

    def start(self) -> dict:
        environment = _node_environment(self.environment)
        python = environment["python"] if environment else None
        self.pool = SandboxPool(workers=self.workers, limits=self.limits, isolate=self.isolate, python=python)
        self.pool.__enter__()
        return self.pool.isolation

    def run_batch(self, jobs: list[Job]) -> list[Verdict]:
        return list(self.pool.run(jobs))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.__exit__(None, None, None)
            self.pool = None


def check_address(address: str | None) -> None:
    """One line, fast, for an address nothing answers at (ray.init would retry for a long time); ``ladder eval``
    calls it before generating, so a typo does not surface hours later."""
    if address in (None, "auto", "local"):
        return
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise LadderError(f"--ray-address {address}: expected HOST:PORT (the head's GCS port, e.g. 10.0.0.1:6379), "
                          "ray://HOST:PORT (Ray Client) or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise LadderError(f"--ray-address {address}: nothing answers there ({exc.strerror or exc}); start the "
                          "cluster with `ray start --head` or check the address") from None


class _Node:
    def __init__(self, actor, resources: dict):
        self.actor, self.resources = actor, resources
        self.facts: dict = {}
        self.isolation: dict = {}
        self.inflight = 0
        self.jobs = 0
        self.lost = ""


class RayExecutor:
    """``with RayExecutor(address, ...) as pool: for verdict in pool.run(jobs): ...`` (see the module doc)."""

    def __init__(self, address: str | None, workers: int | None, limits: Limits, isolate: bool = True,
                 python: str | None = None, batch_size: int | None = None):
        self.address, self.workers, self.limits, self.isolate = address, workers, limits, isolate
        self.environment = environment_facts(python)
        self.batch_size = batch_size
        self._nodes: list[_Node] = []
        self._owns_ray = False
        self._stdout = None
        self._stats = {"batches": 0, "retried_jobs": 0, "batch_size": None}

    # -- setting up -------------------------------------------------------------------------------------------
    def __enter__(self) -> "RayExecutor":
        ray = _ray()
        # Ray's driver prints cluster events (a node marked dead) on stdout: send them to stderr while the
        # executor runs, so that stdout stays the command's own (``ladder eval --json``).
        self._stdout = sys.stdout
        sys.stdout = sys.stderr
        try:
            if not ray.is_initialized():
                self._init(ray)
            self._open_nodes(ray)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _init(self, ray) -> None:
        check_address(self.address)
        local = self.address in (None, "local")
        try:
            ray.init(address="local" if local else self.address, logging_level=logging.ERROR, log_to_driver=False,
                     **({"num_cpus": self.workers, "include_dashboard": False} if local else {}))
        except Exception as exc:  # noqa: BLE001 - ray raises ConnectionError, RuntimeError, ValueError...
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise LadderError(f"--ray-address {self.address or 'local'}: could not join the Ray cluster "
                              f"({first[:200]})") from None
        self._owns_ray = True

    def _open_nodes(self, ray) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        alive = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) >= 1]
        if not alive:
            raise LadderError(f"Ray cluster at {self.address or 'local'}: no live node offers a CPU")
        remote = ray.remote(num_cpus=0, max_restarts=0, max_task_retries=0, max_concurrency=1)(NodeSandbox)
        for info in alive:
            workers = self.workers or max(1, int(info["Resources"]["CPU"]))
            pinned = NodeAffinitySchedulingStrategy(info["NodeID"], soft=False)
            actor = remote.options(scheduling_strategy=pinned).remote(self.limits, self.isolate, workers,
                                                                      self.environment)
            node = _Node(actor, {"cpus": info["Resources"]["CPU"], "workers": workers,
                                 "address": info.get("NodeManagerAddress")})
            node.facts = {"node_id": info["NodeID"], "host": info.get("NodeManagerHostname", "?")}
            self._nodes.append(node)
        for node, facts in zip(self._nodes, self._gather(ray, [n.actor.facts.remote() for n in self._nodes])):
            node.facts = facts
            self._check(node)
        for node, isolation in zip(self._nodes, self._gather(ray, [n.actor.start.remote() for n in self._nodes])):
            node.isolation = isolation
            if self.isolate and isolation["level"] != "namespaces":
                reason = isolation.get("reason") or "no namespaces"
                raise LadderError(f"Ray node {self._name(node)} cannot isolate samples ({reason}); fix it there "
                                  "(see docs/sandbox.md) or pass --no-isolate")

    def _gather(self, ray, refs: list) -> list:
        try:
            return ray.get(refs, timeout=START_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError:
            raise LadderError(f"Ray nodes did not start their sandbox within {START_TIMEOUT_S:.0f} s") from None
        except ray.exceptions.RayError as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            raise LadderError(f"a Ray node could not run codeladder's sandbox ({first[:300]}); install this "
                              f"codeladder on every node: pip install 'codeladder[ray]'") from None

    @staticmethod
    def _name(node: _Node) -> str:
        return f"{node.facts.get('host')} ({str(node.facts.get('node_id'))[:12]})"

    def _check(self, node: _Node) -> None:
        import codeladder

        facts, name = node.facts, self._name(node)
        if facts["codeladder"] != codeladder.__version__ or facts["sandbox_sha256"] != sandbox_sha256():
            raise LadderError(f"Ray node {name} runs codeladder {facts['codeladder']} (sandbox "
                              f"{facts['sandbox_sha256'][:12]}), this machine {codeladder.__version__} (sandbox "
                              f"{sandbox_sha256()[:12]}): install the same codeladder on every node")
        if self.isolate and not facts["probe"]["namespaces"]:
            raise LadderError(f"Ray node {name} cannot isolate samples ({facts['probe']['reason']}); fix it there "
                              "(see docs/sandbox.md) or pass --no-isolate")
        env = facts["environment"]
        if self.environment is None:
            return
        if env.get("error"):
            raise LadderError(f"Ray node {name}: {env['error']}; run `ladder env create {self.environment['name']}` "
                              "on every node (docs/sandbox.md, Ray)")
        if env["packages_sha256"] != self.environment["packages_sha256"]:
            there, here = str(env["packages_sha256"])[:12], str(self.environment["packages_sha256"])[:12]
            raise LadderError(f"Ray node {name}: environment {env['name']!r} holds other packages (sha256 {there}, "
                              f"here {here}); make it again there with `ladder env create {env['name']} --force`")

    def __exit__(self, *exc) -> None:
        try:
            self._close()
        finally:
            if self._stdout is not None:
                sys.stdout, self._stdout = self._stdout, None

    def _close(self) -> None:
        if not self._nodes and not self._owns_ray:
            return
        import ray

        live = [n for n in self._nodes if not n.lost]
        try:
            ray.get([n.actor.close.remote() for n in live], timeout=30)
        except Exception:  # noqa: BLE001 - closing is best effort: the actor's death stops its pool too
            pass
        for node in self._nodes:
            try:
                ray.kill(node.actor, no_restart=True)
            except Exception:  # noqa: BLE001
                pass
        self._nodes = []
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False

    # -- what the run records ---------------------------------------------------------------------------------
    @property
    def isolation(self) -> dict:
        """The nodes' common isolation record (the weakest, should they differ), each node's own facts, and how
        the jobs were spread (``executor``)."""
        records = [n.isolation for n in self._nodes if n.isolation]
        common = min(records, key=lambda r: r["level"] == "namespaces") if records else {}
        if records:  # each protection only where every node observed it
            common = {**common, "protections": {key: all(r.get("protections", {}).get(key) is True for r in records)
                                                for key in common.get("protections", {})}}
        nodes = [{"node_id": n.facts.get("node_id"), "host": n.facts.get("host"), "level": n.isolation.get("level"),
                  "reason": n.isolation.get("reason", ""), "hidden_data": n.isolation.get("hidden_data", []),
                  "workers": n.resources["workers"], "codeladder": n.facts.get("codeladder"),
                  "sandbox_sha256": n.facts.get("sandbox_sha256"),
                  "environment_sha256": (n.facts.get("environment") or {}).get("packages_sha256"),
                  "jobs": n.jobs, "lost": n.lost} for n in self._nodes]
        return {**common, "nodes": nodes,
                "executor": {"kind": "ray", "address": self.address or "local", **self._stats,
                             "lost_nodes": sum(bool(n.lost) for n in self._nodes)}}

    # -- running ----------------------------------------------------------------------------------------------
    def run(self, jobs: Iterable[Job]) -> Iterator[Verdict]:
        """Run every job on the cluster; yields verdicts a batch at a time, in completion order."""
        import ray

        jobs = list(jobs)
        live = [n for n in self._nodes if not n.lost]
        size = self.batch_size or min(BATCH_MAX, max(BATCH_MIN, math.ceil(len(jobs) / (2 * DEPTH * len(live) or 1))))
        self._stats["batch_size"] = size
        todo: deque = deque((i, jobs[start:start + size]) for i, start in enumerate(range(0, len(jobs), size)))
        failures: dict[int, int] = {}
        inflight: dict = {}  # ObjectRef -> (node, batch index, jobs)

        def dispatch() -> None:
            for node in live:
                while node.inflight < DEPTH and todo:
                    index, batch = todo.popleft()
                    inflight[node.actor.run_batch.remote(batch)] = (node, index, batch)
                    node.inflight += 1
                    self._stats["batches"] += 1

        def lose(node: _Node, reason: str) -> None:
            node.lost = reason
            live.remove(node)
            for ref, (owner, index, batch) in list(inflight.items()):
                if owner is node:  # never read: another node runs the batch, whose verdicts are the ones kept
                    del inflight[ref]
                    todo.appendleft((index, batch))
                    self._stats["retried_jobs"] += len(batch)
            try:
                ray.kill(node.actor, no_restart=True)
            except Exception:  # noqa: BLE001 - the node may be gone already
                pass

        dispatch()
        while inflight:
            ready, _ = ray.wait(list(inflight), num_returns=1)
            node, index, batch = inflight.pop(ready[0])
            node.inflight -= 1
            try:
                verdicts = ray.get(ready[0])
            except ray.exceptions.RayActorError as exc:
                lose(node, type(exc).__name__)
                todo.appendleft((index, batch))
                self._stats["retried_jobs"] += len(batch)
                logging.getLogger("codeladder").warning(
                    "Ray node %s was lost; its unfinished jobs go to the other nodes", self._name(node))
            except ray.exceptions.RayError as exc:
                failures[index] = failures.get(index, 0) + 1
                if failures[index] >= ATTEMPTS:
                    raise LadderError(f"a batch of sandbox jobs failed {ATTEMPTS} times on Ray ({str(exc)[:300]}); "
                                      "the verdicts so far are kept: fix the cause and run again to resume") from None
                todo.appendleft((index, batch))
            else:
                node.jobs += len(verdicts)
                yield from verdicts
            dispatch()
            if todo and not inflight:
                raise LadderError(f"every Ray node running the sandbox was lost; {sum(len(b) for _, b in todo)} "
                                  "jobs unfinished (the verdicts so far are kept: run the same command to resume)")
