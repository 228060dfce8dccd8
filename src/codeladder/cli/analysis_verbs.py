"""The analysis panel: ``ladder analyze oracle|failures|compare|history`` and ``ladder report`` (params classes in
analysis/ and report/). Tables come from :mod:`codeladder.report.analysis_tables`, shared with the reports;
``--json`` prints the verb's dict as it is."""

from __future__ import annotations

from rich.table import Table as RichTable
from rich.text import Text

from codeladder.analysis.compare import CompareParams, compare
from codeladder.analysis.failures import FailuresParams, failures
from codeladder.analysis.history import HistoryParams, history
from codeladder.analysis.oracle import OracleParams, oracle
from codeladder.cli.build import GROUP_HELP, Verb
from codeladder.cli.output import console, err_console, print_json
from codeladder.report.analysis_tables import compare_tables, failures_tables, history_tables, oracle_tables
from codeladder.report.make import ReportParams, make_report
from codeladder.report.tables import Table

GROUP_HELP["analyze"] = "Analyse finished runs: oracle, failures, compare two runs, a model's history."


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
    if as_json:
        print_json(result)
        return
    err_console.print(f"wrote {result['output']} ({result['format']}, {len(result['runs'])} run(s), "
                      f"{result['bench_results']} throughput result(s))", highlight=False, markup=False)


VERBS = [
    Verb("analyze oracle", OracleParams, oracle, _renderer(oracle_tables), panel="inspect", json=True),
    Verb("analyze failures", FailuresParams, failures, _renderer(failures_tables), panel="inspect", json=True),
    Verb("analyze compare", CompareParams, compare, _renderer(compare_tables), panel="inspect", json=True),
    Verb("analyze history", HistoryParams, history, _renderer(history_tables), panel="inspect", json=True),
    Verb("report", ReportParams, make_report, render_report, panel="inspect", json=True),
]
