"""``ladder analyze oracle``: the best per task across runs of one model (strategies, seeds, settings).

The oracle solves a task when any run solved it (at least one passing sample); its pass@1 is the mean over
tasks of the best run's rate ``c / n``. It is an upper bound on what choosing per task could reach, so it is
only meaningful for one model: runs of two models are refused unless ``--allow-mixed``. A *unique win* is a
task that only one run (or only one strategy's runs) solved: what that run or strategy adds.
"""

from __future__ import annotations

from typing import ClassVar

from codeladder.analysis.load import Run, load_runs, one_benchmark, one_model, sorted_tasks
from codeladder.params import VerbParams, option


class OracleParams(VerbParams):
    """Best per task across runs of one model: oracle pass@1, what each run and strategy uniquely solves."""

    verb: ClassVar[str] = "analyze oracle"
    runs: list[str] = option(..., "run folders (or folders holding run folders) of one model and benchmark",
                             argument=True)
    allow_mixed: bool = option(False, "pool runs of different models anyway (the oracle is then not one model's)")


def best_per_task(runs: list[Run]) -> dict[str, tuple[float, list[str]]]:
    """Task -> (best rate, labels of the runs reaching it)."""
    best: dict[str, tuple[float, list[str]]] = {}
    for task in sorted_tasks({t for run in runs for t in run.tasks}):
        rates = [(run.tasks[task].rate, run.label) for run in runs if task in run.tasks]
        top = max(rate for rate, _ in rates)
        best[task] = (top, [label for rate, label in rates if rate == top])
    return best


def unique_wins(groups: dict[str, set[str]]) -> dict[str, list[str]]:
    """Group -> tasks solved by that group and by no other."""
    return {name: sorted_tasks(solved - set().union(*(s for other, s in groups.items() if other != name)))
            for name, solved in groups.items()}


def strategy_groups(runs: list[Run]) -> dict[str, set[str]]:
    """Strategy -> tasks solved by any run of it."""
    groups: dict[str, set[str]] = {}
    for run in runs:
        groups.setdefault(run.strategy, set()).update(run.solved())
    return groups


def oracle_of(runs: list[Run], allow_mixed: bool = False) -> dict:
    """The oracle over already loaded runs (one model and one benchmark)."""
    models = one_model(runs, allow_mixed)
    benchmark = one_benchmark(runs)
    best = best_per_task(runs)
    solved_by = unique_wins({run.label: run.solved() for run in runs})
    per_run = [{"label": run.label, "path": str(run.path), "strategy": run.strategy,
                "num_tasks": len(run.tasks), "pass_at_1": run.pass_at_1, "solved": len(run.solved()),
                "unique_wins": solved_by[run.label]} for run in runs]
    total = len(best)
    solved = sum(rate > 0 for rate, _ in best.values())
    top = max(per_run, key=lambda r: r["pass_at_1"])
    oracle_pass = sum(rate for rate, _ in best.values()) / total if total else 0.0
    return {
        "model": models[0] if len(models) == 1 else models,
        "benchmark": benchmark,
        "runs": per_run,
        "oracle": {"num_tasks": total, "solved": solved, "solved_rate": solved / total if total else 0.0,
                   "pass_at_1": oracle_pass},
        "best_run": {"label": top["label"], "pass_at_1": top["pass_at_1"]},
        "gain_over_best_run": oracle_pass - top["pass_at_1"],
        "unique_wins_by_strategy": unique_wins(strategy_groups(runs)),
        "tasks": [{"task_id": task, "best_rate": rate, "best_runs": labels} for task, (rate, labels) in best.items()],
    }


def oracle(params: OracleParams) -> dict:
    """``ladder analyze oracle``: run folders in, JSON-ready dict out."""
    return oracle_of(load_runs(params.runs), params.allow_mixed)


__all__ = ["OracleParams", "oracle", "oracle_of", "best_per_task", "unique_wins", "strategy_groups"]
