"""``ties`` (Yadav et al., 2023): trim each task vector to its top ``--density`` by magnitude, elect
each entry's sign by total mass, and average only the entries that agree with it (disjoint mean).

The trim threshold is ours because it must be computed over row chunks of tensors too large to hold.
Sign election and the disjoint mean follow peft's ``calculate_majority_sign_mask(method="total")`` and
``disjoint_merge`` exactly (a zero sum elects +, zeros never agree) and are tested against them; they
are written here without the stacked float sign tensor and int64 sign map peft builds, which made
them 2.5 of a 0.5B dare_ties merge's 14 seconds."""

import torch

from codeladder.transforms.merge.base import (Chunk, ChunkSource, MergeMethod, MergeOutput, Workspace,
                                              magnitude_thresholds, sum_into)
from codeladder.transforms.merge.params import MethodParams


_PLUS, _MINUS = torch.tensor(1.0), torch.tensor(-1.0)


def elect_and_merge(weighted: list[torch.Tensor], work: Workspace | None = None
                    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(disjoint mean of the entries agreeing with the elected sign, the agreeing entries per model)."""
    work = work or Workspace()
    shape = weighted[0].shape
    positive = torch.ge(sum_into(weighted, work.take("total", shape)), 0, out=work.take("positive", shape, torch.bool))
    elected = torch.where(positive, _PLUS, _MINUS, out=work.take("elected", shape))
    kept, count = [], work.take("count", shape).zero_()
    for index, delta in enumerate(weighted):
        agree = torch.mul(delta, elected, out=work.take("signed", shape))
        agree = torch.gt(agree, 0, out=work.take(f"agree{index}", shape, torch.bool))  # zeros never agree
        kept.append(torch.mul(delta, agree, out=work.take(f"kept{index}", shape)))
        count += agree
    return sum_into(kept, work.take("merged", shape)).div_(count.clamp_(min=1.0)), kept


class Ties(MergeMethod):
    name = "ties"
    needs_base = True
    min_models = 1

    def prepare(self, tensor_name: str, chunks: ChunkSource, numel: int, params: MethodParams) -> dict:
        return {"thresholds": magnitude_thresholds(chunks, numel, params.density, len(params.weights))}

    def combine(self, chunk: Chunk, stats: dict, params: MethodParams, tensor_name: str) -> MergeOutput:
        weighted = []
        for index, (weight, delta, threshold) in enumerate(zip(params.weights, chunk.deltas(), stats["thresholds"])):
            large = torch.ge(chunk.magnitude(index), threshold, out=chunk.scratch("large", torch.bool))
            scaled = torch.mul(delta, weight, out=chunk.scratch(f"weighted{index}"))
            weighted.append(scaled.mul_(large))  # weight * delta * (|delta| >= threshold)
        merged, kept = elect_and_merge(weighted, chunk.work)
        return MergeOutput(torch.add(chunk.base, merged, out=chunk.scratch("out")), contributions=kept)
