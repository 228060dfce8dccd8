"""A backend added from a test module (one class plus one registry call) gets bench, parity and perplexity:
the measurements are functions over the engine protocol, not over named backends."""

import numpy as np
import pytest

from codeladder.backends import BACKENDS, Engine
from codeladder.measure.bench import bench
from codeladder.measure.parity import compare_models
from codeladder.measure.perplexity import perplexity


class ByteEngine(Engine):
    """Bytes as tokens; the next-token logits depend on the current byte only (a fixed random table)."""

    name = "toy"

    def __init__(self, model, seed: int = 0):
        self.model, self.table = model, np.random.default_rng(seed).normal(size=(256, 256)).astype(np.float32)

    def describe(self) -> dict:
        return {"backend": self.name, "model": str(self.model), "device": "cpu", "dtype": "float32"}

    def tokenize(self, text: str) -> list[int]:
        return list(text.encode())

    def logits(self, ids: list[int]) -> np.ndarray:
        return self.table[ids]

    def greedy(self, ids: list[int], new_tokens: int, *, use_draft: bool = False) -> list[int]:
        out = [int(ids[-1])]
        for _ in range(new_tokens):
            out.append(int(self.table[out[-1]].argmax()))
        return out[1:]


@pytest.fixture
def toy_backend():
    BACKENDS.add("toy", "bytes through a fixed random table", ByteEngine)
    yield "toy"
    BACKENDS._entries.pop("toy")


def test_a_toy_backend_gets_parity_perplexity_and_bench(toy_backend):
    same = compare_models("a", "b", greedy_tokens=8, a_backend=toy_backend, b_backend=toy_backend)
    assert same.passed and same.cosine_min == pytest.approx(1.0) and same.greedy_agreement == 1.0
    assert same.a.startswith("toy:a")
    result = perplexity("a", "def add(a, b):\n    return a + b\n" * 8, 64, 32, backend=toy_backend)
    assert result["tokens"] == len("def add(a, b):\n    return a + b\n" * 8) - 1 and result["perplexity"] > 1
    figures = bench("a", toy_backend, prompt_tokens=16, new_tokens=64, iterations=3, batch_sizes=(1, 2))
    assert figures.backend == "toy" and figures.decode_tok_s > 0 and set(figures.batch_tok_s) == {"1", "2"}
    assert figures.batch_mode == "sequential" and figures.draft is None
