"""``linear``: the weighted average of the models (weights normalized to sum to 1)."""

from codeladder.transforms.merge.base import Chunk, MergeMethod, MergeOutput, MergeParams


class Linear(MergeMethod):
    name = "linear"
    normalizes_weights = True

    def combine(self, chunk: Chunk, stats: dict, params: MergeParams, tensor_name: str) -> MergeOutput:
        total = sum(params.weights)
        return MergeOutput(sum(w * m for w, m in zip(params.weights, chunk.models)) / total)
