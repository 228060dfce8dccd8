"""Every benchmark loads offline from checksummed data, and its reference solutions pass in the real sandbox."""

import ast
import sys
import importlib.util
import shutil

import pytest

from codeladder.benchmarks import BENCHMARKS, get_benchmark
from codeladder.benchmarks.base import entry_point_from_assert
from codeladder.errors import LadderError
from codeladder.sandbox import Job, Limits, SandboxPool

EXPECTED_SIZES = {"humaneval": 164, "humaneval-plus": 164, "mbpp": 500, "mbpp-sanitized": 257, "mbpp-plus": 378,
                  "mbpp-train": 320,
                  "bigcodebench": 1140, "bigcodebench-hard": 148, "cruxeval-o": 800, "cruxeval-i": 800,
                  "humaneval-infill-single": 1033, "humaneval-infill-multi": 5815, "humaneval-infill-span": 1640,
                  "humaneval-infill-span-light": 164}


def run_references(name: str, solutions: dict[str, str] | None = None) -> dict[str, str]:
    bench = get_benchmark(name)
    tasks = bench.load()
    bench.prepare(workers=2)
    jobs = []
    for task in tasks:
        program = bench.test_program(task, (solutions or {}).get(task.task_id, task.reference))
        timeout = max(bench.default_timeout_s, program.timeout_s or 0)
        jobs.append(Job(task.task_id, program.code, program.payload, timeout, checker=program.checker))
    limits = Limits(timeout_s=bench.default_timeout_s, memory_mb=bench.default_memory_mb)
    with SandboxPool(workers=2, limits=limits) as pool:
        return {v.key: v.status for v in pool.run(jobs)}


def test_registry_names_are_the_cli_names():
    assert set(BENCHMARKS.names()) == set(EXPECTED_SIZES) | {"livecodebench"}  # its data: the user's (--data)


@pytest.mark.parametrize("name", sorted(EXPECTED_SIZES))
def test_loads_offline_with_expected_size(name):
    tasks = get_benchmark(name).load()
    assert len(tasks) == EXPECTED_SIZES[name]
    assert len({t.task_id for t in tasks}) == len(tasks)
    for task in tasks:
        ast.parse(task.reference)
        assert task.entry_point


def test_mbpp_is_the_test_split():
    ids = [int(t.task_id.split("/")[1]) for t in get_benchmark("mbpp").load()]
    assert ids == list(range(11, 511))


def test_entry_point_comes_from_the_assertion_by_ast():
    assert entry_point_from_assert("assert set(similar_elements((3, 4), (4, 5))) == set((4,))") == "similar_elements"
    assert entry_point_from_assert("assert math.isclose(area(2), 12.56, rel_tol=0.01)") == "area"
    assert entry_point_from_assert("assert  remove_Occ('hello','l') == 'heo' ") == "remove_Occ"


def test_corrupt_data_is_refused_with_one_clear_line(tmp_path, monkeypatch):
    bench = get_benchmark("mbpp")
    broken = tmp_path / bench.data_file
    shutil.copy(bench.data_path(), broken)
    with open(broken, "a") as f:
        f.write("\n")
    monkeypatch.setattr(type(bench), "data_path", lambda self: broken)
    with pytest.raises(LadderError, match="sha256"):
        bench.load()


@pytest.mark.parametrize("name", ["humaneval", "mbpp", "mbpp-sanitized", "humaneval-plus", "mbpp-plus"])
def test_reference_solutions_all_pass(name):
    statuses = run_references(name)
    assert set(statuses.values()) == {"passed"}, {k: v for k, v in statuses.items() if v != "passed"}


def test_known_wrong_samples_fail():
    bench = get_benchmark("humaneval")
    tasks = bench.load()[:10]
    wrong = {t.task_id: t.prompt + "    return None\n" for t in tasks}
    with SandboxPool(workers=2, limits=Limits(timeout_s=5)) as pool:
        programs = {t.task_id: bench.test_program(t, wrong[t.task_id]) for t in tasks}
        jobs = [Job(k, p.code, checker=p.checker) for k, p in programs.items()]
        assert {(v.status, v.checker) for v in pool.run(jobs)} == {("failed", "trusted")}


def test_evalplus_catches_what_base_tests_miss():
    # HumanEval/0 with a threshold bug that the 7 base asserts miss but plus inputs expose
    bench = get_benchmark("humaneval-plus")
    task = bench.load()[0]
    sloppy = task.prompt + (
        "    for i in range(len(numbers)):\n"
        "        for j in range(i + 1, len(numbers)):\n"
        "            if abs(numbers[i] - numbers[j]) <= threshold:\n"
        "                return True\n"
        "    return False\n")
    program = bench.test_program(task, sloppy)
    with SandboxPool(workers=1, limits=Limits(timeout_s=30)) as pool:
        (verdict,) = pool.run([Job(task.task_id, program.code, program.payload, checker=program.checker)])
    assert verdict.status == "failed"
    assert verdict.extra["phase"] == "plus" and verdict.extra["base_passed"] is True


def test_raising_on_a_plus_input_still_passes_base():
    """EvalPlus's base verdict: a sample that raises only on plus inputs passed the base tests (Mbpp/62)."""
    bench = get_benchmark("mbpp-plus")
    task = next(t for t in bench.load() if t.task_id == "Mbpp/62")
    base = [args[0] for args in task.data["base_input"]]
    picky = (f"def smallest_num(xs):\n    if xs not in {base!r}:\n        raise ValueError('unseen input')\n"
             "    return min(xs)\n")
    program = bench.test_program(task, picky)
    with SandboxPool(workers=1, limits=Limits(timeout_s=30)) as pool:
        (verdict,) = pool.run([Job(task.task_id, program.code, checker=program.checker)])
    assert verdict.status == "failed" and verdict.extra["phase"] == "plus"
    assert verdict.extra["base_passed"] is True


@pytest.mark.parametrize("task_id, body, verdict", [
    # HumanEval+/42's plus outputs: a list of floats (input 3) before mixed int/float lists (106 on)
    ("HumanEval/42", "    return [(x + 1) * (1 + 1e-12) if isinstance(x, float) else x + 1 for x in l]\n",
     ("passed", None)),
    ("HumanEval/42", "    return [x + 1.001 if isinstance(x, float) else x + 1 for x in l]\n", ("failed", "plus")),
    # HumanEval+/30's: a mixed list (plus input 107) before any list of floats (304): exact there
    ("HumanEval/30", "    return [x * (1 + 1e-12) if isinstance(x, float) else x for x in l if x > 0]\n",
     ("failed", "plus")),
    # HumanEval+/34's: sticky from plus input 5, but np.allclose raises on a list holding an int beyond
    # 64 bits (plus input 145: -5555555555555555555555), so EvalPlus fails the sample there
    ("HumanEval/34", "    return [x * (1 + 1e-12) if isinstance(x, float) else x for x in sorted(set(l))]\n",
     ("failed", "plus")),
])
def test_float_tolerance_sticks_for_the_rest_of_the_phase_as_in_evalplus(task_id, body, verdict):
    """EvalPlus 0.3.1 turns atol 0 into 1e-6 at a phase's first float output and keeps it for the phase's
    later inputs, mixed lists included: its verdicts on these samples (checked against it: pass/pass,
    pass/fail, pass/fail, pass/fail)."""
    bench = get_benchmark("humaneval-plus")
    task = next(t for t in bench.load() if t.task_id == task_id)
    program = bench.test_program(task, task.prompt + body)
    with SandboxPool(workers=1, limits=Limits(timeout_s=60)) as pool:
        (got,) = pool.run([Job(task.task_id, program.code, program.payload, program.timeout_s,
                               checker=program.checker)])
    assert (got.status, got.extra.get("phase")) == verdict, got.detail
    assert got.passed or got.extra["base_passed"] is True


def test_mbpp_tasks_that_cannot_be_split_say_so():
    bench = get_benchmark("mbpp")
    kinds = {t.task_id: bench.test_program(t, t.reference).checker["kind"] for t in bench.load()}
    assert {k for k, v in kinds.items() if v == "in-process"} == {"Mbpp/367"}


def test_bigcodebench_missing_library_is_error():
    bench = get_benchmark("bigcodebench")
    task = next((t for t in bench.load()
                 if any(importlib.util.find_spec(lib) is None for lib in ast.literal_eval(t.data["libs"]))), None)
    if task is None:
        pytest.skip("every BigCodeBench library is installed here")
    program = bench.test_program(task, task.reference)
    with SandboxPool(workers=1, limits=Limits(timeout_s=60, memory_mb=4096)) as pool:
        (verdict,) = pool.run([Job(task.task_id, program.code, program.payload)])
    assert verdict.status == "error"
    assert "missing module" in verdict.detail


def test_bigcodebench_references_pass_where_their_libraries_are_here():
    """The first 20 hard tasks that declare only standard-library modules (so the test depends on no library
    that happens to be installed): their reference solutions pass their unittest suites, and anything else is
    explained (a library the test needs but does not declare)."""
    bench = get_benchmark("bigcodebench-hard")
    tasks = [t for t in bench.load()
             if all(lib in sys.stdlib_module_names for lib in ast.literal_eval(t.data["libs"]))][:20]
    assert len(tasks) == 20
    wrong = tasks[0].data["code_prompt"] + "    raise NotImplementedError\n"
    jobs = [Job(t.task_id, bench.test_program(t, t.reference).code) for t in tasks]
    jobs.append(Job("wrong", bench.test_program(tasks[0], wrong).code))
    with SandboxPool(workers=2, limits=Limits(timeout_s=20, memory_mb=4096)) as pool:
        verdicts = {v.key: v for v in pool.run(jobs)}
    assert verdicts.pop("wrong").status == "failed"
    passed = [k for k, v in verdicts.items() if v.status == "passed"]
    assert len(passed) >= 16, {k: (v.status, v.detail[-120:]) for k, v in verdicts.items() if v.status != "passed"}
    for verdict in verdicts.values():
        if verdict.status == "error":
            assert "missing module" in verdict.detail


@pytest.mark.parametrize(("slow_calls", "status"), [((10,), "timeout"), ((3, 9, 12), "passed")])
def test_each_plus_input_keeps_its_own_time_limit_while_calls_are_pipelined(slow_calls, status):
    # HumanEval/0: 7 base inputs, each under max(1 s, 4 x reference): 1.5 s on one input is a timeout there;
    # 0.7 s on three inputs (2.1 s in all) passes, since no one input exceeds its limit
    bench = get_benchmark("humaneval-plus")
    task = bench.load()[0]
    delay = 1.5 if status == "timeout" else 0.7
    solution = task.prompt.replace("from typing import List", "import time\nfrom typing import List\n_calls = [0]") + (
        "    _calls[0] += 1\n"
        f"    if _calls[0] in {slow_calls!r}:\n"
        f"        time.sleep({delay})\n"
        "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n")
    bench.prepare(workers=1)
    program = bench.test_program(task, solution)
    with SandboxPool(workers=1, limits=Limits(timeout_s=30)) as pool:
        (verdict,) = pool.run([Job(task.task_id, program.code, program.payload, checker=program.checker)])
    assert verdict.status == status, verdict.detail
    if status == "timeout":
        assert verdict.extra["phase"] == "plus" and "[plus input 2]" in verdict.detail
