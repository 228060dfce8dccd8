"""``wanda`` (Sun et al., 2024): score = |W| * ||X||_2 of the layer's input channel, from calibration
activations gathered with forward hooks; pruned per output row."""

import torch


def wanda_scores(weight: torch.Tensor, input_norms: torch.Tensor | None) -> torch.Tensor:
    if input_norms is None:
        raise ValueError("wanda needs calibration activations")
    return weight.abs().float() * input_norms[None, :].float()
