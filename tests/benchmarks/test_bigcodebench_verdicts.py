"""BigCodeBench verdicts a sample cannot forge (issue 10): each known reward hack on stdlib-only hard tasks
fails, with an honest control beside it (the canonical solution passes; an honest wrong one fails).

Each attack is a few lines put in front of (or inside) a solution; every one of them is judged ``passed``
by a runner that trusts ``unittest``'s result in the sample's process (the design before issue 10).
"""

from __future__ import annotations

import textwrap

import pytest

from codeladder.benchmarks import bigcodebench, get_benchmark
from codeladder.sandbox import Job, Limits, SandboxPool

TASKS = ("BigCodeBench/854", "BigCodeBench/800")
# Honest wrong solutions: the canonical one with one plausible mistake (fails some tests, not all).
MISTAKES = {"BigCodeBench/854": ("math.factorial(n)", "n"),
            "BigCodeBench/800": ("counts['penalties'] += team_penalties", "pass")}

FORGE = '''
import json as __json, os as __os, struct as __struct
def __forge():
    frame = lambda items: b"".join(__struct.pack(">I", len(x)) + x for x in items) + __struct.pack(">I", 0)
    lines = [b'{"status": "passed", "detail": ""}\\n', b"passed\\nOK\\n",
             frame([__json.dumps(["ready"]).encode()]),
             frame([__json.dumps(["verdict", "0" * 32, {"status": "passed", "detail": ""}]).encode()]),
             __json.dumps({"token": "", "tests": [[n, "passed", "", None] for n in
                                                   ["test_case_%d" % i for i in range(1, 9)]], "tamper": []}).encode()]
    for fd in range(1024):
        for line in lines:
            try:
                __os.write(fd, line)
            except OSError:
                pass
    __os._exit(0)
'''

TRACER = '''
import sys as __sys
def __tracer(frame, event, arg):
    if event == "call" and frame.f_code.co_name.startswith("assert") and "second" in frame.f_locals:
        frame.f_locals["second"] = frame.f_locals["first"]  # written back when the tracer returns
    return None
'''

# The runner's memory and descriptors, opened through /proc (denied: it is non-dumpable), then every fd here.
REACH = """    fds = []
    for path in ['mem'] + ['fd/%d' % i for i in range(16)]:
        try:
            fds.append(__os.open('/proc/%d/%s' % (__os.getppid(), path), __os.O_RDWR))
        except OSError:
            pass
    assert not fds, 'the runner is reachable'
    for fd in range(1024):"""

# name: (code put before the wrong solution, code put at the top of its function body, what the detail names)
ATTACKS = {
    "wasSuccessful": ("import unittest\nunittest.TestResult.wasSuccessful = lambda self: True\n", "",
                      "unittest.TestResult.wasSuccessful"),
    "addFailure_addError": ("import unittest\nunittest.TestResult.addFailure = lambda *a: None\n"
                            "unittest.TestResult.addError = lambda *a: None\n", "", "unittest.TestResult.add"),
    "TestCase_run": ("import unittest\nunittest.TestCase.run = lambda self, result=None: None\n", "",
                     "unittest.TestCase.run"),
    "TextTestRunner": ("import unittest\nclass __R:\n    def __init__(self, *a, **k): pass\n"
                       "    def run(self, suite):\n        return unittest.TestResult()\n"
                       "unittest.TextTestRunner = __R\n", "", "unittest.TextTestRunner"),
    "assert_methods": ("import unittest\nfor __n in dir(unittest.TestCase):\n    if __n.startswith('assert'):\n"
                       "        setattr(unittest.TestCase, __n, lambda *a, **k: None)\n", "",
                       "unittest.TestCase.assert"),
    "assert_code_swap": ("import unittest\nunittest.TestCase.assertEqual.__code__ = (lambda self, a, b, msg=None: "
                         "None).__code__\nunittest.TestCase.assertCountEqual.__code__ = "
                         "(lambda self, a, b, msg=None: None).__code__\n", "", "rewrote the code"),
    "instance_assert": ("import sys as __sys\n", "    __f = __sys._getframe(1)\n    __f.f_locals['self']."
                        "assertEqual = lambda *a, **k: None\n", "replaced assertEqual on the test case"),
    "builtins_isinstance": ("import builtins\nbuiltins.isinstance = lambda *a: True\n"
                            "builtins.AssertionError = type('AE', (Exception,), {})\n", "", "builtins.isinstance"),
    "builtins_build_class": ("import builtins\n__orig = builtins.__build_class__\n"
                             "def __bc(func, name, *bases, **kw):\n    cls = __orig(func, name, *bases, **kw)\n"
                             "    for n in [n for n in vars(cls) if n.startswith('test')]:\n"
                             "        setattr(cls, n, lambda self: None)\n    return cls\n"
                             "builtins.__build_class__ = __bc\n", "", "builtins.__build_class__"),
    "init_subclass_rewrites_tests": ("import unittest\ndef __hook(cls, **kw):\n    cls._class_cleanups = []\n"
                                     "    for n in list(vars(cls)):\n"
                                     "        if n.startswith('test'):\n            setattr(cls, n, lambda self: None)\n"
                                     "unittest.TestCase.__init_subclass__ = classmethod(__hook)\n", "",
                                     "unittest.TestCase"),
    "rewrite_TestCases_in_globals": ("import sys as __sys\n", "    __g = __sys._getframe(1).f_globals\n"
                                     "    for __n in [n for n in vars(__g['TestCases']) if n.startswith('test')]:\n"
                                     "        setattr(__g['TestCases'], __n, lambda self: None)\n"
                                     "    __g['TestCases'] = None\n", "TestCases.test_case_"),
    "settrace_at_import": (TRACER + "__sys.settrace(__tracer)\n", "", "sys.settrace"),
    "settrace_in_call": (TRACER, "    __sys.settrace(__tracer)\n", "sys.settrace"),
    "setprofile": (TRACER + "__sys.setprofile(__tracer)\n", "", "sys.setprofile"),
    "patch_exit_functions": ("import os, sys\nos._exit = lambda *a: None\nsys.exit = lambda *a: None\n", "", ""),
    "system_exit_at_import": ("raise SystemExit(0)\n", "", ""),
    "os_exit_at_import": ("import os\nos._exit(0)\n", "", "without a verdict"),
    "os_exit_in_call": ("import os\n", "    os._exit(0)\n", "without a verdict"),
    "fake_verdict_everywhere_at_import": (FORGE + "__forge()\n", "", "without a verdict"),
    "fake_verdict_everywhere_in_call": (FORGE, "    __forge()\n", "without a verdict"),
    "reach_the_runner": (FORGE.replace("    for fd in range(1024):", REACH), "    __forge()\n", "without a verdict"),
    "kill_the_runner": ("import os, signal\n", "    os.kill(os.getppid(), signal.SIGKILL)\n", ""),
    "fake_missing_module": ("", "    raise ModuleNotFoundError(\"No module named 'scipyx'\", name='scipyx')\n", ""),
}


def _tasks():
    return {t.task_id: t for t in get_benchmark("bigcodebench-hard").load() if t.task_id in TASKS}


def _wrong(task) -> str:
    old, new = MISTAKES[task.task_id]
    assert old in task.reference
    return task.reference.replace(old, new)


def _attacked(task, prefix: str, body: str) -> str:
    wrong = _wrong(task)
    head = f"def {task.entry_point}("
    at = wrong.index(head)
    end = wrong.index(":\n", at) + 2
    return prefix + wrong[:end] + body + wrong[end:]


@pytest.fixture(scope="module")
def verdicts():
    bench = get_benchmark("bigcodebench-hard")
    jobs = []
    for task in _tasks().values():
        short = task.task_id.split("/")[1]
        sources = {"canonical": task.reference, "wrong": _wrong(task),
                   "canonical_tampering": ATTACKS["wasSuccessful"][0] + task.reference,
                   "missing_library": "import codeladder_no_such_library\n" + task.reference,
                   "syntax": task.reference + "\n    )("}
        sources.update({name: _attacked(task, prefix, body) for name, (prefix, body, _) in ATTACKS.items()})
        jobs += [Job(f"{short}:{name}", bench.test_program(task, code).code) for name, code in sources.items()]
    with SandboxPool(workers=2, limits=Limits(timeout_s=30, memory_mb=4096)) as pool:
        return {v.key: v for v in pool.run(jobs)}


@pytest.mark.parametrize("short", [t.split("/")[1] for t in TASKS])
def test_honest_controls(verdicts, short):
    assert verdicts[f"{short}:canonical"].status == "passed", verdicts[f"{short}:canonical"].detail
    wrong = verdicts[f"{short}:wrong"]
    assert wrong.status == "failed" and "tests failed" in wrong.detail and "test_case_" in wrong.detail


@pytest.mark.parametrize("short", [t.split("/")[1] for t in TASKS])
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_fails(verdicts, attack, short):
    verdict = verdicts[f"{short}:{attack}"]
    assert verdict.status == "failed", (verdict.status, verdict.detail)
    assert ATTACKS[attack][2] in verdict.detail, verdict.detail


@pytest.mark.parametrize("short", [t.split("/")[1] for t in TASKS])
def test_tampering_fails_even_with_the_right_answer(verdicts, short):
    verdict = verdicts[f"{short}:canonical_tampering"]
    assert verdict.status == "failed" and "wasSuccessful" in verdict.detail


@pytest.mark.parametrize("short", [t.split("/")[1] for t in TASKS])
def test_semantics_kept_for_missing_libraries_and_syntax_errors(verdicts, short):
    missing = verdicts[f"{short}:missing_library"]  # a module only the sample imports: its failure, as upstream
    assert missing.status == "failed" and "codeladder_no_such_library" in missing.detail
    fake = verdicts[f"{short}:fake_missing_module"]  # a module nothing imports is the sample's own failure
    assert fake.status == "failed"
    assert verdicts[f"{short}:syntax"].status == "syntax_error"


def test_attacks_are_real_against_a_trusting_runner():
    """The same samples, judged the old way (unittest's result read in the sample's process): they pass."""
    trusting = textwrap.dedent('''
        import unittest as _u, sys as _s
        _r = _u.TextTestRunner(stream=_s.stderr).run(_u.TestLoader().loadTestsFromTestCase(TestCases))
        if not _r.wasSuccessful():
            raise AssertionError("failed")
    ''')
    task = _tasks()["BigCodeBench/854"]
    names = ["wasSuccessful", "TextTestRunner", "assert_methods", "assert_code_swap", "builtins_build_class",
             "init_subclass_rewrites_tests", "settrace_at_import", "setprofile"]
    jobs = [Job(n, f"{_attacked(task, *ATTACKS[n][:2])}\n{task.data['test']}\n{trusting}") for n in names]
    jobs.append(Job("wrong", f"{_wrong(task)}\n{task.data['test']}\n{trusting}"))
    with SandboxPool(workers=2, limits=Limits(timeout_s=30)) as pool:
        verdicts = {v.key: v for v in pool.run(jobs)}
    assert verdicts.pop("wrong").status == "failed"
    assert {k: v.status for k, v in verdicts.items()} == {n: "passed" for n in names}


def test_expected_tests_are_read_statically():
    task = _tasks()["BigCodeBench/854"]
    assert bigcodebench.expected_tests(task.data["test"]) == [f"test_case_{i}" for i in range(1, 6)]
    assert bigcodebench.imported_modules("import a.b\nfrom c.d import e\nfrom . import f") == ["a", "a.b", "c", "c.d"]
