"""``ladder analyze``: oracle, failures, compare and history on real runs made by the real sandbox (see
run_factory), with n > 1 so that solved (c >= 1) and rates (c / n) are told apart."""

import shutil
import subprocess
import sys

import pytest

from analysis.run_factory import make_runs, summary, task
from conftest import ladder

from codeladder.analysis import (CompareParams, FailuresParams, HistoryParams, OracleParams, compare, failures,
                                 history, load_runs, oracle)
from codeladder.errors import LadderError


@pytest.fixture(scope="module")
def runs():
    return make_runs()


def one_line_error(done) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) <= 3  # rich may wrap one long line
    return " ".join(lines)


def test_loaded_rates_are_c_over_n_and_equal_the_summary(runs):
    for path in (runs.alpha_standard, runs.alpha_few_shot, runs.beta):
        run = load_runs([path])[0]
        assert run.pass_at_1 == pytest.approx(summary(path)["pass_at_k"]["1"])
    standard = load_runs([runs.alpha_standard])[0]
    assert (standard.tasks[task(4)].n, standard.tasks[task(4)].c) == (3, 1)
    assert standard.tasks[task(4)].solved and standard.tasks[task(7)].rate == pytest.approx(2 / 3)


def test_oracle_is_the_best_per_task_with_unique_wins_per_strategy(runs):
    result = oracle(OracleParams(runs=[str(runs.alpha_standard), str(runs.alpha_few_shot)]))
    assert result["model"] == runs.alpha_model and result["benchmark"] == "humaneval"
    best = {t["task_id"]: t["best_rate"] for t in result["tasks"]}
    assert best[task(4)] == pytest.approx(1 / 3) and best[task(5)] == pytest.approx(1 / 3)
    assert best[task(6)] == 0 and best[task(7)] == 1
    assert result["oracle"]["solved"] == 7 and result["oracle"]["num_tasks"] == 8
    assert result["oracle"]["pass_at_1"] == pytest.approx((4 + 1 / 3 + 1 / 3 + 0 + 1) / 8)
    assert result["unique_wins_by_strategy"] == {"standard": [task(4)], "few-shot": [task(5)]}
    assert result["best_run"]["pass_at_1"] == pytest.approx(summary(runs.alpha_few_shot)["pass_at_k"]["1"])
    assert result["gain_over_best_run"] > 0


def test_oracle_refuses_runs_of_two_models_unless_allowed(runs):
    message = one_line_error(ladder("analyze", "oracle", str(runs.root / "runs"), check=False))
    assert "2 models" in message and "alpha.jsonl" in message and "--allow-mixed" in message
    mixed = oracle(OracleParams(runs=[str(runs.root / "runs")], allow_mixed=True))
    assert sorted(mixed["model"]) == sorted([runs.alpha_model, runs.beta_model])
    assert len(mixed["runs"]) == 3


def test_failures_pool_samples_into_always_pass_borderline_never_solved(runs):
    result = failures(FailuresParams(runs=[str(runs.alpha_standard), str(runs.alpha_few_shot)]))
    assert result["always_pass"] == [task(i) for i in range(4)]
    assert [e["task_id"] for e in result["borderline"]] == [task(4), task(5), task(7)]  # by rate: 1/6, 1/6, 5/6
    assert [(e["c"], e["n"]) for e in result["borderline"]] == [(1, 6), (1, 6), (5, 6)]
    (never,) = result["never_solved"]
    assert never["task_id"] == task(6) and never["status"] == "failed" and never["error"]
    expected: dict[str, int] = {}
    for path in (runs.alpha_standard, runs.alpha_few_shot):
        for status, count in summary(path)["statuses"].items():
            if status != "passed":
                expected[status] = expected.get(status, 0) + count
    assert result["failed_sample_statuses"] == expected == {"failed": 15, "syntax_error": 2}
    assert result["num_samples"] == 48


def test_compare_names_the_tasks_gained_and_lost(runs):
    result = compare(CompareParams(before=str(runs.alpha_standard), after=str(runs.beta)))
    assert result["gained"] == [task(6)]
    assert result["lost"] == [task(3), task(7)]
    assert result["net_solved"] == -1 and result["num_common_tasks"] == 8
    moved = {c["task_id"]: c["delta"] for c in result["rate_changes"]}
    assert moved[task(4)] == pytest.approx(1 - 1 / 3)  # still solved, rate 1/3 -> 1
    table = ladder("analyze", "compare", str(runs.alpha_standard), str(runs.beta)).stdout
    assert "HumanEval/6" in table and "HumanEval/3, HumanEval/7" in table
    assert '<img src=x onerror="alert(1)">beta' in table  # rich printed it as text, not as markup


def test_compare_in_python_equals_the_cli_and_is_antisymmetric(runs):
    forward = compare(CompareParams(before=str(runs.alpha_standard), after=str(runs.beta)))
    backward = compare(CompareParams(before=str(runs.beta), after=str(runs.alpha_standard)))
    assert forward["gained"] == backward["lost"] and forward["lost"] == backward["gained"]
    assert forward["pass_at_1_delta"] == pytest.approx(-backward["pass_at_1_delta"])


def test_history_orders_a_models_runs_and_names_changes(runs):
    result = history(HistoryParams(runs=[str(runs.root / "runs")]))
    groups = {g["model"]: g for g in result["models"]}
    assert set(groups) == {runs.alpha_model, runs.beta_model}
    entries = groups[runs.alpha_model]["runs"]
    assert [e["finished_at"] for e in entries] == sorted(e["finished_at"] for e in entries)
    first, second = entries
    assert first["delta_pass_at_1"] is None
    p1 = {e["path"]: e["pass_at_k"]["1"] for e in entries}
    assert second["delta_pass_at_1"] == pytest.approx(p1[second["path"]] - p1[first["path"]])
    changed = {task(4), task(5)}
    assert set(second["gained"]) | set(second["lost"]) == changed
    only = history(HistoryParams(runs=[str(runs.root / "runs")], model="alpha.jsonl"))
    assert [g["model"] for g in only["models"]] == [runs.alpha_model]
    with pytest.raises(LadderError, match="--model gamma"):
        history(HistoryParams(runs=[str(runs.root / "runs")], model="gamma"))


def test_bad_inputs_are_one_line_naming_the_path_and_the_fix(runs, tmp_path):
    with pytest.raises(LadderError, match="nope: no such run folder.*ladder eval"):
        failures(FailuresParams(runs=[str(tmp_path / "nope")]))
    unfinished = tmp_path / "unfinished"
    shutil.copytree(runs.beta, unfinished)
    (unfinished / "summary.json").unlink()
    with pytest.raises(LadderError, match="unfinished run.*run the same `ladder eval` command again"):
        compare(CompareParams(before=str(runs.beta), after=str(unfinished)))
    damaged = tmp_path / "damaged"
    shutil.copytree(runs.beta, damaged)
    (damaged / "summary.json").write_text("{not json")
    with pytest.raises(LadderError, match="summary.json: not valid JSON"):
        oracle(OracleParams(runs=[str(damaged)]))
    (tmp_path / "empty").mkdir()
    with pytest.raises(LadderError, match="empty: not a run folder"):
        history(HistoryParams(runs=[str(tmp_path / "empty")]))


def test_analysis_and_report_import_no_torch_and_no_backend():
    code = ("import sys, codeladder.analysis, codeladder.report, codeladder.report.html, codeladder.report.markdown, "
            "codeladder.report.collect; print(sorted(sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded = done.stdout
    for name in ("'torch'", "'transformers'", "'llama_cpp'", "'codeladder.backends'", "'codeladder.sandbox'"):
        assert name not in loaded


def test_compare_gives_the_paired_statistics_and_writes_compare_json_for_gates(runs, tmp_path):
    from codeladder.pipeline.gates import metrics, parse_gate, read_results

    result = compare(CompareParams(before=str(runs.alpha_standard), after=str(runs.beta), output=tmp_path / "cmp"))
    paired = result["paired"]
    assert paired["tasks"] == 8 and paired["method"].startswith("paired bootstrap")  # alpha has n = 3
    assert paired["ci95"][0] <= result["delta"] <= paired["ci95"][1] and paired["ci95"][0] < paired["ci95"][1]
    assert result["outcome"] == "no measurable change" and result["gained"] == [task(6)]  # 8 tasks prove nothing
    written = read_results(tmp_path / "cmp")
    found = metrics(written)
    assert parse_gate("outcome_regressed == 0").check(found)["passed"]
    assert not parse_gate("outcome_gained == 1").check(found)["passed"]
    assert found["tasks_gained"] == 2 and found["tasks_lost"] == 2  # rates: 4 and 6 up, 3 and 7 down
    bench = written["benchmark"]
    assert not parse_gate(f"gained({bench})").check(found)["passed"]  # no measurable change is not a gain
    low = written["delta_ci95_low"]
    assert parse_gate(f"not_worse({bench}, {-100 * low + 0.5:.2f}pp)").check(found)["passed"]
    assert not parse_gate(f"not_worse({bench}, {-100 * low - 0.5:.2f}pp)").check(found)["passed"]
    with pytest.raises(LadderError, match="have no 'mbpp-plus.outcome_gained'"):  # another benchmark's comparison
        parse_gate("gained(mbpp-plus)").check(found)
