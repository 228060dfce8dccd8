"""The report as one self-contained HTML file: inline CSS, inline SVG charts (see :mod:`codeladder.report.svg`
for why no plotting library), no JavaScript, no external resource of any kind, so it opens offline, can be
mailed or attached to a model card, and produces no console errors.

Every piece of text (task ids, model names, paths, error lines) is escaped; exact numbers ride along as
``data-*`` attributes on table cells and chart marks, so tests and scripts can read them without parsing
formatted percentages.
"""

from __future__ import annotations

from html import escape

from codeladder.report.collect import ReportData
from codeladder.report.svg import error_bars, heat_map, lineage_graph
from codeladder.report.tables import Table

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1280px;
       padding: 0 16px; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.meta, .note { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border: 1px solid #ddd; padding: 4px 8px; vertical-align: top; white-space: nowrap; }
th { background: #f4f6f8; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #fafafa; }
.scroll { overflow-x: auto; max-width: 100%; }
nav a { margin-right: 1em; }
"""


def _t(text: object) -> str:
    return escape(str(text), quote=True)


def table_html(table: Table) -> str:
    """A table with escaped text; a cell's data becomes ``data-*`` attributes."""
    head = "".join(f"<th>{_t(c)}</th>" for c in table.columns)
    body = []
    for row in table.rows:
        cells = []
        for i, cell in enumerate(row):
            attrs = "".join(f' data-{_t(k)}="{_t(v)}"' for k, v in cell.data.items())
            css = ' class="num"' if i in table.numeric else ""
            cells.append(f"<td{css}{attrs}>{_t(cell.text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    key = f' id="{_t(table.key)}"' if table.key else ""
    note = f'<p class="note">{_t(table.note)}</p>' if table.note else ""
    return (f'<div class="scroll"><table{key}><caption>{_t(table.title)}</caption><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>{note}")


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_t(title)}</h2>{body}</section>'


def _charts(data: ReportData) -> str:
    if not data.points:
        return '<p class="note">No runs given.</p>'
    return ('<div class="scroll">' + error_bars(data.points) + "</div>"
            '<p class="note">Dots: pass@k; whiskers: 95% CI over tasks (pass@1: the summary\'s own, its method in '
            "ci95_method; k &gt; 1: a task-clustered interval computed from results.jsonl). One colour per model.</p>")


def _heat(data: ReportData) -> str:
    if not data.heat_maps:
        return '<p class="note">No runs given.</p>'
    parts = []
    for benchmark, (rows, tasks) in data.heat_maps.items():
        parts.append(f"<h3>{_t(benchmark)}</h3><div class=\"scroll\">"
                     f"{heat_map(rows, tasks, f'per-task pass rate on {benchmark}')}</div>")
    return "".join(parts) + '<p class="note">Cell colour: share of a task\'s samples that passed (c / n).</p>'


def _strategies(data: ReportData) -> str:
    if not data.strategies:
        return ('<p class="note">No model was run with two or more strategies on one benchmark '
                "(pass such runs to compare strategies).</p>")
    return "".join(table_html(t) for t in data.strategies)


def _throughput(data: ReportData) -> str:
    if data.throughput is None:
        return ('<p class="note">No throughput results given: add <code>ladder bench MODEL --json &gt; bench.json'
                "</code> files (or pass <code>--bench FILE</code>).</p>")
    return table_html(data.throughput)


def _lineage(data: ReportData) -> str:
    parts = [f"<h3>{_t(model)}</h3><div class=\"scroll\">{lineage_graph(nodes, f'lineage of {model}')}</div>"
             for model, nodes in data.lineages]
    if data.without_lineage:
        parts.append('<p class="note">No lineage recorded (reference solutions, a samples file, a served model, '
                     "or a model not written by codeladder): " + ", ".join(_t(m) for m in data.without_lineage)
                     + "</p>")
    return "".join(parts) or '<p class="note">No runs given.</p>'


SECTIONS = (("leaderboard", "Leaderboard"), ("passk", "pass@k with 95% CI"), ("heatmap", "Per-task heat map"),
            ("strategies", "Strategy comparison"), ("throughput", "Throughput"), ("lineage", "Model lineage"),
            ("tune", "Hyperparameter studies"))


def render_html(data: ReportData) -> str:
    bodies = {"leaderboard": table_html(data.leaderboard) if data.runs else '<p class="note">No runs given.</p>',
              "passk": _charts(data), "heatmap": _heat(data), "strategies": _strategies(data),
              "throughput": _throughput(data), "lineage": _lineage(data),
              "tune": "".join(table_html(t) for t in data.studies)
              or '<p class="note">No <code>ladder tune</code> study given.</p>'}
    nav = "".join(f'<a href="#{anchor}">{_t(title)}</a>' for anchor, title in SECTIONS)
    sections = "".join(_section(anchor, title, bodies[anchor]) for anchor, title in SECTIONS)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_t(data.title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{_t(data.title)}</h1><p class=\"meta\">{len(data.runs)} run(s), {len(data.bench)} throughput "
            f"result(s); generated {_t(data.generated_at)} by codeladder</p><nav>{nav}</nav>{sections}"
            "</body></html>\n")


__all__ = ["render_html", "table_html"]
