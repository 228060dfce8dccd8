"""Gates: ``humaneval.pass@1 >= 0.55``, ``perplexity_ratio <= 1.05``, ``size_ratio <= 0.35``, evaluated on the
stage's own result files (``summary.json``, ``report.json``, ``train_report.json``, a GGUF's sidecar).

An expression is one metric, one comparison and one number, parsed by a regular expression - never ``eval``.
Metrics are the numbers of the result file by dotted path (``timings.total_s``) plus a few derived names:

- eval: ``pass@K`` and ``BENCHMARK.pass@K`` (``pass_at_k``), ``pass@K_base``, ``ci95_low``, ``ci95_high``;
- prune, quantize (with ``text``): ``perplexity_ratio`` = after / before;
- quantize: ``size_ratio`` = file size / FP16 size (``size_vs_fp16``);
- finetune, dpo: ``train_loss``, ``val_loss`` (the last epoch's); merge: its ``summary`` keys by name;
- compare (a paired comparison of two eval stages): ``delta``, ``delta_ci95_low``, ``delta_ci95_high``, ``p_value``,
  ``tasks_gained``, ``tasks_lost`` and the 0/1 outcomes ``outcome_gained``, ``outcome_regressed``,
  ``outcome_unchanged``; and two gates of their own: ``gained(BENCH)`` (the outcome is "gained": the paired
  interval excludes zero and p < 0.05) and ``not_worse(BENCH, 2pp)`` (the delta's 95% lower bound is above -2
  points), each also checking that the comparison is on BENCH.

Every gate is checked at ``recipe plan`` against the result fields its stage declares
(:mod:`codeladder.pipeline.stages`), with a did-you-mean.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import operator
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeladder.errors import LadderError

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq,
        "!=": operator.ne}
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_GATE = re.compile(rf"\s*([A-Za-z_][\w.@+\-]*?)\s*(>=|<=|==|!=|>|<)\s*({_NUMBER})\s*")
_PAIRED = re.compile(rf"\s*(gained|not_worse)\(\s*([\w.+\-]+)\s*(?:,\s*({_NUMBER})\s*pp\s*)?\)\s*")
RESULT_FILES = ("summary.json", "train_report.json", "report.json", "compare.json")


@dataclass(frozen=True)
class Gate:
    expr: str
    metric: str
    op: str
    bound: float

    def check(self, metrics: dict[str, float]) -> dict:
        """``{expr, value, passed}``; a metric the results do not hold is an error listing those they do."""
        if self.metric not in metrics:
            shown = ", ".join(sorted(metrics)[:20])
            raise LadderError(f"gate {self.expr!r}: the stage's results have no {self.metric!r} (they have: {shown})")
        value = metrics[self.metric]
        return {"expr": self.expr, "value": value, "passed": bool(_OPS[self.op](value, self.bound))}


def _paired_gate(text: str) -> Gate | None:
    """``gained(BENCH)``: the paired comparison says gained (its interval excludes zero, p < 0.05);
    ``not_worse(BENCH, Xpp)``: the lower end of the delta's 95% interval is above -X points (non-inferiority)."""
    match = _PAIRED.fullmatch(text)
    if match is None:
        return None
    name, bench, margin = match.groups()
    if name == "gained" and margin is None:
        return Gate(text.strip(), f"{bench}.outcome_gained", "==", 1.0)
    if name == "not_worse" and margin is not None:
        return Gate(text.strip(), f"{bench}.delta_ci95_low", ">=", -float(margin) / 100)
    raise ValueError(f"{text!r}: write gained(BENCHMARK) or not_worse(BENCHMARK, 2pp)")


def parse_gate(text: Any) -> Gate:
    """``"humaneval.pass@1 >= 0.55"``, ``gained(humaneval-plus)``, ``not_worse(mbpp-plus, 2pp)`` -> Gate; anything
    else is one error line showing the forms."""
    paired = _paired_gate(text) if isinstance(text, str) else None
    if paired is not None:
        return paired
    match = _GATE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a gate; write METRIC OP NUMBER, e.g. 'humaneval.pass@1 >= 0.55' "
                         f"(OP one of {' '.join(_OPS)}), or on a compare stage gained(BENCHMARK) / "
                         "not_worse(BENCHMARK, 2pp)")
    metric, op, number = match.groups()
    return Gate(" ".join((metric, op, number)), metric, op, float(number))


def _flatten(data: dict, prefix: str, out: dict[str, float], depth: int) -> None:
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            out[name] = float(value)
        elif isinstance(value, dict) and depth < 2:
            _flatten(value, f"{name}.", out, depth + 1)


def _derived(results: dict, out: dict[str, float]) -> None:
    benchmark = results.get("benchmark")
    for key, suffix in (("pass_at_k", ""), ("pass_at_k_base", "_base")):
        for k, value in (results.get(key) or {}).items():
            out[f"pass@{k}{suffix}"] = float(value)
            if benchmark:
                out[f"{benchmark}.pass@{k}{suffix}"] = float(value)
    ci = results.get("ci95")
    if isinstance(ci, list) and len(ci) == 2:
        out["ci95_low"], out["ci95_high"] = float(ci[0]), float(ci[1])
    before, after = results.get("perplexity_before"), results.get("perplexity_after")
    if before and after is not None:
        out["perplexity_ratio"] = float(after) / float(before)
    if "size_vs_fp16" in results:
        out["size_ratio"] = float(results["size_vs_fp16"])
    epochs = results.get("epochs")
    if isinstance(epochs, list) and epochs:
        for key in ("train_loss", "val_loss"):
            if epochs[-1].get(key) is not None:
                out[key] = float(epochs[-1][key])
    if benchmark and "outcome" in results:  # a paired comparison: gained(BENCH) / not_worse(BENCH, Xpp) read these
        for key in ("outcome_gained", "outcome_regressed", "outcome_unchanged", "delta_ci95_low", "delta_ci95_high"):
            if key in results:
                out[f"{benchmark}.{key}"] = float(results[key])
    for key, value in (results.get("summary") or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out.setdefault(key, float(value))


def metrics(results: dict) -> dict[str, float]:
    """Every number a gate may name, from one stage's result document."""
    out: dict[str, float] = {}
    _flatten(results, "", out, 0)
    _derived(results, out)
    return out


def _read(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def read_results(output: Path) -> dict:
    """The result document of a stage output: a folder's summary/report, a GGUF's sidecar report, a pairs
    file's metadata; {} when it has none."""
    from codeladder.models.lineage import read_sidecar

    if output.is_dir():
        found = next((doc for name in RESULT_FILES if (doc := _read(output / name)) is not None), None)
        return found or {}
    if output.suffix == ".gguf":
        return ((read_sidecar(output) or {}).get("report")) or {}
    return _read(Path(f"{output}.meta.json")) or {}


def undeclared(gate: Gate, verb: str, declared: tuple[str, ...] | None) -> str | None:
    """A gate on a metric the stage's result file never holds (``declared``: its fnmatch patterns), with a
    did-you-mean; None when it is declared, or when the verb declares nothing (a plug-in)."""
    if declared is None or any(fnmatch.fnmatchcase(gate.metric, pattern) for pattern in declared):
        return None
    if gate.expr.startswith(("gained(", "not_worse(")):
        return (f"gate {gate.expr!r} judges a paired comparison: put it on a compare stage (before: the earlier "
                f"eval, after: this one), not on a {verb} stage")
    names = [p.replace("*", "1") for p in declared if not p.startswith("*")]  # pass@* -> pass@1
    close = difflib.get_close_matches(gate.metric, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (f"gate {gate.expr!r}: the {verb} stage's results never hold {gate.metric!r}{hint} (they hold: "
            f"{', '.join(declared)})")


def plan_problem(gate: Gate, verb: str, values: dict, declared: tuple[str, ...] | None = None) -> str | None:
    """What can be told before running: a gate on a metric the stage never produces, on a benchmark or k the
    eval stage does not compute, or a perplexity the stage is not asked to measure. None when nothing is wrong
    (or it cannot be known yet)."""
    problem = undeclared(gate, verb, declared)
    if problem:
        return problem
    if verb == "eval":
        match = re.fullmatch(r"(?:(.+)\.)?pass@(\d+)(?:_base)?", gate.metric)
        if match:
            bench, k = match.group(1), int(match.group(2))
            if bench and bench != values.get("benchmark"):
                return f"gate {gate.expr!r} names {bench}, but this stage evaluates {values.get('benchmark')}"
            if k not in tuple(values.get("k") or (1,)):
                return f"gate {gate.expr!r}: pass@{k} is not computed; add {k} to the stage's k"
    if gate.metric == "perplexity_ratio" and verb in ("prune", "quantize") and not values.get("text"):
        return f"gate {gate.expr!r}: {verb} measures perplexity only with a 'text' input; add one under inputs"
    return None


__all__ = ["Gate", "parse_gate", "metrics", "read_results", "plan_problem", "RESULT_FILES"]
