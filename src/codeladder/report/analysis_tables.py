"""The analysis verbs' results (``ladder analyze …``) as :class:`Table` objects, for the terminal and reports.

Each function takes the JSON-ready dict its verb returns, so ``--json`` and the table always show the same
numbers.
"""

from __future__ import annotations

from codeladder.report.tables import DASH, Cell, Table, ci_text, date_text, ids_text, percent, signed_points


def _model_text(model: str | list) -> str:
    return ", ".join(model) if isinstance(model, list) else model


def oracle_tables(result: dict) -> list[Table]:
    runs = Table(f"Oracle: {_model_text(result['model'])} on {result['benchmark']}",
                 ["run", "strategy", "tasks", "pass@1", "solved", "unique wins", "tasks only it solves"],
                 key="oracle-runs", numeric=frozenset({2, 3, 4, 5}))
    for run in result["runs"]:
        runs.add(run["label"], run["strategy"], str(run["num_tasks"]),
                 Cell(percent(run["pass_at_1"]), {"value": repr(run["pass_at_1"])}), str(run["solved"]),
                 str(len(run["unique_wins"])), ids_text(run["unique_wins"]))
    oracle = result["oracle"]
    runs.add(Cell("oracle (best per task)"), "—", str(oracle["num_tasks"]),
             Cell(percent(oracle["pass_at_1"]), {"value": repr(oracle["pass_at_1"])}), str(oracle["solved"]), DASH,
             DASH)
    runs.note = (f"oracle pass@1 {percent(oracle['pass_at_1'])} vs best run {percent(result['best_run']['pass_at_1'])}"
                 f" ({signed_points(result['gain_over_best_run'])}); solved {oracle['solved']}/{oracle['num_tasks']}")
    strategies = Table("Unique wins per strategy", ["strategy", "unique wins", "tasks"], key="oracle-strategies",
                       numeric=frozenset({1}))
    for strategy, tasks in result["unique_wins_by_strategy"].items():
        strategies.add(strategy, str(len(tasks)), ids_text(tasks))
    return [runs, strategies]


def failures_tables(result: dict) -> list[Table]:
    counts = Table(f"Failures: {_model_text(result['model'])} on {result['benchmark']}",
                   ["category", "tasks", "share", "task ids"], key="failure-counts", numeric=frozenset({1, 2}),
                   note=f"{result['num_samples']} samples over {result['num_tasks']} tasks from "
                        f"{len(result['runs'])} run(s); solved = at least one passing sample")
    total = result["num_tasks"] or 1
    listed = {"always_pass": result["always_pass"],
              "borderline": [e["task_id"] for e in result["borderline"]],
              "never_solved": [e["task_id"] for e in result["never_solved"]]}
    for kind, tasks in listed.items():
        counts.add(kind.replace("_", "-"), str(len(tasks)), percent(len(tasks) / total, 1), ids_text(tasks))
    detail = Table("Borderline and never-solved tasks", ["task", "category", "passed / samples", "rate",
                                                         "usual failure", "example error"],
                   key="failure-tasks", numeric=frozenset({2, 3}))
    for kind in ("borderline", "never_solved"):
        for e in result[kind]:
            detail.add(e["task_id"], kind.replace("_", "-"), f"{e['c']} / {e['n']}", percent(e["rate"], 1),
                       e.get("status", DASH), e.get("error") or DASH)
    statuses = Table("Failing samples by status", ["status", "samples"], key="failure-statuses",
                     numeric=frozenset({1}))
    for status, count in result["failed_sample_statuses"].items():
        statuses.add(status, str(count))
    return [counts, detail, statuses]


def cutoff_table(split: dict, title: str) -> Table:
    """One run's pass@1 up to and after a cutoff, and the difference (``analysis.cutoff.split_run``)."""
    table = Table(title, ["tasks published", "tasks", "pass@1", "95% CI"], key="cutoff", numeric=frozenset({1, 2}))
    for name in ("up_to_cutoff", "after_cutoff"):
        side = split[name]
        label = f"{'on or before' if name == 'up_to_cutoff' else 'after'} {split['cutoff']}"
        table.add(label, str(side["tasks"]), percent(side["pass_at_1"]) if side["tasks"] else DASH,
                  ci_text(side["ci95"]) if side["tasks"] else DASH)
    difference = split["after_minus_up_to"]
    table.note = (f"after minus up to: {signed_points(difference['delta'])} {ci_text(difference['ci95'])}, "
                  f"{difference['signal']}" if "delta" in difference else difference["signal"])
    return table


def compare_tables(result: dict) -> list[Table]:
    if "before" not in result:  # one run split at a cutoff
        return [cutoff_table(result, f"{result['benchmark']} split at {result['cutoff']}: {result['run']}")]
    a, b = result["before"], result["after"]
    head = Table(f"Compare on {result['benchmark']} ({result['num_common_tasks']} common tasks)",
                 ["", "before", "after", "change"], key="compare", numeric=frozenset({3}))
    head.add("run", a["path"], b["path"], "")
    head.add("model · strategy", f"{a['model']} · {a['strategy']}", f"{b['model']} · {b['strategy']}", "")
    head.add("pass@1 (common tasks)", percent(a["pass_at_1_common"]), percent(b["pass_at_1_common"]),
             signed_points(result["pass_at_1_delta"]))
    head.add("95% CI (whole run)", ci_text(a["ci95"]), ci_text(b["ci95"]), "")
    head.add("solved", str(a["solved_common"]), str(b["solved_common"]), f"{result['net_solved']:+d}")
    interval = ci_text([result["delta_ci95_low"], result["delta_ci95_high"]])
    head.note = (f"paired: {signed_points(result['delta'])} {interval}"
                 f" on {result['tasks']} tasks, p {result['p_value']:.3g}: {result['outcome']}"
                 if result.get("p_value") is not None else f"paired: {result['outcome']}")
    tasks = Table("Tasks gained and lost", ["change", "tasks", "task ids"], key="compare-tasks",
                  numeric=frozenset({1}))
    tasks.add("gained (solved only after)", str(len(result["gained"])), ", ".join(result["gained"]) or DASH)
    tasks.add("lost (solved only before)", str(len(result["lost"])), ", ".join(result["lost"]) or DASH)
    moved = [c for c in result["rate_changes"] if c["task_id"] not in set(result["gained"]) | set(result["lost"])]
    tasks.add("rate changed, still solved", str(len(moved)),
              ids_text([f"{c['task_id']} ({signed_points(c['delta'])})" for c in moved], 20))
    if result["only_before"] or result["only_after"]:
        tasks.add("not compared (in one run only)", str(len(result["only_before"]) + len(result["only_after"])),
                  ids_text(result["only_before"] + result["only_after"]))
    tables = [head, tasks]
    split = result.get("by_cutoff")
    if split:
        tables += [cutoff_table(split[side], f"{side} split at {split['cutoff']}") for side in ("before", "after")]
        paired = Table(f"Paired on each side of {split['cutoff']}", ["tasks published", "tasks", "delta", "95% CI",
                                                                      "outcome"], key="cutoff-paired",
                       numeric=frozenset({1, 2}))
        for name, label in (("up_to_cutoff", "on or before"), ("after_cutoff", "after")):
            side = split["paired"][name]
            paired.add(f"{label} {split['cutoff']}", str(side["tasks"]), signed_points(side["delta"]),
                       ci_text(side["ci95"]), side["outcome"])
        tables.append(paired)
    return tables


def history_tables(result: dict) -> list[Table]:
    tables = []
    for group in result["models"]:
        ks = sorted({k for entry in group["runs"] for k in entry["pass_at_k"]}, key=int)
        table = Table(f"History: {group['model']} on {group['benchmark']}",
                      ["date", "strategy", "backend", "tasks", *[f"pass@{k}" for k in ks], "95% CI", "Δ pass@1",
                       "gained", "lost", "lineage", "run"], key="history",
                      numeric=frozenset(range(3, 6 + len(ks))))
        for entry in group["runs"]:
            table.add(date_text(entry["finished_at"]), entry["strategy"], entry["backend"], str(entry["num_tasks"]),
                      *[percent(entry["pass_at_k"].get(k)) for k in ks], ci_text(entry["ci95"]),
                      signed_points(entry["delta_pass_at_1"]), ids_text(entry["gained"], 6),
                      ids_text(entry["lost"], 6), " → ".join(entry["lineage_stages"]) or DASH, entry["path"])
        tables.append(table)
    return tables


__all__ = ["oracle_tables", "failures_tables", "compare_tables", "history_tables"]
