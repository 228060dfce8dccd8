"""``task_arithmetic``: base + sum of weighted task vectors (model - base); weight 0 gives the base."""

import torch

from codeladder.transforms.merge.base import Chunk, MergeMethod, MergeOutput
from codeladder.transforms.merge.params import MethodParams


class TaskArithmetic(MergeMethod):
    name = "task_arithmetic"
    needs_base = True
    min_models = 1

    def combine(self, chunk: Chunk, stats: dict, params: MethodParams, tensor_name: str) -> MergeOutput:
        deltas = chunk.deltas()
        merged = torch.add(chunk.base, deltas[0], alpha=params.weights[0], out=chunk.scratch("out"))
        for weight, delta in zip(params.weights[1:], deltas[1:]):  # base.clone().add_(delta, alpha=w), in turn
            merged.add_(delta, alpha=weight)
        flipped = any(w < 0 for w in params.weights)  # a negative weight turns a task vector's signs around
        contributions = [w * d for w, d in zip(params.weights, chunk.deltas())] if flipped else None
        return MergeOutput(merged, contributions=contributions)
