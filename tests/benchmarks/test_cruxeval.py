"""CRUXEval: predictions judged by execution in the real sandbox, the answer kept from the candidate."""

import json

import pytest

from codeladder.benchmarks import get_benchmark
from codeladder.evaluate import EvalParams, evaluate
from codeladder.sandbox import Job, Limits, SandboxPool
from benchmarks.test_benchmarks import run_references


def judge(name: str, predictions: dict[str, str]) -> dict[str, tuple[str, str]]:
    bench = get_benchmark(name)
    tasks = {t.task_id: t for t in bench.load()}
    jobs = []
    for key, prediction in predictions.items():
        program = bench.test_program(tasks[key.split("#")[0]], prediction)
        jobs.append(Job(key, program.code, program.payload, None, checker=program.checker))
    with SandboxPool(workers=2, limits=Limits(timeout_s=5, memory_mb=1024)) as pool:
        return {v.key: (v.status, v.detail) for v in pool.run(jobs)}


@pytest.mark.parametrize("name", ["cruxeval-o", "cruxeval-i"])
def test_the_datasets_own_answers_all_pass(name):
    statuses = run_references(name)  # all 800: about 3 s
    assert len(statuses) == 800
    assert set(statuses.values()) == {"passed"}


def test_output_predictions_compare_by_value_not_text():
    verdicts = judge("cruxeval-o", {
        "sample_1#spaced": "{1: None, 2: None}",  # the reference output is {1: None, 2: None}
        "sample_1#wrong": "{1: None}",
        "sample_1#calls-f": "f([1, 1, 2])",
        "sample_1#raises": "1 / 0",
        "sample_1#syntax": "{1: None",
        # an object that says it equals anything arrives as its plain value, or cannot cross at all
        "sample_1#liar": "type('L', (dict,), {'__eq__': lambda s, o: True})()",
        "sample_1#liar-object": "type('L', (), {'__eq__': lambda s, o: True})()",
    })
    assert get_benchmark("cruxeval-o").load()[1].data["output"] == "{1: None, 2: None}"
    assert verdicts["sample_1#spaced"][0] == "passed"
    assert {k: v[0] for k, v in verdicts.items() if k != "sample_1#spaced"} == {
        "sample_1#wrong": "failed", "sample_1#calls-f": "failed", "sample_1#raises": "failed",
        "sample_1#syntax": "syntax_error", "sample_1#liar": "failed", "sample_1#liar-object": "failed"}
    assert "calls f" in verdicts["sample_1#calls-f"][1]


def test_input_predictions_run_f_and_any_input_that_gives_the_output_counts():
    bench = get_benchmark("cruxeval-i")
    task = bench.load()[0]  # f counts each number: the row's input is [1, 1, 3, 1, 3, 1]
    verdicts = judge("cruxeval-i", {
        "sample_0#reference": task.reference,
        "sample_0#another-input": "f([3, 1, 1, 3, 1, 1])",  # another order, the same output
        "sample_0#wrong": "f([])",
        "sample_0#not-a-call": task.data["output"],
        "sample_0#wrapped": f"f([]) or {task.data['output']}",
        "sample_0#rebinds": "f(globals().update(f=lambda *a: None))",
        "sample_0#dunder": "f(().__class__)",
    })
    assert verdicts["sample_0#reference"][0] == "passed"
    assert verdicts["sample_0#another-input"][0] == "passed"
    assert verdicts["sample_0#wrong"][0] == "failed"
    assert verdicts["sample_0#not-a-call"] == ("failed", "the input prediction must be a call f(...)")
    assert verdicts["sample_0#wrapped"] == ("failed", "the input prediction must be a call f(...)")
    assert verdicts["sample_0#rebinds"][0] == "failed" and "'globals'" in verdicts["sample_0#rebinds"][1]
    assert verdicts["sample_0#dunder"][0] == "failed"


def test_input_arguments_may_read_the_rows_module_names_but_not_change_them():
    verdicts = judge("cruxeval-i", {  # sample_258 defines thigh_o_two = [1, 2, 7, 9] before f
        "sample_258#reads": "f(thigh_o_two[:], 3, 3, 2)",
        "sample_258#mutates": "f((thigh_o_two.clear(), [1, 2, 7, 9])[1], 3, 3, 2)"})
    assert verdicts["sample_258#reads"][0] == "passed"
    assert verdicts["sample_258#mutates"][0] == "failed" and "thigh_o_two" in verdicts["sample_258#mutates"][1]


def test_the_expected_output_never_reaches_the_candidate():
    bench = get_benchmark("cruxeval-o")
    for task in bench.load()[:50]:
        program = bench.test_program(task, "None")
        if task.data["output"] not in task.data["code"]:
            assert task.data["output"] not in program.code
        assert program.checker["expected"] == task.data["output"]


@pytest.mark.parametrize(("raw", "side", "answer", "method"), [
    ("assert f(17) == 17\n", "output", "17", "assertion"),
    ("Let's see.\n[THOUGHT]x[/THOUGHT]\n[ANSWER]\nassert f('a') == 'ab'\n[/ANSWER] trailing", "output", "'ab'",
     "answer-tag"),
    ("[ANSWER]\nassert f([1,\n  2]) == [\n  3,\n  4]\n[/ANSWER]", "output", "[3, 4]", "answer-tag"),
    ("<think>assert f(1) == 9</think>assert f(2) == 4", "output", "4", "assertion"),
    ("[ANSWER]\nassert f(\"ba\", \"nana\") == \"banana\"\n[/ANSWER]", "input", "f('ba', 'nana')", "answer-tag"),
    ("f(16) == 17", "input", "f(16)", "text"),
    ("```python\nassert f(x=3) == 4\n```", "input", "f(x=3)", "assertion"),
])
def test_answers_are_read_from_answer_tags_or_the_last_assertion(raw, side, answer, method):
    bench = get_benchmark(f"cruxeval-{side[0]}")
    assert bench.answer(raw) == (answer, method)


def test_eval_scores_raw_model_text_from_a_samples_file(tmp_path):
    bench = get_benchmark("cruxeval-o")
    tasks = bench.load()[:3]
    path = tmp_path / "samples.jsonl"
    rows = [{"task_id": tasks[0].task_id, "completion": f"assert f(1) == {tasks[0].data['output']}\n[/ANSWER]"},
            {"task_id": tasks[1].task_id, "completion": "[ANSWER]\nassert f(1) == 'surely not'\n[/ANSWER]"},
            {"task_id": tasks[2].task_id, "solution": tasks[2].data["output"]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = evaluate(EvalParams(benchmark="cruxeval-o", samples=str(path), output=str(tmp_path / "run"),
                                  workers=2))
    assert summary["num_tasks"] == 3 and summary["pass_at_k"]["1"] == pytest.approx(2 / 3)
    assert summary["checkers"] == {"trusted": 3, "in-process": 0}


def test_cot_strategy_uses_the_papers_chain_of_thought_prompt():
    bench = get_benchmark("cruxeval-i")
    task = bench.load()[0]
    direct, _ = bench.own_prompt(task, "standard")
    cot, _ = bench.own_prompt(task, "cot")
    assert direct.endswith("[/PYTHON]\n[ANSWER]\n") and cot.endswith("[/PYTHON]\n[THOUGHT]\n")
    assert f"assert f(??) == {task.data['output']}" in direct
