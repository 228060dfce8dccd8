"""The model card (README.md), written only from result files: lineage, run summaries, contract outcomes.

Every number in the card comes from a file the toolkit wrote, and the card names that file next to it, so a
reader can trace each claim. The metadata block is ``huggingface_hub``'s ``ModelCardData`` with one
``EvalResult`` per benchmark (the Hub's ``model-index``), parsed back by ``ModelCard`` in the tests. The body is
assembled here (no Jinja template): its sections depend on which evidence exists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from codeladder.analysis.load import is_full_run, tasks_in_benchmark, window_text

KNOWN_STAGE_KEYS = ("method", "type", "scheme", "sparsity", "structure", "density", "t", "weights", "epochs",
                    "learning_rate", "rank", "alpha", "beta", "data", "data_sha256", "contaminated", "base", "models")


@dataclass
class Evidence:
    model: Path
    lineage: dict
    runs: list[tuple[Path, dict]]  # (run folder, its summary.json)
    contracts: list[tuple[Path, dict]] = field(default_factory=list)  # (outcome file, `contracts check -o` JSON)
    quantized: dict | None = None  # a GGUF sidecar's report (size, bits per weight) when a GGUF was exported
    license: str = ""
    base_model: str = ""


def _short(value) -> str:
    """A value whole, or named by its kind and size when long: a table never shows half a value."""
    text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    if len(text) <= 60:
        return text
    if isinstance(value, str) and "/" in value:
        return "…/" + value.rstrip("/").rsplit("/", 1)[-1]
    if isinstance(value, (list, dict)):
        return f"[{len(value)} items]" if isinstance(value, list) else f"{{{len(value)} keys}}"
    return f"{text[:12]}… ({len(text)} chars)"


def _cell(value) -> str:
    """A table cell: a dict as ``key=value`` pairs, each value whole or summarised, never cut mid-value."""
    text = ", ".join(f"{k}={_short(v)}" for k, v in value.items()) if isinstance(value, dict) else _short(value)
    return text.replace("|", "\\|").replace("\n", " ")


def stage_lines(lineage: dict) -> list[str]:
    """The lineage graph as a table: each stage once, parents first, with the rows it was made from."""
    from codeladder.models.lineage import stage_id, stage_parents

    rows = ["| # | stage | from | parameters | inputs |", "|---|---|---|---|---|"]
    parents = stage_parents(lineage)
    number: dict[str, str] = {}
    for index, stage in enumerate(lineage.get("stages", []), 1):
        params = stage.get("params") or {}
        shown = {k: params[k] for k in params if k in KNOWN_STAGE_KEYS} or params
        inputs = ", ".join(_short(str(i.get("path"))) for i in stage.get("inputs", []))
        came_from = ", ".join(number.get(p) or f"`{_short(p.removeprefix('source:'))}`"
                              for p in parents.get(stage_id(stage), []))
        number[stage_id(stage)] = f"#{index}"
        rows.append(f"| {index} | `{stage.get('stage')}` | {came_from} | {_cell(shown)} | {_cell(inputs)} |")
    return rows


def scope(summary: dict, markdown: bool = True) -> str:
    """Tasks scored / tasks in the benchmark, marked when a subset."""
    size = tasks_in_benchmark(summary)
    text = f"{summary.get('num_tasks')}/{size if size is not None else '?'} tasks"
    if window_text(summary):
        text += f" ({window_text(summary)})"
    return text if is_full_run(summary) else f"{'**subset**' if markdown else 'subset'}: {text}"


def _pass_at(summary: dict) -> str:
    parts = []
    for k, value in sorted((summary.get("pass_at_k") or {}).items(), key=lambda kv: int(kv[0])):
        text = f"pass@{k} {100 * value:.1f}"
        if k == "1" and summary.get("ci95"):
            low, high = summary["ci95"]
            text += f" (95% CI {100 * low:.1f}–{100 * high:.1f})"
        parts.append(text)
    return "; ".join(parts)


def result_lines(runs: list[tuple[Path, dict]]) -> list[str]:
    rows = ["| benchmark | result | scope | n | strategy | backend | dtype | data sha256 | file |",
            "|---|---|---|---|---|---|---|---|---|"]
    for folder, summary in runs:
        generation = summary.get("generation") or {}
        rows.append(f"| {summary.get('benchmark')} | {_pass_at(summary)} | {scope(summary)} | {generation.get('n')} | "
                    f"{summary.get('strategy')} | {summary.get('backend')} | {summary.get('dtype')} | "
                    f"`{str(summary.get('dataset_sha256', ''))[:12]}` | `evidence/{folder.name}.summary.json` |")
    return rows


def contamination_lines(lineage: dict) -> list[str]:
    """What the lineage says about the training data: each training stage's data sha256 and contamination mark."""
    lines = []
    for stage in lineage.get("stages", []):
        params = stage.get("params") or {}
        if "data_sha256" not in params:
            continue
        mark = ("**contaminated**: mined from a benchmark's test split (`--allow-test-split`)"
                if params.get("contaminated") else "not marked contaminated")
        lines.append(f"- `{stage.get('stage')}` trained on `{params.get('data')}` (sha256 "
                     f"`{str(params['data_sha256'])[:16]}`): {mark}")
    return lines or ["- no training stage in the lineage"]


def contract_lines(contracts: list[tuple[Path, dict]]) -> list[str]:
    lines = []
    for path, outcome in contracts:
        for claim in outcome.get("claims", []):
            lines.append(f"- {claim['status']}: `{claim['contract']}/{claim['id']}` ({claim['kind']}) value "
                         f"{_cell(claim.get('value'))}, bound {_cell(claim.get('bound'))} — `{path.name}`")
    return lines or ["- none checked"]


def _delta_lines(runs: list[tuple[Path, dict]]) -> list[str]:
    """Each quantized (GGUF) run: its pass@1, and against the full-precision run on the same benchmark if any."""
    lines = []
    full = {s.get("benchmark"): s for _, s in runs if not str(s.get("dtype", "")).startswith("gguf")}
    for folder, summary in runs:
        if not str(summary.get("dtype", "")).startswith("gguf"):
            continue
        after = summary["pass_at_k"].get("1", 0)
        parent = full.get(summary.get("benchmark"))
        against = (f"pass@1 {100 * parent['pass_at_k'].get('1', 0):.1f} -> {100 * after:.1f} "
                   f"({100 * (after - parent['pass_at_k'].get('1', 0)):+.1f} pp; not a paired test)"
                   if parent else f"pass@1 {100 * after:.1f} (no full-precision run on this benchmark to compare)")
        lines.append(f"- {summary.get('benchmark')}: {against} with {summary.get('dtype')}, {scope(summary)} "
                     f"(`evidence/{folder.name}.summary.json`)")
    return lines


def quantization_lines(evidence: Evidence) -> list[str]:
    report = evidence.quantized
    lines = [f"- `{report['file']}` ({report.get('type')}): {report.get('bytes')} bytes, "
             f"{100 * report['size_vs_model']:.1f}% of the safetensors release (from its `.ladder.json` sidecar)"
             ] if report else ["- no GGUF file in this release"]
    return lines + (_delta_lines(evidence.runs) or ["- quality delta: no quantized run among the results"])


def card_data(evidence: Evidence, repo: str):
    from huggingface_hub import EvalResult, ModelCardData

    results = [EvalResult(task_type="text-generation", dataset_type=summary.get("benchmark"),
                          dataset_name=" ".join(filter(None, (summary.get("benchmark"), window_text(summary)))),
                          metric_type=f"pass@{k}", metric_value=round(v, 4),
                          dataset_revision=str(summary.get("dataset_sha256", ""))[:12])
               for _, summary in evidence.runs if is_full_run(summary)
               for k, v in sorted((summary.get("pass_at_k") or {}).items())]
    return ModelCardData(model_name=repo.split("/")[-1], license=evidence.license,
                         base_model=evidence.base_model or None, library_name="transformers",
                         pipeline_tag="text-generation", tags=["code", "codeladder"],
                         eval_results=results or None)


def build_card(evidence: Evidence, repo: str) -> str:
    from huggingface_hub import ModelCard

    body = [
        f"# {repo.split('/')[-1]}", "",
        f"Built with codeladder from `{evidence.base_model or 'an unnamed base'}`; every number below is read from "
        "the result file named beside it (copied into this repository under `evidence/`).", "",
        "## How it was made (lineage, `ladder.json`)", "", *stage_lines(evidence.lineage), "",
        "## Results", "", *result_lines(evidence.runs), "",
        "## Training data", "", *contamination_lines(evidence.lineage), "",
        "## Quantization", "", *quantization_lines(evidence), "",
        "## Contracts", "", *contract_lines(evidence.contracts), "",
        f"## Licence\n\n{evidence.license} (inherited from the base model unless set with `--license`).", "",
    ]
    text = f"---\n{card_data(evidence, repo).to_yaml()}\n---\n\n" + "\n".join(body)
    ModelCard(text)  # parses it back: a card the Hub cannot read is an error here, not after the upload
    return text


__all__ = ["Evidence", "build_card"]
