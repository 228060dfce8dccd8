"""Tables shared by the terminal, the HTML report and the Markdown report.

A :class:`Table` is plain data (title, columns, rows of :class:`Cell`): the CLI renders it with rich, the HTML
report as ``<table>`` (a cell's ``data`` becomes ``data-*`` attributes holding the exact numbers, which the
browser test compares with ``summary.json``), the Markdown report as a pipe table. Text is never markup
here: every renderer escapes it (task ids and model names are user data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from codeladder.analysis.load import Run, short_model, tasks_in_benchmark, window_text

DASH = "—"


@dataclass(frozen=True)
class Cell:
    text: str
    data: dict[str, str] = field(default_factory=dict)  # exact values for machines (HTML data-* attributes)


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    key: str = ""  # the HTML table's id
    numeric: frozenset[int] = frozenset()  # right-aligned column indexes
    note: str = ""

    def add(self, *cells: Cell | str) -> None:
        self.rows.append([c if isinstance(c, Cell) else Cell(str(c)) for c in cells])


def percent(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"{100 * value:.{digits}f}%"


def signed_points(value: float | None) -> str:
    """A change in pass rate, in percentage points."""
    return DASH if value is None else f"{100 * value:+.2f} pt"


def ci_text(ci: list | None) -> str:
    if not ci or len(ci) != 2:
        return DASH
    return f"{100 * ci[0]:.1f}–{100 * ci[1]:.1f}%"


def date_text(stamp: str) -> str:
    """``2026-11-27T20:26:55+00:00`` -> ``2026-11-27 20:26``."""
    return stamp[:16].replace("T", " ") if stamp else DASH


def ids_text(task_ids: list[str], limit: int = 12) -> str:
    shown = ", ".join(task_ids[:limit])
    return (shown + f", … (+{len(task_ids) - limit})") if len(task_ids) > limit else (shown or DASH)


def pass_at_1(run: Run) -> float:
    """The summary's pass@1 (what ``ladder eval`` reported), else the rate counted from the result rows."""
    value = run.summary.get("pass_at_k", {}).get("1")
    return float(value) if value is not None else run.pass_at_1


def other_ks(run: Run) -> dict[str, float]:
    return {k: v for k, v in run.summary.get("pass_at_k", {}).items() if k != "1"}


def samples_per_task(run: Run) -> str:
    ns = sorted({score.n for score in run.tasks.values()})
    return DASH if not ns else str(ns[0]) if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"


def scope_text(run: Run) -> str:
    """Tasks scored / tasks in the benchmark, ``subset`` when not all of them."""
    size = tasks_in_benchmark({**run.summary, "num_tasks": len(run.tasks)})
    text = f"{len(run.tasks)}/{size if size is not None else '?'}"
    if window_text(run.summary):
        text += f" ({window_text(run.summary)})"
    return text if size == len(run.tasks) else f"{text} subset"


def leaderboard(runs: list[Run]) -> Table:
    """One row per run: best pass@1 first within each benchmark."""
    table = Table("Leaderboard", ["model", "benchmark", "pass@1", "95% CI", "pass@k", "strategy", "backend", "n",
                                  "tasks", "date", "run"], key="leaderboard", numeric=frozenset({2, 3, 7, 8}),
                  note="pass@1 and its 95% CI as each run's summary.json has them (method: ci95_method); "
                       "n = samples per task; tasks = scored / in the benchmark (a subset is marked)")
    for run in sorted(runs, key=lambda r: (r.benchmark, -pass_at_1(r), r.label)):
        value, ci, ks = pass_at_1(run), run.summary.get("ci95"), other_ks(run)
        ci_data = {"low": repr(float(ci[0])), "high": repr(float(ci[1]))} if ci and len(ci) == 2 else {}
        table.add(Cell(short_model(run.model), {"model": run.model}), run.benchmark,
                  Cell(percent(value), {"value": repr(value)}), Cell(ci_text(ci), ci_data),
                  Cell("; ".join(f"@{k} {percent(v)}" for k, v in ks.items()) or DASH,
                       {f"k{k}": repr(float(v)) for k, v in ks.items()}),
                  run.strategy, run.backend, samples_per_task(run), scope_text(run), date_text(run.finished_at),
                  Cell(run.path.name, {"path": str(run.path)}))
    return table


def _bench_model(result: dict) -> str:
    return short_model(str(result.get("model", "?")))


def throughput(results: list[dict]) -> Table:
    """``ladder bench --json`` results, one row per model measured."""
    table = Table("Throughput (ladder bench)", ["model", "backend", "device / dtype", "prefill tok/s",
                                                "decode tok/s", "TTFT s", "e2e s (median)", "batch tok/s"],
                  key="throughput", numeric=frozenset({3, 4, 5, 6}))
    for r in results:
        decode = f"{r['decode_tok_s']:.1f}"
        if r.get("draft"):
            decode += f" (draft {r['draft']['decode_tok_s']:.1f}, ×{r['draft']['speedup']:.2f})"
        batch = ", ".join(f"×{size}: {rate:.1f}" for size, rate in (r.get("batch_tok_s") or {}).items())
        e2e = (r.get("e2e_s") or {}).get("median")
        table.add(Cell(_bench_model(r), {"model": str(r.get("model"))}), str(r.get("backend", "?")),
                  f"{r.get('device', '?')} / {r.get('dtype', '?')}", f"{r.get('prefill_tok_s', 0):.1f}",
                  Cell(decode, {"value": repr(float(r["decode_tok_s"]))}), f"{r.get('ttft_s', 0):.3f}",
                  DASH if e2e is None else f"{e2e:.3f}", batch or DASH)
    return table


def strategy_tables(runs: list[Run]) -> list[Table]:
    """Per model and benchmark with two or more strategies: each strategy's best pass@1 and unique wins."""
    from codeladder.analysis.oracle import strategy_groups, unique_wins

    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        groups.setdefault((run.model, run.benchmark), []).append(run)
    tables = []
    for (model, benchmark), members in groups.items():
        by_strategy: dict[str, list[Run]] = {}
        for run in members:
            by_strategy.setdefault(run.strategy, []).append(run)
        if len(by_strategy) < 2:
            continue
        wins = unique_wins(strategy_groups(members))
        table = Table(f"Strategies: {short_model(model)} on {benchmark}",
                      ["strategy", "runs", "best pass@1", "tasks solved", "unique wins", "tasks only it solves"],
                      key="strategies", numeric=frozenset({1, 2, 3, 4}))
        for strategy, strategy_runs in sorted(by_strategy.items(), key=lambda kv: -max(map(pass_at_1, kv[1]))):
            best = max(map(pass_at_1, strategy_runs))
            solved = set().union(*(r.solved() for r in strategy_runs))
            table.add(strategy, str(len(strategy_runs)), Cell(percent(best), {"value": repr(best)}),
                      str(len(solved)), str(len(wins[strategy])), ids_text(wins[strategy]))
        tables.append(table)
    return tables


def run_path_label(path: str) -> str:
    return Path(path).name or path


__all__ = ["Cell", "Table", "DASH", "percent", "signed_points", "ci_text", "date_text", "ids_text", "pass_at_1",
           "leaderboard", "throughput", "strategy_tables", "run_path_label"]
