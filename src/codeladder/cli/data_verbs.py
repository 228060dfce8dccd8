"""The data verbs (``ladder data sft|pairs|prep|split|calibration|decontaminate|quality``): training data in,
checked training data out."""

from __future__ import annotations

from rich.table import Table

from codeladder.cli.build import GROUP_HELP, Verb
from codeladder.cli.output import console, key_value_table, print_json
from codeladder.data.decontaminate import DecontaminateParams, decontaminate_verb
from codeladder.data.sft import SftParams, make_sft
from codeladder.data.pairs import PairsParams, make_pairs, meta_path
from codeladder.data.prep import PrepParams, prep
from codeladder.data.split import CalibrationParams, SplitParams, calibration, split
from codeladder.data.quality import QualityParams, quality

GROUP_HELP["data"] = ("Training data: SFT rows from a pool, preference pairs from a run, rows from a source tree, "
                      "decontamination, quality.")
SHOWN = 8


def _lines(lines: list[int]) -> str:
    return ", ".join(map(str, lines[:SHOWN])) + (", …" if len(lines) > SHOWN else "")


def render_pairs(meta: dict, params: PairsParams, as_json: bool) -> None:
    if as_json:
        print_json({k: v for k, v in meta.items() if k != "sources"})
        return
    rows = [("benchmark (split)", f"{meta['benchmark']} ({meta['split']})"), ("format", meta["format"]),
            ("tasks", str(meta["tasks"])), ("borderline tasks", str(meta["borderline_tasks"])),
            ("pairs", str(meta["pairs"])), ("contaminated", "YES (test split)" if meta["contaminated"] else "no"),
            ("metadata", str(meta_path(params.output)))]
    console.print(key_value_table(f"ladder data pairs -> {params.output}", rows))


def render_decontaminate(report: dict, params: DecontaminateParams, as_json: bool) -> int | None:
    if as_json:
        print_json({k: v for k, v in report.items() if k != "rows"})
    else:
        table = Table(title=f"ladder data decontaminate {params.file}: {report['rows_contaminated']} of "
                            f"{report['rows_total']} rows match a benchmark")
        for column in ("benchmark", "rows", "tasks", "matches by kind"):
            table.add_column(column)
        for name, entry in report["overlap"].items():
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(entry["kinds"].items()))
            table.add_row(name, str(entry["rows"]), str(entry["tasks"]), kinds)
        console.print(table)
        flagged = [r["line"] for r in report["rows"] if r["contaminated"]]
        if flagged:
            console.print(f"contaminated lines (0-based): {_lines(flagged)}", highlight=False)
    return None


def render_quality(report: dict, params: QualityParams, as_json: bool) -> None:
    if as_json:
        print_json(report)
        return
    table = Table(title=f"ladder data quality {params.file}: {report['rows']} rows")
    for column in ("field", "count", "min", "median", "mean", "p95", "max"):
        table.add_column(column, justify="right" if column != "field" else "left")
    for field, stats in report["lengths"].items():
        table.add_row(field, *(f"{stats[k]:g}" for k in ("count", "min", "median", "mean", "p95", "max")))
    console.print(table)
    findings = [("exact duplicate rows", str(report["exact_duplicates"]["rows"])),
                ("near-duplicate pairs", str(report["near_duplicates"]["pairs"]))]
    for key, label in (("empty_fields", "empty"), ("short_fields", "short"), ("unparsable_code", "code not parsing")):
        findings += [(f"{label}: {field}", f"{len(lines)} (lines {_lines(lines)})")
                     for field, lines in report[key].items()]
    console.print(key_value_table("findings (lines 0-based)", findings))


def render_sft(meta: dict, params: SftParams, as_json: bool) -> None:
    if as_json:
        print_json(meta)
        return
    console.print(f"wrote {meta['rows']} rows ({meta['tasks']} tasks of {meta['benchmark']}, "
                  f"{len(meta['dropped_contaminated'])} dropped as contaminated) to {meta['file']}")


def render_prep(meta: dict, params: PrepParams, as_json: bool) -> None:
    if as_json:
        print_json(meta)
        return
    rows = [("files", f"{meta['files']} ({meta['files_unparsable']} not parsing)"),
            ("definitions", str(meta["definitions"])),
            *[(f"dropped: {reason.replace('_', ' ')}", str(count)) for reason, count in meta["dropped"].items()],
            ("rows written", str(meta["rows"])), ("metadata", str(meta_path(params.output)))]
    console.print(key_value_table(f"ladder data prep {params.source} -> {params.output}", rows))


def render_split(metas: dict, params: SplitParams, as_json: bool) -> None:
    if as_json:
        print_json(metas)
        return
    rows = [(part, f"{meta['rows']} rows -> {meta['file']}") for part, meta in metas.items()]
    console.print(key_value_table(f"ladder data split {params.file} (seed {params.seed})", rows))


def render_calibration(meta: dict, params: CalibrationParams, as_json: bool) -> None:
    if as_json:
        print_json({k: v for k, v in meta.items() if k != "lines"})
        return
    console.print(f"wrote {meta['rows']} of {meta['rows_in_source']} rows (seed {meta['seed']}) to {meta['file']}")


VERBS = [
    Verb("data sft", SftParams, make_sft, render_sft, panel="improve", json=True),
    Verb("data pairs", PairsParams, make_pairs, render_pairs, panel="improve", json=True),
    Verb("data prep", PrepParams, prep, render_prep, panel="improve", json=True),
    Verb("data split", SplitParams, split, render_split, panel="improve", json=True),
    Verb("data calibration", CalibrationParams, calibration, render_calibration, panel="improve", json=True),
    Verb("data decontaminate", DecontaminateParams, decontaminate_verb, render_decontaminate, panel="improve",
         json=True),
    Verb("data quality", QualityParams, quality, render_quality, panel="inspect", json=True),
]
