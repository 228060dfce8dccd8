"""The report's charts as static SVG written by hand: pass@k with CI error bars, the per-task heat map, and a
model's lineage as a small graph.

Why hand-written SVG and not a plotting library: the report must be one file that opens offline, forever.
Plotly or Vega embed megabytes of JavaScript (or fetch it from a CDN), matplotlib would pull numpy and a GUI
stack into a package that must start fast, and every script is one more thing that can throw a console
error. Three chart kinds of rectangles, lines and text are ~200 lines here; the output has no JavaScript,
renders in any browser (and in Markdown viewers that allow SVG), every mark carries a ``<title>`` tooltip,
and tests can read the numbers straight from the markup. All text is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948", "#9c755f", "#bab0ac")
LABEL_W, PLOT_W, ROW_H = 300, 460, 22
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


@dataclass(frozen=True)
class Point:
    """One pass@k estimate: ``label`` row text, ``group`` picks the colour (one per model)."""

    label: str
    value: float
    low: float
    high: float
    group: str


@dataclass
class LineageNode:
    label: str
    kind: str  # "source", "stage" or "model"
    title: str = ""
    inputs: list[str] = field(default_factory=list)  # further inputs a stage took (merge models, data files)


def _t(text: object) -> str:
    return escape(str(text), quote=True)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg(width: float, height: float, body: list[str], label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{_t(label)}" {FONT}>'
            + "".join(body) + "</svg>")


def _x(value: float) -> float:
    return LABEL_W + max(0.0, min(1.0, value)) * PLOT_W


def error_bars(points: list[Point], title: str = "pass@k with 95% CI") -> str:
    """A dot per estimate with its CI as a horizontal whisker, on a shared 0–100% axis."""
    colours = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(dict.fromkeys(p.group for p in points))}
    top, height = 10, 10 + ROW_H * len(points) + 30
    body = []
    for tick in range(0, 101, 25):
        x = _x(tick / 100)
        body.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - 24}" stroke="#ddd"/>'
                    f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" fill="#555">{tick}%</text>')
    for i, p in enumerate(points):
        y = top + ROW_H * i + ROW_H / 2
        colour, lo, hi, mid = colours[p.group], _x(p.low), _x(p.high), _x(p.value)
        tip = _t(f"{p.label}: {100 * p.value:.2f}% (95% CI {100 * p.low:.1f}–{100 * p.high:.1f}%)")
        body.append(f'<g class="point" data-value="{p.value!r}" data-low="{p.low!r}" data-high="{p.high!r}">'
                    f"<title>{tip}</title>"
                    f'<text x="{LABEL_W - 8}" y="{y + 4:.1f}" text-anchor="end">{_t(_clip(p.label, 44))}</text>'
                    f'<line x1="{lo:.1f}" y1="{y:.1f}" x2="{hi:.1f}" y2="{y:.1f}" stroke="{colour}" stroke-width="2"/>'
                    f'<line x1="{lo:.1f}" y1="{y - 5:.1f}" x2="{lo:.1f}" y2="{y + 5:.1f}" stroke="{colour}"/>'
                    f'<line x1="{hi:.1f}" y1="{y - 5:.1f}" x2="{hi:.1f}" y2="{y + 5:.1f}" stroke="{colour}"/>'
                    f'<circle cx="{mid:.1f}" cy="{y:.1f}" r="4.5" fill="{colour}"/>'
                    f'<text x="{LABEL_W + PLOT_W + 8}" y="{y + 4:.1f}">{100 * p.value:.1f}%</text></g>')
    return _svg(LABEL_W + PLOT_W + 60, height, body, title)


def rate_colour(rate: float | None) -> str:
    """Red (0) through yellow (0.5) to green (1); grey when the run did not evaluate the task."""
    if rate is None:
        return "#e6e6e6"
    stops = ((0.0, (215, 48, 39)), (0.5, (254, 224, 139)), (1.0, (26, 152, 80)))
    for (a, ca), (b, cb) in zip(stops, stops[1:]):
        if rate <= b:
            f = (rate - a) / (b - a)
            return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(ca, cb))
    return "#1a9850"


def heat_map(rows: list[tuple[str, dict[str, tuple[int, int]]]], tasks: list[str], title: str) -> str:
    """Rows (a run's label and its task -> (n, c)) by task columns; a cell's colour is the rate c / n."""
    cell = max(4.0, min(14.0, 900 / max(1, len(tasks))))
    top, height = 24, 24 + ROW_H * len(rows) + 44
    width = LABEL_W + cell * len(tasks) + 20
    body = [f'<text x="{LABEL_W}" y="14" fill="#555">{len(tasks)} tasks → (hover a cell for its task)</text>']
    grid = ' stroke="#fff" stroke-width="0.5"' if cell >= 6 else ""
    for i, (label, scores) in enumerate(rows):
        y = top + ROW_H * i
        body.append(f'<text x="{LABEL_W - 8}" y="{y + ROW_H / 2 + 4:.1f}" text-anchor="end">'
                    f"<title>{_t(label)}</title>{_t(_clip(label, 44))}</text>")
        for j, task in enumerate(tasks):
            score = scores.get(task)
            rate = None if score is None else (score[1] / score[0] if score[0] else 0.0)
            tip = f"{task}: not run" if score is None else f"{task}: {score[1]}/{score[0]} passed"
            body.append(f'<rect x="{LABEL_W + cell * j:.1f}" y="{y + 2}" width="{cell:.1f}" height="{ROW_H - 4}" '
                        f'fill="{rate_colour(rate)}"{grid}><title>{_t(label)} · {_t(tip)}</title></rect>')
    step = max(1, round(60 / cell))
    for j in range(0, len(tasks), step):
        x = LABEL_W + cell * j
        body.append(f'<text x="{x:.1f}" y="{top + ROW_H * len(rows) + 14}" fill="#555" font-size="10">'
                    f"{_t(tasks[j].rsplit('/', 1)[-1])}</text>")
    legend_y = top + ROW_H * len(rows) + 24
    for k, (rate, text) in enumerate(((0.0, "never passes"), (0.5, "half the samples"), (1.0, "always passes"),
                                      (None, "not run"))):
        x = LABEL_W + 130 * k
        body.append(f'<rect x="{x}" y="{legend_y}" width="12" height="12" fill="{rate_colour(rate)}"/>'
                    f'<text x="{x + 16}" y="{legend_y + 10}" fill="#555">{text}</text>')
    return _svg(max(width, LABEL_W + 540), height, body, title)


def _box(x: float, y: float, w: float, node_label: str, title: str, fill: str) -> str:
    return (f'<g><title>{_t(title or node_label)}</title>'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w}" height="28" rx="6" fill="{fill}" stroke="#777"/>'
            f'<text x="{x + w / 2:.1f}" y="{y + 18:.1f}" text-anchor="middle">{_t(_clip(node_label, 22))}</text></g>')


def _arrow(x1: float, y1: float, x2: float, y2: float) -> str:
    """A line with a triangular head at (x2, y2); drawn as a polygon, so no shared <marker> ids are needed."""
    import math

    angle = math.atan2(y2 - y1, x2 - x1)
    left = (x2 - 8 * math.cos(angle - 0.4), y2 - 8 * math.sin(angle - 0.4))
    right = (x2 - 8 * math.cos(angle + 0.4), y2 - 8 * math.sin(angle + 0.4))
    return (f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#777"/>'
            f'<polygon points="{x2:.1f},{y2:.1f} {left[0]:.1f},{left[1]:.1f} {right[0]:.1f},{right[1]:.1f}" '
            f'fill="#777"/>')


def lineage_graph(nodes: list[LineageNode], title: str) -> str:
    """Source → stage → … → model, left to right; a stage's further inputs sit above it with arrows down."""
    w, gap = 150, 40
    has_inputs = any(node.inputs for node in nodes)
    y = 40 if has_inputs else 8
    fills = {"source": "#eef3fb", "stage": "#fff6e0", "model": "#e8f5e9"}
    body = []
    for i, node in enumerate(nodes):
        x = 8 + i * (w + gap)
        body.append(_box(x, y, w, node.label, node.title, fills.get(node.kind, "#fff")))
        if i:
            body.append(_arrow(x - gap, y + 14, x - 1, y + 14))
        if node.inputs:
            body.append(f'<g><title>{_t(", ".join(node.inputs))}</title><text x="{x + w / 2:.1f}" y="14" '
                        f'text-anchor="middle" fill="#555" font-size="11">'
                        f'+ {_t(_clip(", ".join(node.inputs), 28))}</text></g>')
            body.append(_arrow(x + w / 2, 19, x + w / 2, y - 1))
    return _svg(16 + len(nodes) * (w + gap) - gap, y + 36, body, title)


__all__ = ["Point", "LineageNode", "error_bars", "heat_map", "lineage_graph", "rate_colour", "PALETTE"]
