"""``ladder report RUN_OR_DIR… -o report.html``: the leaderboard report, HTML (default) or Markdown.

The file is written atomically (beside the target, then renamed), so a report being regenerated is never
seen half-written. The output path is checked before any run is read: an existing file is replaced only with
``--overwrite``.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Optional

from pydantic import field_validator

from codeladder.params import OUTPUT, VerbParams, option
from codeladder.runs import check_new_file, write_text_atomic

FORMATS = ("html", "md")


class ReportParams(VerbParams):
    """A leaderboard report of runs: tables, pass@k with CIs, per-task heat map, strategies, throughput, lineage."""

    verb: ClassVar[str] = "report"
    inputs: list[str] = option(..., "run folders, folders holding them (runs/, a recipe run), or `ladder bench "
                                    "--json` files", argument=True)
    output: Optional[str] = option(None, "the report file (default report.html, or report.md with --format md)",
                                   flags=OUTPUT)
    format: str = option("html", "html (one self-contained file, no JavaScript) or md", choices=FORMATS)
    bench: tuple[str, ...] = option((), "`ladder bench --json` result files, comma-separated (bench*.json files "
                                        "under a folder given are found by themselves)")
    title: str = option("codeladder report", "the report's title")
    overwrite: bool = option(False, "replace an existing report file")

    @field_validator("bench", mode="before")
    @classmethod
    def _comma_paths(cls, value):
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return value

    def target(self) -> Path:
        return Path(self.output or f"report.{self.format}")


def make_report(params: ReportParams) -> dict:
    """Collect, render and write the report; returns what was written."""
    from codeladder.report.collect import collect

    target = params.target()
    check_new_file(target, "--output", params.overwrite)
    data = collect(params.inputs, list(params.bench), params.title)
    if params.format == "md":
        from codeladder.report.markdown import render_markdown

        text = render_markdown(data)
    else:
        from codeladder.report.html import render_html

        text = render_html(data)
    write_text_atomic(target, text)
    return {"output": str(target), "format": params.format, "runs": [str(run.path) for run in data.runs],
            "bench_results": len(data.bench), "bytes": len(text.encode())}


__all__ = ["ReportParams", "make_report", "FORMATS"]
