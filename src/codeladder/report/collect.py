"""What a report shows, gathered once from its inputs and rendered as HTML or Markdown.

Inputs are run folders (or folders holding them: ``runs/``, a recipe's run directory) and ``ladder bench
--json`` result files (given as paths, through ``--bench``, or found as ``bench*.json`` under a folder given).
pass@1's 95% CI is the summary's own (recomputed by :mod:`codeladder.stats` for a summary older than its
``ci95_method``); for k > 1 :func:`codeladder.stats.rate_interval` over the per-task estimates, since
``summary.json`` keeps a CI for pass@1 only. No interval is ever of zero width.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from codeladder.analysis.load import Run, find_runs, load_runs, short_model, sorted_tasks
from codeladder.errors import LadderError
from codeladder.report.study import is_study, read_study, study_tables
from codeladder.report.svg import LineageNode, Point
from codeladder.report.tables import Table, leaderboard, pass_at_1, strategy_tables, throughput
from codeladder.scoring import pass_at_k
from codeladder.stats import pass_at_1_interval, rate_interval



@dataclass
class ReportData:
    title: str
    runs: list[Run]
    bench: list[dict]
    leaderboard: Table
    throughput: Table | None
    strategies: list[Table]
    points: list[Point]
    heat_maps: dict[str, tuple[list[tuple[str, dict[str, tuple[int, int]]]], list[str]]]
    lineages: list[tuple[str, list[LineageNode]]]
    without_lineage: list[str] = field(default_factory=list)
    studies: list[Table] = field(default_factory=list)  # ``ladder tune`` studies given as inputs
    generated_at: str = ""


def read_bench(path: Path) -> list[dict]:
    """A ``ladder bench --json`` file: one result or a list of them."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        raise LadderError(f"{path}: not a JSON file; write one with `ladder bench MODEL --json > bench.json`") from None
    rows = data if isinstance(data, list) else [data]
    if not rows or not all(isinstance(r, dict) and "decode_tok_s" in r and "model" in r for r in rows):
        raise LadderError(f"{path}: not a `ladder bench --json` result (no decode_tok_s); write one with "
                          "`ladder bench MODEL --json > bench.json`")
    return rows


def _bench_files_under(folder: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / name for name in sorted(files) if name.startswith("bench") and name.endswith(".json")]
    return found


def split_inputs(inputs: list[str], bench_files: list[str]) -> tuple[list[Path], list[Path]]:
    """(run folders and folders holding them, bench result files)."""
    runs, bench = [], [Path(p) for p in bench_files]
    for given in inputs:
        path = Path(given)
        if path.is_file() and path.name == "summary.json":
            runs.append(path.parent)  # a run's summary given instead of its folder
        elif path.is_file() and path.suffix == ".json":
            bench.append(path)
        elif path.is_dir() and not find_runs(path) and _bench_files_under(path):
            bench += _bench_files_under(path)
        else:
            runs.append(path)
            if path.is_dir():
                bench += _bench_files_under(path)
    for path in bench:
        if not path.is_file():
            raise LadderError(f"--bench {path}: no such file; write one with `ladder bench MODEL --json > {path}`")
    return runs, list(dict.fromkeys(bench))


def points_of(run: Run) -> list[Point]:
    """The run's pass@k estimates with their 95% CIs."""
    points = []
    for k, value in run.summary.get("pass_at_k", {}).items():
        if k == "1" and run.summary.get("ci95_method") and run.summary.get("ci95"):
            low, high = run.summary["ci95"]
        elif k == "1":  # a summary written before ci95_method kept a bootstrap interval, of zero width at 0/10
            low, high = pass_at_1_interval({t: (s.n, s.c) for t, s in run.tasks.items()}).as_list()
        else:
            rates = [pass_at_k(s.n, s.c, int(k)) for s in run.tasks.values() if s.n >= int(k)]
            low, high = rate_interval(rates).as_list()
        points.append(Point(f"{run.label} · {run.benchmark} · pass@{k}", float(value), float(low), float(high),
                            run.model))
    return points


def _further_inputs(lineage: dict) -> dict[str, list[str]]:
    """For each stage id, the parents the diagram's chain does not already draw (the stage before it in the
    list is its left neighbour): a merge's other model, named by its stage or its source."""
    from codeladder.models.lineage import stage_id, stage_parents

    parents, names = stage_parents(lineage), {stage_id(s): str(s.get("stage")) for s in lineage.get("stages", [])}
    found, previous = {}, f"source:{lineage.get('source')}"
    for record in lineage.get("stages", []):
        sid = stage_id(record)
        found[sid] = [names.get(p) or short_model(p.removeprefix("source:")) for p in parents[sid] if p != previous]
        previous = sid
    return found


def lineage_nodes(run: Run) -> list[LineageNode] | None:
    """The model's lineage graph as diagram nodes, parents first (a stage's parents other than its left
    neighbour are drawn above it): the full document when the model is still on disk, else the short record
    the summary keeps."""
    from codeladder.models.lineage import read_lineage, stage_id

    short = run.summary.get("model_lineage")
    if not isinstance(short, dict):
        return None
    path = Path(str(short.get("path", "")))
    lineage = read_lineage(path) if path.exists() else {}
    if not lineage.get("stages"):
        lineage = {"source": short.get("source"), "stages": [{"stage": n} for n in short.get("stages", [])]}
    further = _further_inputs(lineage)
    nodes = [LineageNode(short_model(str(short.get("source") or "?")), "source", str(short.get("source")))]
    for record in lineage["stages"]:
        params = json.dumps(record.get("params", {}), sort_keys=True)[:300]
        nodes.append(LineageNode(str(record.get("stage", "?")), "stage", f"{record.get('stage')}: {params}",
                                 further[stage_id(record)]))
    nodes.append(LineageNode(short_model(run.model), "model", run.model))
    return nodes


def _heat_maps(runs: list[Run]) -> dict:
    maps: dict[str, tuple[list, list[str]]] = {}
    for run in sorted(runs, key=lambda r: (r.benchmark, -pass_at_1(r), r.label)):
        rows, _ = maps.setdefault(run.benchmark, ([], []))
        rows.append((run.label, {t: (s.n, s.c) for t, s in run.tasks.items()}))
    return {bench: (rows, sorted_tasks({t for _, scores in rows for t in scores})) for bench, (rows, _) in maps.items()}


def collect(inputs: list[str], bench_files: list[str] | None = None, title: str = "codeladder report") -> ReportData:
    study_paths = [Path(p) for p in inputs if is_study(Path(p))]
    run_paths, bench_paths = split_inputs([p for p in inputs if Path(p) not in study_paths], bench_files or [])
    runs = load_runs(run_paths) if run_paths else []
    bench = [row for path in bench_paths for row in read_bench(path)]
    studies = [table for path in study_paths for table in study_tables(path, read_study(path))]
    if not runs and not bench and not studies:
        raise LadderError("nothing to report: pass run folders written by `ladder eval` (or a folder holding them), "
                          "`ladder bench --json` files and/or `ladder tune` study folders")
    ordered = sorted(runs, key=lambda r: (r.benchmark, -pass_at_1(r), r.label))
    lineages, without, seen = [], [], set()
    for run in ordered:
        if run.model_key in seen:
            continue
        seen.add(run.model_key)
        nodes = lineage_nodes(run)
        if nodes is None:
            without.append(run.model)
        else:
            lineages.append((run.model, nodes))
    return ReportData(
        title=title, runs=ordered, bench=bench, leaderboard=leaderboard(ordered),
        throughput=throughput(bench) if bench else None, strategies=strategy_tables(ordered),
        points=[p for run in ordered for p in points_of(run)], heat_maps=_heat_maps(ordered), lineages=lineages,
        without_lineage=without, studies=studies, generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


__all__ = ["ReportData", "collect", "read_bench", "split_inputs", "points_of", "lineage_nodes"]
