"""The merge verb: check the inputs, stream every tensor through a method from the ``merge`` registry,
write the model and its report (``report.json``, and ``merge_report.json`` as earlier versions named it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from codeladder.errors import LadderError
from codeladder.models.checkpoint import CheckpointWriter, now
from codeladder.models.integrity import full_config, require_model_folder, require_tokenizer
from codeladder.models.lazy import DTYPES, LazyTensors
from codeladder.models.lineage import report_dict, to_json
from codeladder.registry import registry
from codeladder.transforms.merge.params import MergeModelsParams, MethodParams
from codeladder.transforms.merge.base import (CHUNK_ELEMENTS, Chunk, MergeMethod, MergeOutput,
                                              TensorReport, Workspace, largest_chunk)

FLOAT_DTYPES = ("F32", "F16", "BF16", "F64")
HOLD_ELEMENTS = 1 << 24  # a tensor up to this size per input is read once for a method's two passes (64 MB f32)
LEGACY_REPORT = "merge_report.json"  # the report's name before report.json; earlier docs and users read it


@dataclass
class MergeReport:
    """``report.json`` of a merge: the parameters, a summary, and per-tensor norms and sign conflicts."""

    method: str
    models: list[str]
    base: str | None
    weights: list[float]
    t: float
    density: float
    seed: int
    summary: dict = field(default_factory=dict)
    tensors: dict = field(default_factory=dict)


def _method(params: MergeModelsParams, weights: tuple[float, ...], chunk_elements: int) -> tuple[MergeMethod,
                                                                                                MethodParams]:
    """The method (from the registry) and its own knobs, checked by its own params class."""
    entry = registry("merge").get(params.method, "--method")
    knobs = entry.params.of(**{**dict(params), "weights": weights})
    engine = entry.create()
    if engine.normalizes_weights and sum(weights) == 0:
        raise LadderError("--weights: they sum to 0; a weighted average needs a non-zero total")
    if chunk_elements < 1:
        raise LadderError(f"chunk_elements {chunk_elements}: must be at least 1")
    return engine, knobs


def _check_inputs(method: MergeMethod, models: list[Path], base: Path | None, weights: tuple[float, ...]) -> dict:
    """Count and integrity of the inputs; returns the config of the first (the base if given)."""
    if method.needs_base and base is None:
        raise LadderError(f"--method {method.name} needs --base DIR (task vectors are taken against it)")
    ends = len(models) + (1 if base is not None and method.base_is_endpoint else 0)
    if ends < method.min_models or (method.max_models is not None and ends > method.max_models):
        raise LadderError(f"--method {method.name}: needs {method.arity()}")
    if len(weights) != len(models):
        raise LadderError(f"--weights: {len(weights)} given for {len(models)} models")
    configs = [require_model_folder(folder, "--base" if folder == base else "model", tokenizer=False)
               for folder in [*([base] if base else []), *models]]
    return configs[0]


def _tokenizer_source(given: str | Path | None, first: Path, vocab_size: int) -> Path:
    source = Path(given) if given else first
    if given and not source.is_dir():
        raise LadderError(f"--tokenizer-source {given}: no such folder; give a model folder holding the tokenizer")
    require_tokenizer(source, vocab_size)
    return source


def _check_shapes(readers: list[LazyTensors], labels: list[Path]) -> None:
    reference = readers[0].infos
    for reader, label in zip(readers[1:], labels[1:]):
        missing = sorted(set(reference) ^ set(reader.infos))
        if missing:
            raise LadderError(f"{label}: tensor names differ from {labels[0]} (e.g. {missing[0]}); "
                              "only models of one architecture merge")
        for name, info in reference.items():
            if reader.infos[name].shape != info.shape:
                hint = (" (different vocabularies: merge models that share a tokenizer)"
                        if "embed" in name or "lm_head" in name else "")
                raise LadderError(f"{label}: {name} has shape {reader.infos[name].shape}, "
                                  f"{labels[0]} has {info.shape}{hint}")


def merge_models(models: list[str | Path], method: str, out: str | Path, *, chunk_elements: int = CHUNK_ELEMENTS,
                 show_progress: bool = False, **settings) -> dict:
    """:func:`merge` from keyword arguments named as the flags are (``base``, ``weights``, ``t``, ``density``,
    ``seed``, ``tokenizer_source``)."""
    return merge(MergeModelsParams(models=models, method=method, output=out, **settings), chunk_elements,
                 show_progress)


def merge(params: MergeModelsParams, chunk_elements: int = CHUNK_ELEMENTS, show_progress: bool = False) -> dict:
    """Merge ``params.models`` (optionally against ``params.base``) into ``params.output``; returns the report."""
    models, base_path = [Path(m) for m in params.models], params.base
    weights = tuple(params.weights) if params.weights else tuple(1.0 for _ in models)
    engine, knobs = _method(params, weights, chunk_elements)
    config = _check_inputs(engine, models, base_path, weights)
    first = base_path or models[0]
    vocab_size = config.get("vocab_size") or full_config(first, config)["vocab_size"]  # transformers only if absent
    source = _tokenizer_source(params.tokenizer_source, first, vocab_size)
    labels = [*models, *([base_path] if base_path else [])]
    started = now()
    with CheckpointWriter(params.output, tokenizer_source=source, config=config, lineage_source=first,
                          lineage_parents=labels, inputs=labels) as writer:
        writer.fingerprint_inputs(labels)
        readers = [LazyTensors(m) for m in labels]
        try:
            _check_shapes(readers, labels)
            report = _stream(writer, readers[:len(models)], readers[len(models):] or [None], engine, knobs,
                             chunk_elements, show_progress)
        finally:
            for reader in readers:
                reader.close()
        merged = MergeReport(params.method, [str(m) for m in models], str(base_path) if base_path else None,
                             list(weights), params.t, params.density, params.seed, _summarize(report), report)
        full = report_dict(merged)
        stage_params = {k: v for k, v in full.items() if k not in ("summary", "tensors")}
        writer.finish("merge", stage_params, started_at=started, report=merged, extras={LEGACY_REPORT: to_json(full)})
    return full


merge_verb = merge  # ``ladder merge`` (the verb table calls it with show_progress=True)


def _stream(writer: CheckpointWriter, readers: list[LazyTensors], bases: list[LazyTensors | None],
            engine: MergeMethod, params: MethodParams, chunk_elements: int, show_progress: bool) -> dict[str, dict]:
    """Merge every tensor chunk by chunk straight into the writer's shards; returns per-tensor reports."""
    from codeladder.progress import progress_bar

    base_reader = bases[0]
    report: dict[str, dict] = {}
    specs = [(name, info.shape, info.dtype) for name, info in readers[0].infos.items()]
    work = Workspace(largest_chunk(readers[0], chunk_elements))
    two_passes = type(engine).prepare is not MergeMethod.prepare
    held: dict[str, list[Chunk]] = {}  # a tensor's chunks, kept from the prepare pass for the combine pass
    parts = [0]

    def read(reader: LazyTensors, key: str, name: str, rows: tuple[int, int] | None) -> torch.Tensor:
        stored = reader.read(name, rows, into=work.raw("read", reader.nbytes(name, rows)))  # consumed at once
        return work.take(key, stored.shape).copy_(stored)  # widened to float32 (exact)

    def chunks_of(name: str):
        info = readers[0].infos[name]
        step = max(1, chunk_elements // max(1, info.numel // max(1, info.rows)))
        hold = two_passes and info.numel <= HOLD_ELEMENTS

        def iterate():
            if name in held:
                yield from held[name]
                return
            kept: list[Chunk] = []
            for slot, start in enumerate(range(0, info.rows, step)):
                slot = slot if hold else 0
                rows = (start, min(info.rows, start + step)) if info.shape else None
                tensors = [read(r, f"model{i}@{slot}", name, rows) for i, r in enumerate(readers)]
                base_part = read(base_reader, f"base@{slot}", name, rows) if base_reader else None
                chunk = Chunk(rows or (0, 1), tensors, base_part, work, slot)
                kept.append(chunk)
                yield chunk
            if hold:  # only a pass that read every chunk is kept (a prepare may stop early)
                held[name] = kept
        return iterate

    def produce(name: str, sink) -> None:
        info = readers[0].infos[name]
        if info.dtype not in FLOAT_DTYPES:
            sink((base_reader or readers[0]).read(name))
            return
        dtype = getattr(torch, DTYPES[info.dtype][0])
        stats = engine.prepare(name, chunks_of(name), info.numel, params)
        tensor_report = TensorReport()
        for chunk in chunks_of(name)():
            output: MergeOutput = engine.combine(chunk, stats, params, name)
            tensor_report.add(chunk, output)
            parts[0] += 1  # two output buffers in turn: one is being written while the next chunk is made
            result = output.tensor
            sink(work.take(f"cast{parts[0] % 2}", result.shape, dtype).copy_(result))
        held.clear()
        report[name] = tensor_report.as_dict()

    with progress_bar(f"merging ({engine.name})", len(specs), show_progress) as advance:
        def produce_with_progress(name: str, sink) -> None:
            produce(name, sink)
            advance(1)

        writer.stream(specs, produce_with_progress, overlap=True)
    return report


def _summarize(report: dict[str, dict]) -> dict:
    ratios = [r["norm_ratio"] for r in report.values() if r.get("norm_ratio")]
    before = [r["sign_conflicts_before"] for r in report.values() if "sign_conflicts_before" in r]
    after = [r["sign_conflicts_after"] for r in report.values() if "sign_conflicts_after" in r]
    summary = {"tensors": len(report), "norm_ratio_min": min(ratios, default=None),
               "norm_ratio_max": max(ratios, default=None)}
    if before:
        summary["sign_conflicts_before"] = sum(before) / len(before)
        summary["sign_conflicts_after"] = sum(after) / len(after)
    return summary


def describe(report: dict, out: str | Path) -> str:
    """One readable line for a merge report (``--json`` prints the report itself)."""
    summary = report["summary"]
    line = f"merged {len(report['models'])} model(s) with {report['method']} into {out}: {summary['tensors']} tensors"
    if summary["norm_ratio_min"] is not None:
        line += f", output/input norm ratio {summary['norm_ratio_min']:.3f}-{summary['norm_ratio_max']:.3f}"
    if "sign_conflicts_before" in summary:
        line += (f", sign conflicts {100 * summary['sign_conflicts_before']:.1f}% -> "
                 f"{100 * summary['sign_conflicts_after']:.1f}%")
    return f"{line}; per-tensor report in {Path(out) / 'report.json'}"


__all__ = ["merge", "merge_verb", "merge_models", "describe", "MergeReport", "Chunk"]
