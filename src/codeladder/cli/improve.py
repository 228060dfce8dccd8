"""The improve panel's renderers: merge, merge-adapter, prune, quantize, finetune, distill, tune and the data verbs
(``ladder data sft|pairs|prep|split|calibration|decontaminate``); the verbs are in codeladder/verbs.py."""

from __future__ import annotations

from rich.table import Table

from codeladder.cli.output import console, key_value_table, line_list, print_json, print_json_or
from codeladder.data.decontaminate import DecontaminateParams
from codeladder.data.pairs import PairsParams, meta_path
from codeladder.data.prep import PrepParams
from codeladder.data.sft import SftParams
from codeladder.data.split import CalibrationParams, SplitParams
from codeladder.transforms.adapter import MergeAdapterParams
from codeladder.transforms.finetune import FinetuneParams
from codeladder.transforms.finetune.distill import DistillParams
from codeladder.transforms.merge.params import MergeModelsParams
from codeladder.transforms.prune import PruneParams
from codeladder.transforms.quantize import QuantizeParams, describe
from codeladder.tune import TuneParams


def render_merge(report: dict, params: MergeModelsParams, as_json: bool) -> None:
    if as_json:
        print_json({k: v for k, v in report.items() if k != "tensors"})
        return
    from codeladder.transforms.merge import describe as describe_merge

    console.print(describe_merge(report, params.output), highlight=False)


def render_adapter(info: dict, params: MergeAdapterParams, as_json: bool) -> None:
    if as_json:
        print_json(info)
        return
    console.print(f"merged {info['modules']} LoRA module(s) (scale {info['scale']:g}) into {params.output}")


def render_prune(report: dict, params: PruneParams, as_json: bool) -> None:
    if as_json:
        print_json(report)
        return
    line = (f"pruned {params.folder} -> {params.output}: {params.method} {params.structure}, "
            f"sparsity {report['sparsity_achieved']:.3f}")
    if "perplexity_after" in report:
        line += f", perplexity {report['perplexity_before']:.3f} -> {report['perplexity_after']:.3f}"
    console.print(line)


def render_quantize(report: dict, params: QuantizeParams, as_json: bool) -> None:
    if as_json:
        print_json(report)
        return
    console.print(key_value_table(f"ladder quantize {params.folder}", describe(report)))


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def render_finetune(report: dict, params: FinetuneParams, as_json: bool) -> None:
    if as_json:
        print_json(report)
        return
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


def render_pairs(meta: dict, params: PairsParams, as_json: bool) -> None:
    if as_json:
        print_json({k: v for k, v in meta.items() if k != "sources"})
        return
    rows = [("benchmark (split)", f"{meta['benchmark']} ({meta['split']})"), ("format", meta["format"]),
            ("tasks", str(meta["tasks"])), ("borderline tasks", str(meta["borderline_tasks"])),
            ("pairs", str(meta["pairs"])), ("contaminated", "YES (test split)" if meta["contaminated"] else "no"),
            ("metadata", str(meta_path(params.output)))]
    console.print(key_value_table(f"ladder data pairs -> {params.output}", rows))


def render_decontaminate(report: dict, params: DecontaminateParams, as_json: bool) -> int | None:
    if as_json:
        print_json({k: v for k, v in report.items() if k != "rows"})
    else:
        table = Table(title=f"ladder data decontaminate {params.file}: {report['rows_contaminated']} of "
                            f"{report['rows_total']} rows match a benchmark")
        for column in ("benchmark", "rows", "tasks", "matches by kind"):
            table.add_column(column)
        for name, entry in report["overlap"].items():
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(entry["kinds"].items()))
            table.add_row(name, str(entry["rows"]), str(entry["tasks"]), kinds)
        console.print(table)
        flagged = [r["line"] for r in report["rows"] if r["contaminated"]]
        if flagged:
            console.print(f"contaminated lines (0-based): {line_list(flagged)}", highlight=False)
    return None


def render_sft(meta: dict, params: SftParams, as_json: bool) -> None:
    print_json_or(meta, as_json, f"wrote {meta['rows']} rows ({meta['tasks']} tasks of {meta['benchmark']}, "
                                 f"{len(meta['dropped_contaminated'])} dropped as contaminated) to {meta['file']}")


def render_prep(meta: dict, params: PrepParams, as_json: bool) -> None:
    if as_json:
        print_json(meta)
        return
    rows = [("files", f"{meta['files']} ({meta['files_unparsable']} not parsing)"),
            ("definitions", str(meta["definitions"])),
            *[(f"dropped: {reason.replace('_', ' ')}", str(count)) for reason, count in meta["dropped"].items()],
            ("rows written", str(meta["rows"])), ("metadata", str(meta_path(params.output)))]
    console.print(key_value_table(f"ladder data prep {params.source} -> {params.output}", rows))


def render_split(metas: dict, params: SplitParams, as_json: bool) -> None:
    if as_json:
        print_json(metas)
        return
    rows = [(part, f"{meta['rows']} rows -> {meta['file']}") for part, meta in metas.items()]
    console.print(key_value_table(f"ladder data split {params.file} (seed {params.seed})", rows))


def render_calibration(meta: dict, params: CalibrationParams, as_json: bool) -> None:
    if as_json:
        print_json({k: v for k, v in meta.items() if k != "lines"})
        return
    console.print(f"wrote {meta['rows']} of {meta['rows_in_source']} rows (seed {meta['seed']}) to {meta['file']}")


RENDERERS = {"merge": render_merge, "merge-adapter": render_adapter, "prune": render_prune, "quantize": render_quantize,
             "finetune": render_finetune, "distill": render_distill, "tune": render_tune, "data sft": render_sft,
             "data pairs": render_pairs, "data prep": render_prep, "data split": render_split,
             "data calibration": render_calibration, "data decontaminate": render_decontaminate}
