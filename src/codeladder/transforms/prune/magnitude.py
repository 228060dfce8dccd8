"""``magnitude``: score = |W| (the baseline Wanda is measured against)."""

import torch


def magnitude_scores(weight: torch.Tensor, input_norms: torch.Tensor | None) -> torch.Tensor:
    return weight.abs().float()
