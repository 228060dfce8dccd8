"""``ladder ls``: what is registered, per kind (benchmarks, strategies, backends, rerank, merge, prune, ...)."""

from __future__ import annotations

from typing import ClassVar, Optional

from rich.table import Table

from codeladder.cli.build import Verb
from codeladder.cli.output import console, print_json
from codeladder.params import VerbParams, option
from codeladder.registry import kinds, registry


class LsParams(VerbParams):
    """List what can be chosen: benchmarks, strategies, backends, rerank, merge, prune, quantize, export."""

    verb: ClassVar[str] = "ls"
    kind: Optional[str] = option(None, "one kind to list (default: every kind)", argument=True, choices=tuple(kinds()))


def list_entries(params: LsParams) -> list[dict]:
    return [entry.describe() for kind in ([params.kind] if params.kind else kinds())
            for entry in registry(kind).entries()]


def render_ls(rows: list[dict], params: LsParams, as_json: bool) -> None:
    if as_json:
        print_json(rows)
        return
    table = Table(title="ladder ls" + (f" {params.kind}" if params.kind else ""))
    for column in ("kind", "name", "summary", "reference", "source"):
        table.add_column(column, overflow="fold")
    for row in rows:
        name = row["name"] + (f" ({', '.join(row['aliases'])})" if row["aliases"] else "")
        table.add_row(row["kind"], name, row["summary"], row["reference"], row["source"])
    console.print(table)


VERBS = [Verb("ls", LsParams, list_entries, render_ls, panel="inspect", json=True)]
