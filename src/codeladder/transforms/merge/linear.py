"""``linear``: the weighted average of the models (weights normalized to sum to 1)."""

import torch

from codeladder.transforms.merge.base import Chunk, MergeMethod, MergeOutput
from codeladder.transforms.merge.params import MethodParams


class Linear(MergeMethod):
    name = "linear"
    normalizes_weights = True

    def combine(self, chunk: Chunk, stats: dict, params: MethodParams, tensor_name: str) -> MergeOutput:
        out = chunk.scratch("out").zero_()  # sum() starts from 0: -0.0 terms give +0.0, as they always did
        for index, (weight, model) in enumerate(zip(params.weights, chunk.models)):
            out.add_(torch.mul(model, weight, out=chunk.scratch("term")))
        return MergeOutput(out.div_(sum(params.weights)))
