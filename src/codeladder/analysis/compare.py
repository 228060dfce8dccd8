"""``ladder analyze compare BEFORE AFTER``: what changed between two runs of one benchmark, task by task.

*Gained* tasks are solved (at least one passing sample) in AFTER and not in BEFORE; *lost* tasks the reverse.
With n > 1 a task can also move without changing side: ``rate_changes`` lists every task whose rate
``c / n`` changed, largest drop first. Only tasks both runs evaluated are compared (pass@1 on them too);
tasks only one run has are listed apart. Two models may be compared: that is what the verb is for.

``paired`` is the statistician's answer (:mod:`codeladder.stats`): the delta of pass@1 on the shared tasks, its 95%
interval and p-value (exact McNemar and Newcombe's interval for n = 1, a paired bootstrap over tasks for n > 1), and
the ``outcome``: ``gained`` or ``regressed`` only when the interval excludes zero, else ``no measurable change``.
As a recipe stage (``verb: compare``, inputs ``before`` and ``after``) it writes ``compare.json``, whose numbers
gates name: ``delta``, ``delta_ci95_low``, ``delta_ci95_high``, ``p_value``, ``tasks``, ``tasks_gained``,
``tasks_lost`` and the 0/1 flags ``outcome_gained``, ``outcome_regressed``, ``outcome_unchanged``.

``--cutoff DATE`` splits by the tasks' publication days (:mod:`codeladder.analysis.cutoff`): with one run, its
score up to and after the cutoff (the contamination signal); with two, the same comparison on each side as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar, Optional

from pydantic import BeforeValidator, model_validator

from codeladder.analysis.cutoff import split_comparison, split_run
from codeladder.analysis.load import Run, load_run, one_benchmark, sorted_tasks, task_order
from codeladder.errors import LadderError
from codeladder.runs import write_json_atomic
from codeladder.params import OUTPUT, VerbParams, iso_day, option
from codeladder.stats import GAINED, REGRESSED, UNCHANGED, paired_compare


class CompareParams(VerbParams):
    """Gains and regressions between two runs of one benchmark, with the tasks named."""

    verb: ClassVar[str] = "analyze compare"
    before: str = option(..., "the earlier (baseline) run folder", argument=True)
    after: Optional[str] = option(None, "the later (candidate) run folder (optional with --cutoff)", argument=True)
    cutoff: Annotated[Optional[str], BeforeValidator(iso_day)] = option(
        None, "YYYY-MM-DD: split dated tasks (livecodebench) into published up to and after this day; with one run, "
              "its score on each side (the contamination signal)")
    output: Optional[Path] = option(None, "also write the comparison to this folder (compare.json)", flags=OUTPUT)

    @model_validator(mode="after")
    def _two_runs_or_a_cutoff(self) -> "CompareParams":
        if self.after is None and self.cutoff is None:
            raise LadderError("analyze compare: give two run folders (BEFORE AFTER), or one with --cutoff YYYY-MM-DD")
        return self


def _side(run: Run, common: list[str]) -> dict:
    rate = sum(run.tasks[t].rate for t in common) / len(common) if common else 0.0
    return {"path": str(run.path), "model": run.model, "strategy": run.strategy, "backend": run.backend,
            "finished_at": run.finished_at, "pass_at_k": run.summary.get("pass_at_k", {}),
            "ci95": run.summary.get("ci95"), "pass_at_1_common": rate,
            "solved_common": sum(run.tasks[t].solved for t in common)}


def compare_runs(before: Run, after: Run) -> dict:
    """The comparison of two loaded runs (same benchmark)."""
    benchmark = one_benchmark([before, after])
    common = sorted_tasks(set(before.tasks) & set(after.tasks))
    gained = [t for t in common if after.tasks[t].solved and not before.tasks[t].solved]
    lost = [t for t in common if before.tasks[t].solved and not after.tasks[t].solved]
    changes = [{"task_id": t, "before": before.tasks[t].rate, "after": after.tasks[t].rate,
                "delta": after.tasks[t].rate - before.tasks[t].rate}
               for t in common if after.tasks[t].rate != before.tasks[t].rate]
    changes.sort(key=lambda change: (change["delta"], task_order(change["task_id"])))
    a, b = _side(before, common), _side(after, common)
    paired = paired_compare({t: (before.tasks[t].n, before.tasks[t].c) for t in common},
                            {t: (after.tasks[t].n, after.tasks[t].c) for t in common})
    return {
        "benchmark": benchmark,
        "before": a,
        "after": b,
        "num_common_tasks": len(common),
        "pass_at_1_delta": b["pass_at_1_common"] - a["pass_at_1_common"],
        "gained": gained,
        "lost": lost,
        "net_solved": len(gained) - len(lost),
        "rate_changes": changes,
        "only_before": sorted_tasks(set(before.tasks) - set(after.tasks)),
        "only_after": sorted_tasks(set(after.tasks) - set(before.tasks)),
        "paired": {k: v for k, v in paired.as_dict().items() if k not in ("gained", "lost")},
        **gate_numbers(paired),
    }


def gate_numbers(paired) -> dict:
    """The comparison's numbers by the names gates use (see the module docstring)."""
    return {"outcome": paired.outcome, "delta": paired.delta, "delta_ci95_low": paired.ci95[0],
            "delta_ci95_high": paired.ci95[1], "p_value": paired.p_value, "tasks": paired.tasks,
            "tasks_gained": len(paired.gained), "tasks_lost": len(paired.lost),
            "outcome_gained": int(paired.outcome == GAINED), "outcome_regressed": int(paired.outcome == REGRESSED),
            "outcome_unchanged": int(paired.outcome == UNCHANGED)}


def compare(params: CompareParams) -> dict:
    """``ladder analyze compare``: two run folders in, JSON-ready dict out."""
    before = load_run(params.before)
    if params.after is None:
        result = {"benchmark": before.benchmark, "run": str(before.path), **split_run(before, str(params.cutoff))}
    else:
        after = load_run(params.after)
        result = compare_runs(before, after)
        if params.cutoff:
            result["by_cutoff"] = {"cutoff": params.cutoff, "before": split_run(before, params.cutoff),
                                   "after": split_run(after, params.cutoff),
                                   "paired": split_comparison(before, after, params.cutoff)}
    if params.output is not None:
        params.output.mkdir(parents=True, exist_ok=True)
        write_json_atomic(params.output / "compare.json", result)
    return result


__all__ = ["CompareParams", "compare", "compare_runs"]
