"""The inspect panel's renderers: ``ladder ls``, ``data quality``, ``analyze oracle|failures|compare|history`` and
``report`` (the verbs are in codeladder/verbs.py). Analysis tables come from
:mod:`codeladder.report.analysis_tables`, shared with the reports; ``--json`` prints the verb's dict as it is."""

from __future__ import annotations

from rich.table import Table as RichTable
from rich.text import Text

from codeladder.cli.output import console, key_value_table, line_list, print_json, print_json_or
from codeladder.data.quality import QualityParams
from codeladder.listing import LsParams
from codeladder.report.analysis_tables import compare_tables, failures_tables, history_tables, oracle_tables
from codeladder.report.make import ReportParams
from codeladder.report.tables import Table

def rich_table(table: Table) -> RichTable:
    """A shared table for the terminal; cells are Text, so user data is never read as rich markup."""
    out = RichTable(title=Text(table.title), caption=Text(table.note) if table.note else None)
    for i, column in enumerate(table.columns):
        out.add_column(Text(column), justify="right" if i in table.numeric else "left", overflow="fold")
    for row in table.rows:
        out.add_row(*(Text(cell.text) for cell in row))
    return out


def _renderer(to_tables):
    def render(result: dict, params, as_json: bool) -> None:
        if as_json:
            print_json(result)
            return
        for table in to_tables(result):
            if table.rows:
                console.print(rich_table(table))
    return render


def render_report(result: dict, params: ReportParams, as_json: bool) -> None:
    print_json_or(result, as_json, f"wrote {result['output']} ({result['format']}, {len(result['runs'])} run(s), "
                                   f"{result['bench_results']} throughput result(s))", stderr=True)


def render_ls(rows: list[dict], params: LsParams, as_json: bool) -> None:
    if as_json:
        print_json(rows)
        return
    table = RichTable(title="ladder ls" + (f" {params.kind}" if params.kind else ""))
    for column in ("kind", "name", "summary", "reference", "source"):
        table.add_column(column, overflow="fold")
    for row in rows:
        name = row["name"] + (f" ({', '.join(row['aliases'])})" if row["aliases"] else "")
        table.add_row(row["kind"], name, row["summary"], row["reference"], row["source"])
    console.print(table)


def render_quality(report: dict, params: QualityParams, as_json: bool) -> None:
    if as_json:
        print_json(report)
        return
    table = RichTable(title=f"ladder data quality {params.file}: {report['rows']} rows")
    for column in ("field", "count", "min", "median", "mean", "p95", "max"):
        table.add_column(column, justify="right" if column != "field" else "left")
    for field, stats in report["lengths"].items():
        table.add_row(field, *(f"{stats[k]:g}" for k in ("count", "min", "median", "mean", "p95", "max")))
    console.print(table)
    findings = [("exact duplicate rows", str(report["exact_duplicates"]["rows"])),
                ("near-duplicate pairs", str(report["near_duplicates"]["pairs"]))]
    for key, label in (("empty_fields", "empty"), ("short_fields", "short"), ("unparsable_code", "code not parsing")):
        findings += [(f"{label}: {field}", f"{len(lines)} (lines {line_list(lines)})")
                     for field, lines in report[key].items()]
    console.print(key_value_table("findings (lines 0-based)", findings))


RENDERERS = {"ls": render_ls, "data quality": render_quality, "analyze oracle": _renderer(oracle_tables),
             "analyze failures": _renderer(failures_tables), "analyze compare": _renderer(compare_tables),
             "analyze history": _renderer(history_tables), "report": render_report}
