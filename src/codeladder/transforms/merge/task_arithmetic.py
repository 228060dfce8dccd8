"""``task_arithmetic``: base + sum of weighted task vectors (model - base); weight 0 gives the base."""

from codeladder.transforms.merge.base import Chunk, MergeMethod, MergeOutput, MergeParams


class TaskArithmetic(MergeMethod):
    name = "task_arithmetic"
    needs_base = True
    min_models = 1

    def combine(self, chunk: Chunk, stats: dict, params: MergeParams, tensor_name: str) -> MergeOutput:
        deltas = [w * (m - chunk.base) for w, m in zip(params.weights, chunk.models)]
        return MergeOutput(chunk.base + sum(deltas), contributions=deltas)
