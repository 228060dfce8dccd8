"""The improve panel: merge, merge-adapter, prune, quantize (each a params class in transforms/)."""

from __future__ import annotations

from codeladder.cli.build import Verb
from codeladder.cli.output import console, key_value_table, print_json
from codeladder.transforms.adapter import MergeAdapterParams, merge_adapter_verb
from codeladder.transforms.merge.params import MergeModelsParams, merge_verb
from codeladder.transforms.prune import PruneParams, prune_verb
from codeladder.transforms.quantize import QuantizeParams, describe, quantize_verb


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


VERBS = [
    Verb("merge", MergeModelsParams, merge_verb, render_merge, panel="improve", json=True),
    Verb("merge-adapter", MergeAdapterParams, merge_adapter_verb, render_adapter, panel="improve", json=True),
    Verb("prune", PruneParams, prune_verb, render_prune, panel="improve", json=True),
    Verb("quantize", QuantizeParams, quantize_verb, render_quantize, panel="improve", json=True),
]
