"""``ladder eval --executor ray`` on a real two-node Ray cluster on this machine (head + one worker node, one CPU
each), against the local sandbox pool on the same 164 x 2 HumanEval samples (canonical solutions): identical
verdicts, each node's sandbox checked and isolated, and a worker node killed while it holds a batch leaves every
sample in results.jsonl exactly once. The nodes are ``ray start --block`` subprocesses, each in a process group of its own
(torn down by killing those groups, never with ``ray stop``), with HOME and TMPDIR under a folder of the test's."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from host_isolation import require_namespaces

from codeladder.benchmarks import get_benchmark
from codeladder.envs.store import META, packages_sha256
from codeladder.evaluate import EvalParams, evaluate
from codeladder.runs import read_jsonl

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                                reason="ray is not installed (pip install 'codeladder[ray]')")

RAY = [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; sys.argv[0] = 'ray'; main()"]
PER_TASK = 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Node:
    """One ``ray start --block`` in its own process group; its log tells when it is up. Ray gives a raylet 30 s to
    register, which a busy 2-core machine can miss: a node that timed out is started once more."""

    def __init__(self, args: list[str], env: dict, log: Path):
        self.args, self.env, self.log = args, env, log
        self.start()
        for attempt in range(2):
            while "Ray runtime started" not in self.log.read_text():
                if self.process.poll() is not None:
                    break
                time.sleep(0.2)
            else:
                return
            text = self.log.read_text()[-3000:]
            self.kill()
            if attempt or "timed out during startup" not in text:
                raise AssertionError(f"ray start exited {self.process.returncode}:\n{text}")
            self.start()

    def start(self) -> None:
        ports = ["--dashboard-agent-listen-port", str(free_port()), "--dashboard-agent-grpc-port", str(free_port()),
                 "--metrics-export-port", str(free_port()), "--runtime-env-agent-port", str(free_port())]
        with open(self.log, "w") as out:
            self.process = subprocess.Popen([*RAY, "start", "--block", "--num-cpus", "1", "--node-ip-address",
                                             "127.0.0.1", "--disable-usage-stats", "--include-log-monitor", "false",
                                             *ports, *self.args], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def kill(self) -> None:
        """The node dies as a machine would: its process group and every process below it, by id (Ray's actors
        have process groups of their own, and one left alive would still answer the driver)."""
        below = descendants(self.process.pid)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid in below:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()


def descendants(ancestor: int) -> list[int]:
    """Every live process below ``ancestor``, found by walking each one's parent ids in /proc."""
    parents = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit():
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            pass
    found = []
    for pid in parents:
        up = parents.get(pid)
        while up is not None and up > 1 and up != ancestor:
            up = parents.get(up)
        if up == ancestor:
            found.append(pid)
    return found


def started_here(marker: bytes) -> list[int]:
    """Processes whose environment holds ``marker`` (this cluster's TMPDIR)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:
            pass
    return pids


def write_samples(path: Path) -> None:
    with open(path, "w") as out:
        for task in get_benchmark("humaneval").load():
            for _ in range(PER_TASK):
                out.write(json.dumps({"task_id": task.task_id, "completion": task.reference[len(task.prompt):]}) + "\n")


def verdicts(run: Path) -> dict:
    """Each sample's verdict as results.jsonl has it, less the time it took; fails on a sample written twice."""
    rows = list(read_jsonl(run / "results.jsonl"))
    keyed = {(r["task_id"], r["sample_index"]): {k: v for k, v in r.items() if k != "duration_s"} for r in rows}
    assert len(keyed) == len(rows), "a sample was written twice"
    return keyed


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """address, worker node, env (the drivers'), node_cache (the nodes' CODELADDER_CACHE), samples, local."""
    folder = tmp_path_factory.mktemp("ray")
    short = Path(tempfile.mkdtemp(prefix="rl", dir="/tmp"))  # Ray's unix sockets need a short path
    (folder / "home").mkdir()
    env = {**os.environ, "HOME": str(folder / "home"), "TMPDIR": str(short), "RAY_USAGE_STATS_ENABLED": "0",
           "CODELADDER_CACHE": str(folder / "cache")}
    env.pop("RAY_ADDRESS", None)
    node_env = {**env, "CODELADDER_CACHE": str(folder / "node-cache")}  # where the nodes look for environments
    port = free_port()
    nodes: list[Node] = []
    try:
        nodes.append(Node(["--head", "--port", str(port), "--temp-dir", str(short / "ray"), "--include-dashboard",
                           "false", "--ray-client-server-port", str(free_port())], node_env, folder / "head.log"))
        worker = Node(["--address", f"127.0.0.1:{port}"], node_env, folder / "worker.log")
        nodes.append(worker)
        samples = folder / "samples.jsonl"
        write_samples(samples)
        evaluate(EvalParams(benchmark="humaneval", samples=str(samples), output=str(folder / "local"), workers=2))
        local = verdicts(folder / "local")
        yield SimpleNamespace(address=f"127.0.0.1:{port}", worker=worker, env=env, samples=samples, local=local,
                              node_cache=folder / "node-cache")
    finally:
        for node in reversed(nodes):
            node.kill()
        # Ray's worker processes (the actors) have process groups of their own and leave when their raylet is
        # gone; any still there a few seconds later is ended by its id (found by this cluster's own TMPDIR).
        marker = f"TMPDIR={short}".encode()
        for _ in range(50):
            if not started_here(marker):
                break
            time.sleep(0.2)
        for pid in started_here(marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(short, ignore_errors=True)


def ray_eval(cluster, out: Path, *more: str, samples: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "codeladder.cli.main", "eval", "humaneval", "--samples",
                             str(samples or cluster.samples), "--output", str(out), "--executor", "ray", "--ray-address",
                             cluster.address, "--json", *more], env=cluster.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def make_env(path: Path) -> None:
    """An evaluation environment with nothing installed (HumanEval needs only the standard library)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=300)
    (path / META).write_text(json.dumps({"name": "tiny", "packages_sha256": packages_sha256([])}))


def finish(process: subprocess.Popen) -> dict:
    stdout, stderr = process.communicate(timeout=900)
    assert process.returncode == 0, stderr[-3000:]
    assert stdout.lstrip().startswith("{"), stdout[:3000]  # Ray's own messages stay off stdout (--json)
    return json.loads(stdout)


def test_ray_verdicts_equal_the_local_pool_and_every_node_is_checked(cluster, tmp_path):
    local = cluster.local
    summary = finish(ray_eval(cluster, tmp_path / "run"))
    assert len(local) == 164 * PER_TASK
    assert verdicts(tmp_path / "run") == local
    assert summary["pass_at_k"]["1"] == 1.0
    nodes = summary["isolation"]["nodes"]
    assert len(nodes) == 2 and {n["workers"] for n in nodes} == {1}
    import codeladder
    from codeladder.envs.executors import sandbox_sha256

    for node in nodes:  # each node's own sandbox, checked before work was sent
        assert node["level"] == "namespaces" and node["codeladder"] == codeladder.__version__
        assert node["sandbox_sha256"] == sandbox_sha256() and node["jobs"] > 0 and not node["lost"]
    assert sum(n["jobs"] for n in nodes) == 164 * PER_TASK
    executor = summary["isolation"]["executor"]
    assert executor["kind"] == "ray" and 50 <= executor["batch_size"] <= 200 and executor["retried_jobs"] == 0
    require_namespaces(summary["isolation"])  # one line where the host refuses them or the run fell back


def test_every_node_runs_the_environment_with_the_drivers_package_hash(cluster, tmp_path):
    make_env(tmp_path / "env")  # the driver's (--env DIR), and each node's own, under its CODELADDER_CACHE
    make_env(cluster.node_cache / "envs" / "tiny")
    summary = finish(ray_eval(cluster, tmp_path / "run", "--env", str(tmp_path / "env"), "--limit", "20"))
    assert summary["pass_at_k"]["1"] == 1.0 and summary["environment"]["name"] == "tiny"
    assert [n["environment_sha256"] for n in summary["isolation"]["nodes"]] == [packages_sha256([])] * 2
    extra = next((cluster.node_cache / "envs" / "tiny").glob("lib/python*/site-packages")) / "extra-1.0.dist-info"
    extra.mkdir()  # the nodes' environment now holds a package the driver's lacks: refused before any work
    process = ray_eval(cluster, tmp_path / "other", "--env", str(tmp_path / "env"), "--limit", "20")
    _, stderr = process.communicate(timeout=900)
    assert process.returncode != 0 and "holds other packages" in stderr and "Traceback" not in stderr, stderr
    assert not (tmp_path / "other" / "results.jsonl").exists() or not (tmp_path / "other" / "results.jsonl").read_text()
    shutil.rmtree(cluster.node_cache / "envs" / "tiny")


HELD = "ladder-held"  # the process name a held sample gives itself (/proc/PID/comm, seen from the host)


def held_samples(path: Path, release: Path) -> None:
    """The canonical completions, each then naming its process HELD and waiting until ``release`` exists: no batch
    can finish before the test says so. ``release`` must be visible in the sandbox (not under /tmp, a private
    tmpfs there)."""
    hold = (f"\nimport os as _os, time as _time\nopen('/proc/self/comm', 'w').write({HELD!r})\n"
            f"while not _os.path.exists({str(release)!r}):\n    _time.sleep(0.01)\n")
    with open(path, "w") as out:
        for task in get_benchmark("humaneval").load():
            for _ in range(PER_TASK):
                out.write(json.dumps({"task_id": task.task_id, "completion": task.reference[len(task.prompt):] + hold})
                          + "\n")


def held_under(ancestor: int) -> list[int]:
    """Held samples running below process ``ancestor`` (a node's ``ray start``: its raylet, actor, sandbox)."""
    found = []
    for pid in descendants(ancestor):
        try:
            if (Path("/proc") / str(pid) / "comm").read_text().strip() == HELD:
                found.append(pid)
        except OSError:
            pass
    return found


def test_a_worker_node_killed_while_it_holds_a_batch_has_it_run_elsewhere_once(cluster, tmp_path):
    """Deterministic: every sample waits for a release file, so the worker node is killed while a sample of its
    batch is running (seen in /proc below the node's process), before it finished any; released afterwards,
    the head runs every job, the worker's batches included, and each sample is written once."""
    worker, local = cluster.worker, cluster.local
    folder = Path(tempfile.mkdtemp(prefix="ladder-release-", dir="/var/tmp"))
    release, samples = folder / "go", tmp_path / "held.jsonl"
    held_samples(samples, release)
    process = ray_eval(cluster, tmp_path / "run", "--timeout", "300", samples=samples)
    try:
        deadline = time.monotonic() + 600
        while not held_under(worker.process.pid):  # the worker node has started a batch, which cannot finish
            assert process.poll() is None, process.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the worker node never started a batch"
            time.sleep(0.05)
        worker.kill()
        assert worker.process.poll() is not None
    finally:
        release.write_text("")
        try:
            summary = finish(process)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    assert verdicts(tmp_path / "run") == local  # every sample exactly once, each verdict the local pool's
    executor, nodes = summary["isolation"]["executor"], summary["isolation"]["nodes"]
    lost = [n for n in nodes if n["lost"]]
    assert executor["lost_nodes"] == len(lost) == 1 and lost[0]["jobs"] == 0  # died holding, finished none
    assert executor["retried_jobs"] >= executor["batch_size"]  # the batch(es) it held went to the head
    assert [n["jobs"] for n in nodes if not n["lost"]] == [164 * PER_TASK]


@pytest.mark.parametrize("args, message, hide_ray", [
    (["--executor", "ray", "--ray-address", "127.0.0.1:{port}"], "nothing answers there", False),
    (["--executor", "ray", "--ray-address", "no-port"], "expected HOST:PORT", False),
    (["--ray-address", "127.0.0.1:6379"], "--ray-address is for --executor ray", False),
    (["--executor", "ray"], "--executor ray needs Ray: pip install 'codeladder[ray]'", True),  # as if not installed
])
def test_bad_ray_input_is_one_line(args, message, hide_ray, tmp_path):
    args = [a.format(port=free_port()) for a in args]
    code = "import sys\nfrom codeladder.cli.main import main\nmain(sys.argv[1:])\n"
    if hide_ray:
        code = "import sys\nsys.modules['ray'] = None\n" + code
    done = subprocess.run([sys.executable, "-c", code, "eval", "humaneval", "--limit", "1", "--output",
                           str(tmp_path / "run"), *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HOME": str(tmp_path), "TMPDIR": str(tmp_path), "COLUMNS": "300"})
    assert done.returncode != 0 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
