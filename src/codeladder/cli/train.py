"""The training verbs of the improve panel: finetune (lora, qlora, full, dpo) and distill (params in
transforms/finetune/)."""

from __future__ import annotations

from codeladder.cli.build import Verb
from codeladder.cli.output import console, print_json
from codeladder.transforms.finetune import FinetuneParams, finetune_verb
from codeladder.transforms.finetune.distill import DistillParams, distill_verb
from codeladder.tune import TuneParams, tune_verb


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def render_finetune(report: dict, params: FinetuneParams, as_json: bool) -> None:
    if as_json:
        print_json(report)
        return
    from rich.table import Table

    table = Table(title=f"ladder finetune {params.base} ({params.method}, {report['steps']} steps)")
    for column in ("epoch", "train loss", "val loss", "learning rate", "tokens/s", "peak MB"):
        table.add_column(column, justify="right")
    for row in report["epochs"]:
        table.add_row(str(row["epoch"]), _fmt(row["train_loss"], ".4f"), _fmt(row["val_loss"], ".4f"),
                      _fmt(row["learning_rate"], ".2e"), _fmt(row["tokens_per_s"], ".0f"),
                      _fmt(row["peak_memory_mb"], ".0f"))
    console.print(table)
    if "dpo" in report and report["dpo"]["steps"]:
        steps = report["dpo"]["steps"]
        console.print(f"dpo: reward margin {_fmt(steps[0]['reward_margin'], '.4f')} -> "
                      f"{_fmt(steps[-1]['reward_margin'], '.4f')}, accuracy {_fmt(steps[-1]['reward_accuracy'], '.2f')}"
                      f" (beta {report['dpo']['beta']}, {report['dpo']['loss_type']})")
    for name in ("adapter", "merged"):
        if name in report["outputs"]:
            console.print(f"{name}: {report['outputs'][name]}")
    console.print(f"report: {params.output}/train_report.json")


def render_distill(report: dict, params: DistillParams, as_json: bool) -> None:
    if as_json:
        print_json(report)
        return
    answers, gate = report["answers"], report["gate"]
    console.print(f"teacher {params.teacher} ({report['teacher']['backend']}): "
                  + (f"pass@1 {gate['pass_at_1']:.3f} on {gate['benchmark']} >= {gate['min_teacher_pass']}"
                     if gate else "no gate (--teacher-run not given)"))
    dropped = ", ".join(f"{k} {v}" for k, v in answers["dropped_by_reason"].items()) or "none"
    console.print(f"answers: {answers['kept']} of {answers['total']} kept ({answers['kept_tested']} passed their "
                  f"tests, {answers['kept_untested']} untested); dropped: {dropped}")
    render_finetune(report["finetune"], params.finetune_params(), as_json=False)
    console.print(f"distill report: {params.output}/distill_report.json")


def render_tune(result: dict, params: TuneParams, as_json: bool) -> None:
    if as_json:
        print_json(result)
        return
    from rich.table import Table

    table = Table(title=f"ladder tune {params.base} ({params.method}, {result['objective']}, "
                        f"{result['finished']}/{result['budget']} finished)")
    for column in ("trial", "state", result["objective"], "settings", "seconds"):
        table.add_column(column)
    for trial in result["trials"]:
        settings = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                             for k, v in (trial["settings"] or {}).items())
        table.add_row(str(trial["number"]), trial["state"].lower(), _fmt(trial["value"], ".4f"), settings,
                      _fmt(trial["seconds"], ".0f"))
    console.print(table)
    if result["failed_on_resume"]:
        console.print(f"failed on resume (their process was gone): trials {result['failed_on_resume']}")
    if result["best"]:
        console.print(f"best: trial {result['best']['number']} ({result['objective']} "
                      f"{result['best']['value']:.4f}); recipe {result['best_recipe']}")
    if result["importances"]:
        console.print("importance: " + ", ".join(f"{k} {v:.2f}" for k, v in result["importances"].items()))
    console.print(f"study: {params.output}/study.json")


VERBS = [
    Verb("finetune", FinetuneParams, finetune_verb, render_finetune, panel="improve", json=True),
    Verb("distill", DistillParams, distill_verb, render_distill, panel="improve", json=True, engine_options=True),
    Verb("tune", TuneParams, tune_verb, render_tune, panel="improve", json=True),
]
