"""Where the CLI prints: tables to stdout (wide when piped, so numbers are never cut at 80 columns), notes and
errors to stderr as single lines."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, soft_wrap=True)


SHOWN = 8  # line numbers listed before "…"


def line_list(lines: list[int]) -> str:
    return ", ".join(map(str, lines[:SHOWN])) + (", …" if len(lines) > SHOWN else "")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def print_json_or(result: Any, as_json: bool, line: str, stderr: bool = False) -> None:
    """The result as JSON with --json, else one plain line (never read as rich markup)."""
    if as_json:
        print_json(result)
    else:
        (err_console if stderr else console).print(line, highlight=False, markup=False)


def render_plain(result: Any, params: Any, as_json: bool) -> None:
    """A verb's result as JSON (what a verb without a renderer of its own prints)."""
    print_json(result if isinstance(result, (dict, list, str, int, float, bool)) or result is None else str(result))


def key_value_table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title)
    table.add_column("")
    table.add_column("value", justify="right")
    for key, value in rows:
        table.add_row(key, value)
    return table


def checks_table(title: str, checks: list[dict], check_column: str = "check", result_column: str = "ok",
                 failed: str = "[red]FAIL[/]") -> Table:
    """One row per ``{check, ok, detail}``: what ``env check`` and ``submit``'s preflight print. A check that had
    nothing to look at (``skipped``) says so instead of "ok"."""
    table = Table(title=title)
    for column in (check_column, result_column, "detail"):
        table.add_column(column, overflow="fold")
    for check in checks:
        verdict = failed if not check["ok"] else "[yellow]skipped[/]" if check.get("skipped") else "[green]ok[/]"
        table.add_row(check["check"], verdict, check["detail"])
    return table
