"""``ladder merge-adapter BASE ADAPTER -o OUT``: fold a LoRA adapter into its base, W' = W + s * B @ A.

``s`` is ``lora_alpha / r`` (``lora_alpha / sqrt(r)`` with ``use_rslora``). The base is streamed
tensor by tensor; an adapter module that matches no base weight is an error that lists them all,
never a silent no-op. The model is written through the one writer with ``report.json``
(:class:`AdapterReport`). (Named ``adapter``, not ``lora``: LoRA *training* is a separate verb.)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from codeladder.errors import LadderError
from codeladder.models.checkpoint import CheckpointWriter, now
from codeladder.models.integrity import read_json_file, require_model_folder
from codeladder.models.lazy import LazyTensors, read_header

from codeladder.params import OUTPUT, VerbParams, option

if TYPE_CHECKING:
    import torch

PREFIXES = ("base_model.model.",)


class MergeAdapterParams(VerbParams):
    """Fold a LoRA adapter into its base model (W + alpha/r * B @ A)."""

    verb: ClassVar[str] = "merge-adapter"
    base: Path = option(..., "base model folder", argument=True)
    adapter: Path = option(..., "PEFT LoRA adapter folder", argument=True)
    output: Path = option(..., "model folder to write", flags=OUTPUT)


def merge_adapter_verb(params: MergeAdapterParams) -> dict:
    return merge_adapter(params.base, params.adapter, params.output)


@dataclass
class AdapterReport:
    """``report.json`` of merge-adapter: which adapter, and the scale each B @ A was added with."""

    adapter: str
    rank: int
    alpha: float
    scale: float
    modules: int  # base weights changed


def _adapter_weights(adapter: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    path = adapter / "adapter_model.safetensors"
    if not path.is_file():
        raise LadderError(f"{adapter}: no adapter_model.safetensors (a PEFT LoRA adapter folder is expected)")
    read_header(path)  # one line for a truncated or corrupt file
    return load_file(str(path))


def read_adapter_config(adapter: Path) -> dict:
    """``adapter_config.json`` of a PEFT LoRA adapter, with a positive rank and a numeric alpha."""
    path = adapter / "adapter_config.json"
    if not adapter.is_dir():
        raise LadderError(f"{adapter}: no such adapter folder")
    settings = read_json_file(path, "save the adapter again with PEFT's save_pretrained")
    if not isinstance(settings, dict):
        raise LadderError(f"{path}: expected a JSON object; save the adapter again with PEFT's save_pretrained")
    if settings.get("peft_type", "LORA") != "LORA":
        raise LadderError(f"{path}: peft_type {settings['peft_type']!r}; only LoRA adapters are merged")
    if settings.get("use_dora"):
        raise LadderError(f"{path}: a DoRA adapter (use_dora); merge it with PEFT's merge_and_unload instead")
    rank, alpha = settings.get("r"), settings.get("lora_alpha", settings.get("r"))
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
        raise LadderError(f"{path}: r = {rank!r}; the LoRA rank must be a positive integer")
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not math.isfinite(alpha):
        raise LadderError(f"{path}: lora_alpha = {alpha!r}; expected a number")
    return settings


def lora_pairs(weights: dict[str, torch.Tensor]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Base weight name -> (A, B)."""
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in weights.items():
        marker = next((m for m in (".lora_A.", ".lora_B.") if m in key), None)
        if marker is None or not key.endswith(f"{marker}weight"):
            raise LadderError(f"adapter: tensor {key!r} is not a LoRA A/B matrix (modules_to_save, LoRA biases, "
                              "embeddings or DoRA magnitudes are not merged here); "
                              "merge it with PEFT's merge_and_unload")
        module = key.split(marker)[0]
        for prefix in PREFIXES:
            module = module[len(prefix):] if module.startswith(prefix) else module
        pairs.setdefault(f"{module}.weight", {})[marker.strip(".")] = tensor
    broken = [name for name, pair in pairs.items() if set(pair) != {"lora_A", "lora_B"}]
    if broken:
        raise LadderError(f"adapter: lora_A/lora_B pairs incomplete for {', '.join(broken[:5])}")
    if not pairs:
        raise LadderError("adapter: adapter_model.safetensors holds no LoRA weights")
    return {name: (pair["lora_A"], pair["lora_B"]) for name, pair in pairs.items()}


def _check_fit(adapter: Path, pairs: dict, infos: dict, rank: int, transpose: bool) -> None:
    """Every adapter module names a base weight, and its A/B shapes fit that weight: else it was made
    for another model."""
    unmatched = sorted(name for name in pairs if name not in infos)
    if unmatched:
        raise LadderError(f"{adapter}: {len(unmatched)} adapter module(s) match no base weight: "
                          f"{', '.join(unmatched[:8])}{' …' if len(unmatched) > 8 else ''}; "
                          "the adapter was made for another model")
    for name, (a, b) in pairs.items():
        rows, cols = infos[name].shape[-2:] if len(infos[name].shape) >= 2 else (None, None)
        out_features, in_features = (cols, rows) if transpose else (rows, cols)
        if a.dim() != 2 or b.dim() != 2 or a.shape[0] != b.shape[1] or (b.shape[0], a.shape[1]) != (out_features,
                                                                                                      in_features):
            raise LadderError(f"{adapter}: {name} has LoRA A {tuple(a.shape)} and B {tuple(b.shape)}, the base weight "
                              f"{infos[name].shape}: the adapter was made for another model")
        if a.shape[0] != rank:
            raise LadderError(f"{adapter}: {name} has rank {a.shape[0]}, adapter_config.json says r = {rank}; "
                              "save the adapter again")


def merge_adapter(base: str | Path, adapter: str | Path, out: str | Path,
                  lineage_source: str | Path | None = None) -> dict:
    """Fold the LoRA ``adapter`` into ``base``, written to ``out``; returns the report. The lineage continues
    ``lineage_source`` (default: the base; ``ladder finetune`` passes its adapter, whose lineage holds the
    training stage)."""
    base, adapter = Path(base), Path(adapter)
    settings = read_adapter_config(adapter)
    config = require_model_folder(base, "base")
    rank, alpha = settings["r"], settings.get("lora_alpha", settings["r"])
    scale = alpha / math.sqrt(rank) if settings.get("use_rslora") else alpha / rank
    pairs = lora_pairs(_adapter_weights(adapter))
    transpose = bool(settings.get("fan_in_fan_out"))
    started = now()
    with CheckpointWriter(out, tokenizer_source=base, config=config, lineage_source=Path(lineage_source or base),
                          inputs=[base, adapter]) as writer:
        import torch

        from codeladder.transforms.merge.base import Workspace

        reader = LazyTensors(base)
        work = Workspace()  # buffers reused from tensor to tensor (see merge.base): no fresh memory per weight
        try:
            _check_fit(adapter, pairs, reader.infos, rank, transpose)

            def produce(name: str, sink) -> None:
                weight = reader.read(name, into=work.raw("read", reader.nbytes(name)))
                if name in pairs:
                    a, b = pairs[name]
                    update = torch.mm(b.float(), a.float(), out=work.take("update", (b.shape[0], a.shape[1])))
                    wide = work.take("wide", weight.shape).copy_(weight)
                    wide.add_(update.mul_(scale).T if transpose else update.mul_(scale))  # W + scale * (B @ A)
                    weight = work.take("cast", weight.shape, weight.dtype).copy_(wide)
                sink(weight)

            writer.stream([(n, i.shape, i.dtype) for n, i in reader.infos.items()], produce)
        finally:
            reader.close()
        report = AdapterReport(str(adapter), rank, alpha, scale, len(pairs))
        writer.finish("merge-adapter", asdict(report), started_at=started, report=report)
    return asdict(report)
