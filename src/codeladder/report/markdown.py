"""The report as Markdown (``ladder report --format md``): the same tables as the HTML report, CIs as text,
the heat map as a table of the tasks on which the runs disagree, lineage as ``source → stage → model``.

Cell text is escaped for Markdown tables: ``|`` and backslashes, HTML-significant characters and newlines, so a
task id or model name can neither break the table nor inject markup into a renderer.
"""

from __future__ import annotations

from codeladder.report.collect import ReportData
from codeladder.report.tables import DASH, Table

DISAGREEMENT_ROWS = 200


def md_escape(text: object) -> str:
    value = " ".join(str(text).split())
    for char, replacement in (("\\", "\\\\"), ("|", "\\|"), ("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"),
                              ("`", "\\`"), ("*", "\\*"), ("_", "\\_"), ("[", "\\["), ("]", "\\]")):
        value = value.replace(char, replacement)
    return value


def table_md(table: Table) -> str:
    lines = [f"**{md_escape(table.title)}**", "",
             "| " + " | ".join(md_escape(c) for c in table.columns) + " |",
             "| " + " | ".join("---:" if i in table.numeric else "---" for i in range(len(table.columns))) + " |"]
    lines += ["| " + " | ".join(md_escape(cell.text) for cell in row) + " |" for row in table.rows]
    if table.note:
        lines += ["", f"_{md_escape(table.note)}_"]
    return "\n".join(lines) + "\n"


def _points(data: ReportData) -> str:
    if not data.points:
        return "No runs given.\n"
    lines = [f"- {md_escape(p.label)}: {100 * p.value:.2f}% (95% CI {100 * p.low:.1f}–{100 * p.high:.1f}%)"
             for p in data.points]
    return "\n".join(lines) + "\n"


def _rate(score: tuple[int, int] | None) -> float | None:
    return None if score is None else score[1] / score[0]


def _disagreements(data: ReportData) -> str:
    parts = []
    for benchmark, (rows, tasks) in data.heat_maps.items():
        if len(rows) < 2:
            continue
        differing = [t for t in tasks if len({_rate(scores.get(t)) for _, scores in rows}) > 1]
        table = Table(f"{benchmark}: {len(differing)} of {len(tasks)} tasks where the runs differ (passed/samples)",
                      ["task", *[label for label, _ in rows]])
        for task in differing[:DISAGREEMENT_ROWS]:
            table.add(task, *[f"{s[1]}/{s[0]}" if (s := scores.get(task)) else DASH for _, scores in rows])
        if len(differing) > DISAGREEMENT_ROWS:
            table.note = f"first {DISAGREEMENT_ROWS} shown; the HTML report's heat map has every task"
        parts.append(table_md(table))
    return "\n".join(parts) or "Fewer than two runs of one benchmark: nothing to set side by side.\n"


def _lineage(data: ReportData) -> str:
    lines = []
    for model, nodes in data.lineages:
        chain = " → ".join(md_escape(n.label) + (f" (+ {md_escape(', '.join(n.inputs))})" if n.inputs else "")
                           for n in nodes)
        lines.append(f"- {md_escape(model)}: {chain}")
    if data.without_lineage:
        lines.append("- no lineage recorded: " + ", ".join(md_escape(m) for m in data.without_lineage))
    return "\n".join(lines) + "\n" if lines else "No runs given.\n"


def render_markdown(data: ReportData) -> str:
    sections = [
        ("Leaderboard", table_md(data.leaderboard) if data.runs else "No runs given.\n"),
        ("pass@k with 95% CI", _points(data)),
        ("Per-task comparison", _disagreements(data)),
        ("Strategy comparison", "\n".join(table_md(t) for t in data.strategies)
         or "No model was run with two or more strategies on one benchmark.\n"),
        ("Throughput", table_md(data.throughput) if data.throughput else "No `ladder bench --json` results given.\n"),
        ("Model lineage", _lineage(data)),
        ("Hyperparameter studies", "\n".join(table_md(t) for t in data.studies) or "No `ladder tune` study given.\n"),
    ]
    head = (f"# {md_escape(data.title)}\n\n{len(data.runs)} run(s), {len(data.bench)} throughput result(s); "
            f"generated {md_escape(data.generated_at)} by codeladder\n")
    return head + "".join(f"\n## {title}\n\n{body}" for title, body in sections)


__all__ = ["render_markdown", "table_md", "md_escape"]
