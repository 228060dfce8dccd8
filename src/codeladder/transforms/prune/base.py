"""Pruning engine: score every weight of the prunable linear layers, zero the lowest per output row.

``unstructured``: the lowest ``sparsity`` share of each row. ``2:4``: in every group of 4
consecutive inputs of a row, the 2 lowest (sparsity is then 0.5 by definition). Embeddings,
norms and ``lm_head`` are never touched by default; the output keeps the input's dtype.
"""

from __future__ import annotations

import torch

PRUNABLE = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def prunable_layers(model) -> dict[str, torch.nn.Linear]:
    return {name: module for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and name.split(".")[-1] in PRUNABLE}


def mask_lowest(scores: torch.Tensor, sparsity: float, structure: str) -> torch.Tensor:
    """True where a weight is kept."""
    rows, cols = scores.shape
    if structure == "2:4":
        if cols % 4:
            raise ValueError(f"2:4 needs input sizes divisible by 4 (got {cols})")
        groups = scores.reshape(rows, cols // 4, 4)
        lowest = groups.topk(2, dim=-1, largest=False).indices
        keep = torch.ones_like(groups, dtype=torch.bool).scatter_(-1, lowest, False)
        return keep.reshape(rows, cols)
    drop = int(cols * sparsity)
    keep = torch.ones_like(scores, dtype=torch.bool)
    if drop:
        lowest = scores.topk(drop, dim=1, largest=False).indices
        keep.scatter_(1, lowest, False)
    return keep
