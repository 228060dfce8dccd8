"""Hostile and broken samples against the real sandbox (namespaces, rlimits, verdict pipe)."""

import json
import os
import socket
import time
import uuid
from pathlib import Path

import pytest

from conftest import ladder
from host_isolation import host_namespaces, host_pids_cgroup, require_namespaces

from codeladder.sandbox import Job, Limits, SandboxPool, isolation


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(workers=2, limits=Limits(timeout_s=3.0, memory_mb=2048)) as sandbox:
        yield sandbox


@pytest.fixture
def namespaces(request):
    """Fails, never skips: on a host that refuses namespaces, and where the module's pool ran below them."""
    require_namespaces(request.getfixturevalue("pool").isolation if "pool" in request.fixturenames else None)


needs_namespaces = pytest.mark.usefixtures("namespaces")


def run_one(pool: SandboxPool, code: str, timeout: float | None = None):
    (verdict,) = list(pool.run([Job("sample", code, timeout_s=timeout)]))
    return verdict


def test_good_sample_passes(pool):
    verdict = run_one(pool, "def f(x):\n    return x + 1\nassert f(1) == 2\n")
    assert verdict.status == "passed" and verdict.passed


def test_wrong_answer_fails(pool):
    verdict = run_one(pool, "def f(x):\n    return x\nassert f(1) == 2, 'wrong'\n")
    assert verdict.status == "failed"
    assert "AssertionError: wrong" in verdict.detail


def test_syntax_error(pool):
    assert run_one(pool, "def f(:\n    pass\n").status == "syntax_error"


def test_infinite_loop_times_out_within_its_limit(pool):
    started = time.monotonic()
    verdict = run_one(pool, "while True:\n    pass\n", timeout=1.0)
    assert verdict.status == "timeout"
    assert time.monotonic() - started < 3.0


@pytest.mark.parametrize("code", [
    "import sys\nsys.exit(0)\nassert False\n",
    "import os\nos._exit(0)\nassert False\n",
    "raise SystemExit(0)\n",
    "def candidate():\n    raise SystemExit(0)\ncandidate()\n",
    "import atexit, os\natexit.register(lambda: os._exit(0))\nassert False\n",
    "import atexit, sys\natexit.register(lambda: print('passed'))\nsys.exit(0)\n",
    "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
])
def test_early_exits_never_count_as_a_pass(pool, code):
    verdict = run_one(pool, code)
    assert verdict.status == "failed", verdict


@needs_namespaces
@pytest.mark.parametrize("code", [
    "import os\nos.kill(os.getppid(), 9)\nassert False\n",
    "import os\nos.killpg(0, 9)\n",
    "import os\nos.kill(-1, 9)\n",
    "import os\nos.kill(1, 9)\nos.kill(1, 15)\nassert False\n",
])
def test_killing_the_parent_or_group_does_not_take_the_harness_down(pool, code):
    assert run_one(pool, code).status != "passed"
    assert run_one(pool, "assert 1 + 1 == 2\n").status == "passed"  # the same workers still answer


def test_fork_flood_is_contained(pool):
    verdict = run_one(pool, "import os\nwhile True:\n    os.fork()\n", timeout=2.0)
    assert verdict.status != "passed"
    assert run_one(pool, "assert True\n").status == "passed"


def test_huge_allocation_is_oom(pool):
    verdict = run_one(pool, "block = bytearray(6 * 1024 ** 3)\n")
    assert verdict.status == "oom"


def test_two_gib_of_output_is_cut_short(pool):
    started = time.monotonic()
    verdict = run_one(pool, "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(2048):\n    sys.stdout.write(chunk)\n",
                      timeout=20.0)
    assert verdict.status == "failed"
    assert time.monotonic() - started < 15
    assert len(verdict.output_tail) <= 4000


@needs_namespaces
@pytest.mark.parametrize(("loopback", "error"), [(False, "unreachable"), (True, "refused")])
def test_no_network_even_to_the_hosts_loopback(pool, loopback, error):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    code = (f"import socket\ns = socket.socket()\ns.settimeout(2)\ns.connect(('127.0.0.1', {port}))\n"
            "s.sendall(b'leak')\n")
    (verdict,) = list(pool.run([Job("sample", code, loopback=loopback)]))
    assert verdict.status == "failed"
    assert error in verdict.detail.lower()  # a loopback of its own has no such listener
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody connected
    listener.close()
    code = "import urllib.request\nurllib.request.urlopen('http://1.1.1.1', timeout=2)\n"
    (verdict,) = list(pool.run([Job("sample", code, loopback=loopback)]))
    assert verdict.status == "failed"
    assert "unreachable" in verdict.detail.lower()


@needs_namespaces
def test_a_sample_that_asks_may_serve_and_connect_on_a_loopback_of_its_own(pool):
    code = (
        "import socket, threading\n"
        "server = socket.socket()\nserver.bind(('127.0.0.1', 12345))\nserver.listen(1)\n"
        "def echo():\n    conn, _ = server.accept()\n    conn.sendall(conn.recv(100))\n    conn.close()\n"
        "threading.Thread(target=echo).start()\n"
        "client = socket.create_connection(('127.0.0.1', 12345), timeout=5)\nclient.sendall(b'ping')\n"
        "assert client.recv(100) == b'ping'\n")
    (without,) = list(pool.run([Job("sample", code)]))
    assert without.status == "failed" and "unreachable" in without.detail.lower()
    with SandboxPool(workers=1, limits=Limits(timeout_s=5.0)) as single:  # both samples in one worker
        for _ in range(2):  # the port is free again: the first sample's TIME_WAIT socket died with its namespace
            (verdict,) = list(single.run([Job("sample", code, loopback=True)]))
            assert verdict.status == "passed", verdict.detail


def test_parent_environment_is_not_visible():
    os.environ["LADDER_CANARY_SECRET"] = "hunter2"
    try:
        with SandboxPool(workers=1, limits=Limits(timeout_s=3.0)) as fresh:
            code = ("import os\nassert 'LADDER_CANARY_SECRET' not in os.environ\n"
                    "for pid in os.listdir('/proc'):\n"
                    "    if pid.isdigit():\n"
                    "        try:\n"
                    "            assert b'hunter2' not in open(f'/proc/{pid}/environ', 'rb').read()\n"
                    "        except PermissionError:\n"
                    "            pass\n")
            assert run_one(fresh, code).status == "passed"
    finally:
        del os.environ["LADDER_CANARY_SECRET"]


@needs_namespaces
def test_writes_outside_the_sandbox_do_not_persist(pool, tmp_path):
    targets = [tmp_path / "escaped.txt", Path("/tmp") / f"ladder-escape-{uuid.uuid4().hex}",
               Path.home() / f"ladder-escape-{uuid.uuid4().hex}"]
    lines = ["import os"]
    for target in targets:
        lines.append(f"try:\n    open({str(target)!r}, 'w').write('x')\nexcept OSError:\n    pass")
    lines.append("open('inside.txt', 'w').write('fine')\nassert open('inside.txt').read() == 'fine'")
    assert run_one(pool, "\n".join(lines) + "\n").status == "passed"
    for target in targets:
        assert not target.exists(), target


@needs_namespaces
def test_no_sample_sees_the_files_of_the_one_before():
    plant = (
        "import os, stat\n"
        "os.makedirs('/tmp/deep/locked/inner', exist_ok=True)\n"
        "for path in ('/tmp/a.txt', 'b.txt', '/tmp/deep/locked/inner/c.txt', '/dev/shm/d.bin', '/tmp/home/.e'):\n"
        "    open(path, 'w').write('planted')\n"
        "os.chmod('/tmp/deep/locked', 0)\n"
        "os.mkfifo('/tmp/fifo')\n"
        "os.symlink('/etc', '/tmp/link')\n")
    kept = {top: sorted({p[len(top) + 1:].split("/")[0] for p in isolation.interpreter_paths_under()
                         if p.startswith(top + "/")}) for top in ("/tmp", "/dev/shm")}  # e.g. a venv in /tmp
    look = (
        "import os\n"
        "left = {top: sorted(os.listdir(top)) for top in ('/tmp', '/dev/shm')}\n"
        f"assert left == {{'/tmp': sorted(['home', 'work', *{kept['/tmp']!r}]), '/dev/shm': {kept['/dev/shm']!r}}}, left\n"
        "assert os.listdir('.') == [] and os.listdir(os.environ['HOME']) == []\n")
    with SandboxPool(workers=1, limits=Limits(timeout_s=5.0)) as single:
        verdicts = [next(single.run([Job(key, code)])) for key, code in (("plant", plant), ("look", look))]
    assert [v.status for v in verdicts] == ["passed", "passed"], [v.detail for v in verdicts]


def test_isolation_is_recorded_as_this_host_allows(pool):
    """The level and each protection are what the workers observed, and they equal what the host allows:
    namespaces wherever it can create them."""
    can, reason = host_namespaces()
    record = pool.isolation
    assert record["level"] == ("namespaces" if can else "process"), (reason, record)
    assert record["protections"] == {"namespaces": can, "network": can, "read_only_filesystem": can,
                                     "pids_cgroup": host_pids_cgroup()[0], "rlimits": True}, (reason, record)
    assert record["network"].startswith("none" if can else "host") and ("read-only" in record["filesystem"]) is can
    probe = ("import resource\n"  # the rlimits the record claims are the ones a candidate runs under
             "assert resource.getrlimit(resource.RLIMIT_AS) == (2048 << 20, 2048 << 20)\n"
             "assert resource.getrlimit(resource.RLIMIT_FSIZE) == (16 << 20, 16 << 20)\n"
             "assert resource.getrlimit(resource.RLIMIT_CORE) == (0, 0)\n")
    assert run_one(pool, probe).status == "passed"


FLOOD = ("import os, time\nborn = 0\nfor _ in range(40):\n    try:\n        pid = os.fork()\n"
         "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(60)\n        os._exit(0)\n"
         "    born += 1\nprint('born', born)\n")


def test_the_pids_cgroup_is_observed_and_bounds_a_fork_flood():
    """``protections.pids_cgroup`` is true exactly where the limit binds: with ``pids.max=24`` (and RLIMIT_NPROC at
    its hard limit, so only the cgroup can stop it) a sample starts fewer than 24 of its 40 sleepers."""
    import resource

    applied, reason = host_pids_cgroup()
    limits = Limits(timeout_s=10.0, pids_max=24, nproc=resource.getrlimit(resource.RLIMIT_NPROC)[1])
    with SandboxPool(workers=1, limits=limits) as single:
        assert single.isolation["protections"]["pids_cgroup"] is applied, (reason, single.isolation)
        (verdict,) = single.run([Job("flood", FLOOD, capture=True)])
    born = int(verdict.output_tail.split("born")[-1])
    assert (born < 24) is applied and (applied or born == 40), (born, reason)


def test_without_namespaces_the_record_and_eval_say_so(tmp_path):
    """The fallback, on any host: ``process`` level, each protection as observed (the host's loopback is reachable
    from a sample, as the record says), and ``ladder eval`` prints one warning line."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {listener.getsockname()[1]}), timeout=2)\n"
    with SandboxPool(workers=1, isolate=False) as fallback:
        record = fallback.isolation
        assert run_one(fallback, code).status == "passed"  # reached the host's network
    listener.close()
    assert record["level"] == "process" and record["reason"] == "isolation disabled"
    assert record["protections"] == {"namespaces": False, "network": False, "read_only_filesystem": False,
                                     "pids_cgroup": host_pids_cgroup()[0], "rlimits": True}
    for flags, warned in ((["--no-isolate"], True), ([], not host_namespaces()[0])):
        done = ladder("eval", "humaneval", "--limit", "2", "--output", str(tmp_path / str(warned)), *flags)
        warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
        assert len(warnings) == int(warned) and all("'process', below 'namespaces'" in w for w in warnings), done.stderr
        summary = json.loads((tmp_path / str(warned) / "summary.json").read_text())
        assert summary["isolation"]["protections"]["namespaces"] is not warned


def test_missing_module_is_an_error_not_a_fail(pool):
    verdict = run_one(pool, "import ladder_no_such_module_xyz\n")
    assert verdict.status == "error"
    assert "ladder_no_such_module_xyz" in verdict.detail


def test_many_jobs_in_parallel_keep_their_verdicts(pool):
    jobs = [Job(str(i), f"assert {i} % 3 != 0\n") for i in range(60)]
    verdicts = {v.key: v.status for v in pool.run(jobs)}
    assert verdicts == {str(i): ("failed" if i % 3 == 0 else "passed") for i in range(60)}


@needs_namespaces
def test_an_interpreter_living_under_tmp_keeps_its_packages_read_only(tmp_path_factory):
    """A venv created under /tmp (as CI runners do): the sandbox's private /tmp must not hide its packages."""
    import subprocess
    import sys

    venv = Path(f"/tmp/ladder-venv-{uuid.uuid4().hex[:8]}")
    try:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
        python = venv / "bin" / "python"
        site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True).stdout.strip())
        (site / "ladder_probe_pkg.py").write_text("ANSWER = 42\n")
        here = [p for p in sys.path if p and Path(p).is_dir()]
        (site / "parent-env.pth").write_text("\n".join(here) + "\n")  # codeladder and its needs, from this env
        write_code = f"open({str(site / 'planted.py')!r}, 'w').write('x')\n"
        jobs = [("import", "import ladder_probe_pkg\nassert ladder_probe_pkg.ANSWER == 42\n"), ("write", write_code)]
        driver = (
            "from codeladder.sandbox import Job, SandboxPool\n"
            f"jobs = [Job(key, code) for key, code in {jobs!r}]\n"
            "with SandboxPool(workers=1) as pool:\n"
            "    for v in sorted(pool.run(jobs), key=lambda v: v.key):\n"
            "        print(v.key, v.status, v.detail.strip().splitlines()[-1] if v.detail.strip() else '')\n"
        )
        done = subprocess.run([str(python), "-c", driver], capture_output=True, text=True, timeout=120,
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        lines = done.stdout.splitlines()
        assert len(lines) == 2, (done.stdout, done.stderr)
        assert lines[0] == "import passed ", (done.stdout, done.stderr)
        assert lines[1].startswith("write failed") and "Read-only file system" in lines[1], done.stdout
        assert not (site / "planted.py").exists()
    finally:
        import shutil

        shutil.rmtree(venv, ignore_errors=True)


@needs_namespaces
def test_the_checker_is_out_of_the_candidates_reach(pool):
    """The checker lives outside the candidate's PID namespace: no /proc entry, no PID to signal."""
    probe = ("import os\n"
             "mine = os.path.exists('/proc/self/cmdline')\n"
             "seen = [open(f'/proc/{p}/cmdline', 'rb').read() for p in os.listdir('/proc') if p.isdigit()]\n"
             "assert mine and seen, 'the candidate should see its own namespace'\n"
             "assert not any(b'checker_server' in c for c in seen), 'the checker is visible'\n")
    assert run_one(pool, probe).status == "passed"
    worker = pool._workers[0]
    killer = "import os, signal\nfor pid in range(1, 4096):\n    try:\n        os.kill(pid, signal.SIGKILL)\n" \
             "    except OSError:\n        pass\n"
    run_one(pool, killer)
    assert all(w.checker.poll() is None for w in pool._workers) and worker.checker is pool._workers[0].checker


def test_the_candidate_holds_only_its_own_five_descriptors(pool):
    """stdin is /dev/null, stdout and stderr one nameless file, 3 and 4 its two pipes: nothing of the zygote's
    (its job channel, its verdict channel, the checker's socket) reaches the sample."""
    probe = ("import os, stat\n"
             "fds = sorted(int(fd) for fd in os.listdir('/proc/self/fd'))\n"
             "opened = fds[-1]\n"  # listdir's own descriptor, already closed
             "assert fds[:-1] == [0, 1, 2, 3, 4], fds\n"
             "assert os.readlink('/proc/self/fd/0') == '/dev/null'\n"
             "assert os.fstat(1).st_ino == os.fstat(2).st_ino and os.fstat(1).st_nlink == 0\n"
             "assert all(stat.S_ISFIFO(os.fstat(fd).st_mode) for fd in (3, 4))\n")
    verdict = run_one(pool, probe)
    assert verdict.status == "passed", verdict.detail
    assert run_one(pool, probe.replace("[0, 1, 2, 3, 4]", "[0, 1, 2, 3]")).status == "failed"


def test_what_a_sample_prints_is_in_its_output_tail(pool):
    """Prints are flushed before every answer to the checker: the candidate is killed right after its verdict."""
    failing = run_one(pool, "print('before the failure')\nassert False\n")
    assert failing.status == "failed" and "before the failure" in failing.output_tail
    (passing,) = pool.run([Job("sample", "import sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)\n",
                               capture=True)])
    assert passing.passed and "to stdout" in passing.output_tail and "to stderr" in passing.output_tail


@pytest.mark.parametrize("size", [3, 40_000])  # a result inside the reply's head, and one streamed after it
def test_arguments_the_candidate_mutates_come_back_to_the_tests(pool, size):
    """The tests run in the checker against a proxy: a list the solution sorts in place must look sorted there."""
    test = (f"data = list(range({size}, 0, -1))\nresult = f(data)\n"
            f"assert result is None and data == sorted(data) and len(data) == {size}\n")
    spec = {"kind": "script", "proxies": ["f"], "prelude": "", "test": test}
    jobs = [Job(name, code, checker=spec) for name, code in
            (("in-place", "def f(xs):\n    xs.sort()\n"), ("copy", "def f(xs):\n    xs = sorted(xs)\n"))]
    verdicts = {v.key: v for v in pool.run(jobs)}
    assert verdicts["in-place"].passed and verdicts["in-place"].checker == "trusted", verdicts["in-place"].detail
    assert verdicts["copy"].status == "failed"
