"""``llamacpp --parallel N`` on the real SmolLM2 GGUF: answers of different lengths leave their streams and the
next prompts take them, and on these prompts every greedy answer is the one llama-cpp-python's own one-at-a-time
path gives (on a whole benchmark a rare near-tie may flip: see the module's docstring)."""

from __future__ import annotations

import pytest

from codeladder.backends import GenerationParams, Prompt, Request, open_engine
from codeladder.backends.llamacpp_parallel import pick
from codeladder.errors import LadderError

QUESTIONS = ["Write a Python function that returns the square of x.", "Say hello.",
             "Write a Python function is_even(n).", "What is 2 + 2? Answer with a number.",
             "Write a Python function that reverses a string.", "Name a colour.",
             "Write a Python function that returns the maximum of a list."]
REQUESTS = [Request(f"q{i}", Prompt(text=q, messages=[{"role": "user", "content": q}])) for i, q in enumerate(QUESTIONS)]


def _generate(model, params: GenerationParams, **options) -> list:
    with open_engine(model, "llamacpp", threads=1, **options) as engine:
        return engine.generate(REQUESTS, params)


@pytest.mark.parametrize("stop", [(), ("\n\n",)])
def test_parallel_greedy_answers_are_the_one_at_a_time_answers(smollm2_gguf, stop):
    """Three streams for seven chat prompts: short answers end (end token or stop string) while long ones run
    to the budget, streams are refilled mid-run, and each text equals ``create_completion``'s."""
    params = GenerationParams(max_new_tokens=40, mode="chat", stop=stop)
    alone = _generate(smollm2_gguf, params)
    together = _generate(smollm2_gguf, params, parallel=3)
    assert len({c.completion_tokens for c in together}) > 2  # the answers really end at different steps
    assert [c.text for c in together] == [c.text for c in alone]
    if not stop:
        assert [c.completion_tokens for c in together] == [c.completion_tokens for c in alone]
    assert all(c.chat and c.prompt_tokens > 20 for c in together)


def test_parallel_samples_follow_each_requests_seed_not_the_batch(smollm2_gguf):
    """At T=0.8 a request's draw depends on its seed (seed + its place in the call) only: two streams or five,
    one context or two replicas, the texts are the same; and different seeds draw different texts."""
    params = GenerationParams(max_new_tokens=24, mode="chat", temperature=0.8, top_p=0.95, seed=11, logprobs=True)
    two = _generate(smollm2_gguf, params, parallel=2)
    assert [c.text for c in _generate(smollm2_gguf, params, parallel=5, replicas=2)] == [c.text for c in two]
    other = _generate(smollm2_gguf, GenerationParams(**{**params.__dict__, "seed": 12}), parallel=2)
    assert [c.text for c in other] != [c.text for c in two]
    assert all(c.mean_logprob is not None and c.mean_logprob < 0 for c in two)


def test_parallel_mean_logprob_matches_create_completion(smollm2_gguf):
    params = GenerationParams(max_new_tokens=16, mode="chat", logprobs=True)
    alone, together = _generate(smollm2_gguf, params), _generate(smollm2_gguf, params, parallel=4)
    for a, b in zip(alone, together):
        assert b.mean_logprob == pytest.approx(a.mean_logprob, abs=1e-3)


def test_pick_filters_as_llama_cpp_does_and_samples_the_softmax():
    import numpy as np

    logits = np.array([2.0, 1.0, 0.0, -1.0], dtype=np.float32)
    rng = np.random.default_rng(0)
    assert pick(logits, GenerationParams(), rng) == 0
    assert pick(logits, GenerationParams(temperature=1.0, top_k=1), rng) == 0
    assert {pick(logits, GenerationParams(temperature=1.0, top_p=0.5), rng) for _ in range(50)} == {0}
    draws = np.bincount([pick(logits, GenerationParams(temperature=1.0), rng) for _ in range(4000)], minlength=4)
    expected = np.exp(logits) / np.exp(logits).sum()
    assert np.abs(draws / 4000 - expected).max() < 0.03
    top2 = {pick(logits, GenerationParams(temperature=5.0, top_k=2), rng) for _ in range(200)}
    assert top2 == {0, 1}


def test_parallel_refuses_a_draft_and_a_prompt_longer_than_the_context(smollm2_gguf):
    with pytest.raises(LadderError, match="--parallel.*--draft"):
        open_engine(smollm2_gguf, "llamacpp", parallel=4, draft="prompt-lookup")
    long = [Request("long", Prompt(text="x " * 400))]
    with open_engine(smollm2_gguf, "llamacpp", threads=1, parallel=2, n_ctx=256) as engine:
        with pytest.raises(LadderError, match="do not fit a 256-token context; raise --n-ctx"):
            engine.generate(long, GenerationParams(max_new_tokens=8, mode="completion"))
        with pytest.raises(LadderError, match="is empty: --parallel needs at least one prompt token"):
            engine.generate([Request("empty", Prompt(text=""))], GenerationParams(max_new_tokens=8, mode="completion"))
