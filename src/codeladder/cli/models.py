"""The models panel's renderers: tiny, fetch, import, check, export (the verbs are in codeladder/verbs.py)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from rich.table import Table

from codeladder.cli.output import console, print_json
from codeladder.models.export_types import ExportParams
from codeladder.models.fetch import FetchParams
from codeladder.models.io import ImportParams
from codeladder.measure.check import CheckParams, CheckReport, report_json
from codeladder.models.tiny import TinyParams


def render_tiny(path: Path, params: TinyParams, as_json: bool) -> None:
    console.print(f"wrote {params.arch} model ({params.parameter_count():,} parameters) to {path}")


def render_fetch(path: Path, params: FetchParams, as_json: bool) -> None:
    print(path)  # plain, so that `ladder import "$(ladder fetch NAME)" -o DIR` works


def render_import(path: Path, params: ImportParams, as_json: bool) -> None:
    console.print(f"imported {params.source} -> {path}")


def render_export(result, params: ExportParams, as_json: bool) -> None:
    if params.format != "gguf":
        console.print(f"wrote {result}")
        return
    if as_json:
        print_json(asdict(result))
        return
    console.print(f"wrote {result.path}: {result.tensors} tensors, {result.bytes / 2**20:.1f} MiB, type {params.type}")
    for tensor, kind in result.fallbacks.items():
        console.print(f"  fallback: {tensor} stored as {kind} (rows do not fit {params.type} blocks)")


def render_check(report: CheckReport, params: CheckParams, as_json: bool) -> int:
    if as_json:
        print(report_json(report))
    else:
        table = Table(title=f"ladder check {params.folder}")
        for column in ("stage", "ok", "detail"):
            table.add_column(column)
        for stage in report.stages:
            table.add_row(stage.name, "[green]pass[/]" if stage.ok else "[red]FAIL[/]", stage.detail)
        console.print(table)
    return 0 if report.ok else 1


RENDERERS = {"tiny": render_tiny, "fetch": render_fetch, "import": render_import, "check": render_check,
             "export": render_export}
