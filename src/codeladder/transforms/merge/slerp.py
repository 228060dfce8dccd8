"""``slerp``: spherical interpolation between two models per tensor, factor ``--t`` (0 = first, 1 = second).

The angle is taken between the normalized flattened tensors; when they are nearly colinear
(|cos| > 0.9995) the sine terms are ill-conditioned and linear interpolation is used instead,
the standard fallback. With ``--base``, the base is the first endpoint and the one model the second.
"""

import math

import torch

from codeladder.transforms.merge.base import Chunk, ChunkSource, MergeMethod, MergeOutput
from codeladder.transforms.merge.params import MethodParams

COLINEAR = 0.9995


def slerp_coefficients(dot: float, norm_a: float, norm_b: float, t: float) -> tuple[float, float]:
    if norm_a == 0 or norm_b == 0:
        return 1 - t, t
    cosine = max(-1.0, min(1.0, dot / (norm_a * norm_b)))
    if abs(cosine) > COLINEAR:
        return 1 - t, t
    theta = math.acos(cosine)
    return math.sin((1 - t) * theta) / math.sin(theta), math.sin(t * theta) / math.sin(theta)


class Slerp(MergeMethod):
    name = "slerp"
    min_models = 2
    max_models = 2
    base_is_endpoint = True

    def arity(self) -> str:
        return "two endpoints (two models, or --base and one model)"

    @staticmethod
    def _ends(chunk: Chunk):
        return (chunk.base, chunk.models[0]) if chunk.base is not None else (chunk.models[0], chunk.models[1])

    def prepare(self, tensor_name: str, chunks: ChunkSource, numel: int, params: MethodParams) -> dict:
        dot = sq_a = sq_b = 0.0
        for chunk in chunks():  # float32 BLAS dots per chunk, summed in double across chunks
            a, b = (end.reshape(-1) for end in self._ends(chunk))
            dot += float(torch.dot(a, b))
            sq_a += float(torch.dot(a, a)) if chunk.base is not None else chunk.square(0)
            sq_b += chunk.square(0 if chunk.base is not None else 1)
        return {"coefficients": slerp_coefficients(dot, sq_a ** 0.5, sq_b ** 0.5, params.t)}

    def combine(self, chunk: Chunk, stats: dict, params: MethodParams, tensor_name: str) -> MergeOutput:
        s_a, s_b = stats["coefficients"]
        a, b = self._ends(chunk)
        out = torch.mul(a, s_a, out=chunk.scratch("out"))
        return MergeOutput(out.add_(torch.mul(b, s_b, out=chunk.scratch("term"))))  # s_a * a + s_b * b
