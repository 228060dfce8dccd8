"""Reports over run folders: tables shared by the terminal, HTML and Markdown (:mod:`.tables`), hand-written
SVG charts (:mod:`.svg`), the self-contained HTML page (:mod:`.html`) and Markdown (:mod:`.markdown`).
Nothing here imports torch or a backend."""

from codeladder.report.make import ReportParams, make_report

__all__ = ["ReportParams", "make_report"]
