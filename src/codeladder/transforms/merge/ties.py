"""``ties`` (Yadav et al., 2023): trim each task vector to its top ``--density`` by magnitude, elect
each entry's sign by total mass, and average only the entries that agree with it (disjoint mean).
Sign election and the disjoint mean are peft's (``peft.utils.merge_utils``); the trim threshold is
ours because it must be computed over row chunks of tensors too large to hold."""

import torch

from codeladder.transforms.merge.base import (Chunk, ChunkSource, MergeMethod, MergeOutput, MergeParams,
                                              magnitude_thresholds, peft_merge_utils)


def elect_and_merge(weighted: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    kernels = peft_merge_utils()
    stacked = torch.stack(weighted)
    mask = kernels.calculate_majority_sign_mask(stacked, method="total")
    kept = stacked * mask
    return kernels.disjoint_merge(stacked, mask), list(kept)


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
