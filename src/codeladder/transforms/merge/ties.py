"""``ties`` (Yadav et al., 2023): trim each task vector to its top ``--density`` by magnitude, elect
each entry's sign by total mass, and average only the entries that agree with it (disjoint mean).

The trim threshold is ours because it must be computed over row chunks of tensors too large to hold.
Sign election and the disjoint mean follow peft's ``calculate_majority_sign_mask(method="total")`` and
``disjoint_merge`` exactly (a zero sum elects +, zeros never agree) and are tested against them; they
are written here without the stacked float sign tensor and int64 sign map peft builds, which made
them 2.5 of a 0.5B dare_ties merge's 14 seconds."""

import torch

from codeladder.transforms.merge.base import (Chunk, ChunkSource, MergeMethod, MergeOutput, MergeParams,
                                              magnitude_thresholds)


def elect_and_merge(weighted: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(disjoint mean of the entries agreeing with the elected sign, the agreeing entries per model)."""
    elected = torch.where(sum(weighted) >= 0, 1.0, -1.0)
    kept, count = [], torch.zeros_like(weighted[0])
    for delta in weighted:
        agree = (delta * elected) > 0  # same sign as elected; zeros never agree
        kept.append(delta * agree)
        count += agree
    return sum(kept) / count.clamp_(min=1.0), kept


class Ties(MergeMethod):
    name = "ties"
    needs_base = True
    min_models = 1

    def prepare(self, tensor_name: str, chunks: ChunkSource, numel: int, params: MergeParams) -> dict:
        return {"thresholds": magnitude_thresholds(chunks, numel, params.density, len(params.weights))}

    def combine(self, chunk: Chunk, stats: dict, params: MergeParams, tensor_name: str) -> MergeOutput:
        weighted = []
        for weight, delta, threshold in zip(params.weights, chunk.deltas(), stats["thresholds"]):
            weighted.append(weight * delta * (delta.abs() >= threshold))
        merged, kept = elect_and_merge(weighted)
        return MergeOutput(chunk.base + merged, contributions=kept)
