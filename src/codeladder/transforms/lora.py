"""``ladder merge-adapter BASE ADAPTER -o OUT``: fold a LoRA adapter into its base, W' = W + s * B @ A.

``s`` is ``lora_alpha / r`` (``lora_alpha / sqrt(r)`` with ``use_rslora``). The base is streamed
tensor by tensor; an adapter module that matches no base weight is an error that lists them all,
never a silent no-op.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from codeladder.errors import LadderError
from codeladder.models.checkpoint import CheckpointWriter, now
from codeladder.models.lazy import LazyTensors

PREFIXES = ("base_model.model.",)


def _adapter_weights(adapter: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    path = adapter / "adapter_model.safetensors"
    if not path.exists():
        raise LadderError(f"{adapter}: no adapter_model.safetensors (a PEFT LoRA adapter folder is expected)")
    return load_file(str(path))


def lora_pairs(weights: dict[str, torch.Tensor]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Base weight name -> (A, B)."""
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in weights.items():
        for marker in (".lora_A.", ".lora_B."):
            if marker in key:
                module = key.split(marker)[0]
                for prefix in PREFIXES:
                    module = module[len(prefix):] if module.startswith(prefix) else module
                pairs.setdefault(f"{module}.weight", {})[marker.strip(".")] = tensor
    broken = [name for name, pair in pairs.items() if set(pair) != {"lora_A", "lora_B"}]
    if broken:
        raise LadderError(f"adapter: lora_A/lora_B pairs incomplete for {', '.join(broken[:5])}")
    return {name: (pair["lora_A"], pair["lora_B"]) for name, pair in pairs.items()}


def merge_adapter(base: str | Path, adapter: str | Path, out: str | Path) -> dict:
    base, adapter = Path(base), Path(adapter)
    config_path = adapter / "adapter_config.json"
    if not config_path.exists():
        raise LadderError(f"{adapter}: no adapter_config.json")
    settings = json.loads(config_path.read_text())
    rank, alpha = settings["r"], settings.get("lora_alpha", settings["r"])
    scale = alpha / math.sqrt(rank) if settings.get("use_rslora") else alpha / rank
    pairs = lora_pairs(_adapter_weights(adapter))
    reader = LazyTensors(base)
    unmatched = sorted(name for name in pairs if name not in reader.infos)
    if unmatched:
        raise LadderError(f"{adapter}: {len(unmatched)} adapter module(s) match no base weight: "
                          f"{', '.join(unmatched[:8])}{' …' if len(unmatched) > 8 else ''}")
    started = now()
    config = json.loads((base / "config.json").read_text())
    writer = CheckpointWriter(out, tokenizer_source=base, config=config, lineage_source=base)
    transpose = bool(settings.get("fan_in_fan_out"))

    def produce(name: str, sink) -> None:
        weight = reader.read(name)
        if name in pairs:
            a, b = pairs[name]
            update = scale * (b.float() @ a.float())
            weight = (weight.float() + (update.T if transpose else update)).to(weight.dtype)
        sink(weight)

    try:
        writer.stream([(n, i.shape, i.dtype) for n, i in reader.infos.items()], produce)
    finally:
        reader.close()
    params = {"adapter": str(adapter), "rank": rank, "alpha": alpha, "scale": scale, "modules": len(pairs)}
    writer.finish("merge-adapter", params, inputs=[base, adapter], started_at=started)
    return params
