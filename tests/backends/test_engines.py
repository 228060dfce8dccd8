"""The engine protocol: one resolver, options validated by each backend's params class, one clear line
for a capability an engine lacks, and the llama.cpp engine's contexts opened on first need."""

import numpy as np
import pytest

from codeladder.backends import GenerationParams, Prompt, Request, backend_options, open_engine
from codeladder.errors import LadderError


@pytest.mark.parametrize("backend, options, message", [
    ("llamacpp", {"dtype": "bfloat16"}, "--dtype bfloat16: the llamacpp backend does not take this option"),
    ("openai", {"device": "cuda"}, "--device cuda: the openai backend does not take this option"),
    ("hf", {"batch_size": 0}, "--batch-size 0"),
    ("hf", {"device": "tpu"}, "--device tpu: choose auto, cpu, cuda, cuda:N or mps"),
    ("hf", {"dtype": "int3"}, "--dtype int3: choose one of auto"),
    ("llamacpp", {"device": "cuda"}, "--device cuda: the llamacpp backend here runs on the CPU"),
    ("llamacpp", {"draft": "./small"}, "--draft ./small: the llamacpp backend supports --draft prompt-lookup only"),
    ("llamacpp", {"n_ctx": 8}, "--n-ctx 8"),
    ("openai", {"concurrency": 0}, "--concurrency 0"),
    ("openai", {"base_url": "ftp://x"}, "--base-url ftp://x: expected http(s)://HOST:PORT/v1"),
    ("nope", {}, "--backend nope: choose one of reference, hf, llamacpp, openai"),
])
def test_bad_options_are_one_line_naming_the_flag(backend, options, message):
    with pytest.raises(LadderError) as caught:
        backend_options(backend, options)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_none_means_not_given_and_defaults_apply_only_where_taken():
    hf = backend_options("hf", {"threads": None, "device": "cpu"}, defaults={"dtype": "float32", "n_ctx": 512})
    assert (hf.device, hf.dtype, hf.batch_size) == ("cpu", "float32", 8)
    llama = backend_options("llamacpp", {}, defaults={"dtype": "float32", "n_ctx": 512})
    assert llama.n_ctx == 512 and not hasattr(llama, "dtype")


def test_a_missing_capability_is_one_clear_line_before_anything_loads(tiny_model):
    from codeladder.measure.parity import compare_models
    from codeladder.measure.perplexity import perplexity

    with open_engine("http://127.0.0.1:9/v1") as engine:
        assert engine.describe()["backend"] == "openai"
        for call in (lambda: engine.logits([1, 2]), lambda: engine.tokenize("x"), lambda: engine.greedy([1], 2)):
            with pytest.raises(LadderError, match=r"^the openai backend cannot .*; use hf or llamacpp"):
                call()
    with pytest.raises(LadderError, match="^the openai backend cannot score logits; use hf or llamacpp"):
        compare_models(str(tiny_model), "http://127.0.0.1:9/v1")
    with pytest.raises(LadderError, match="^the reference backend cannot score log-probabilities"):
        perplexity("", "def f(): pass", backend="reference")


def test_reference_engine_answers_with_the_given_solutions():
    with open_engine(None, solutions={"t": "return 1"}) as engine:
        (out,) = engine.generate([Request("t", Prompt("x"))], GenerationParams())
    assert out.text == "return 1" and engine.describe()["backend"] == "reference"


def test_llamacpp_scores_without_logits_all_and_matches_hf(tiny_model, tiny_gguf):
    text = "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n"
    with open_engine(tiny_gguf, threads=2) as plain, open_engine(tiny_model, device="cpu", dtype="float32") as hf:
        ids = plain.tokenize(text)
        assert ids == hf.tokenize(text)
        got, expected = plain.logits(ids), hf.logits(ids)  # a scoring context opened on first need
        assert got.shape == expected.shape == (len(ids), 4096)
        cos = (got * expected).sum(-1) / np.linalg.norm(got, axis=-1) / np.linalg.norm(expected, axis=-1)
        assert cos.min() >= 0.9999
        assert plain.logprobs(ids) == pytest.approx(hf.logprobs(ids), abs=2e-3)
        assert plain.greedy(ids, 6) == hf.greedy(ids, 6) and len(plain.greedy(ids, 6)) == 6
        (done,) = plain.generate([Request("a", Prompt(text))], GenerationParams(max_new_tokens=4, logprobs=True))
        assert done.completion_tokens > 0 and done.mean_logprob is not None and done.mean_logprob <= 0
