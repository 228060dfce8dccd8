"""``hf --continuous``: rows that end leave at once and waiting prompts take their place."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest

from codeladder.backends import GenerationParams, Prompt, Request, open_engine
from codeladder.errors import LadderError

REQUESTS = [Request(f"r{i}", Prompt(text=f"def f{i}(x):\n    return x {'+-*'[i % 3]} {i}" + " # pad" * (i % 4)))
            for i in range(7)]


def _answers(model, params: GenerationParams, **options) -> list:
    with open_engine(model, "hf", device="cpu", dtype="float32", **options) as engine:
        return engine.generate(REQUESTS, params)


def _ids(engine, text: str) -> list[int]:
    return engine.tokenizer(text, add_special_tokens=False)["input_ids"]


def test_rows_that_end_early_are_replaced_and_every_answer_is_what_it_is_alone(tiny_model):
    """An end token that greedy answers reach at different steps: rows leave and join mid-batch (prompts of
    different lengths, 3 rows for 7 prompts), and each answer equals the model's own ``generate`` on that prompt
    alone, cut at the same end token."""
    import torch

    from codeladder.backends.hf_continuous import ContinuousDecoder, Sampling

    with open_engine(tiny_model, "hf", device="cpu", dtype="float32", batch_size=1) as engine:
        prompts = [_ids(engine, r.prompt.text) for r in REQUESTS]
        with torch.inference_mode():
            alone = [engine.greedy(p, 16) for p in prompts]
        counts = Counter(token for answer in alone for token in answer[1:-1])
        end = next(token for token, _ in counts.most_common() if len({a.index(token) for a in alone if token in a
                                                                      }) > 1)
        expected = [answer[:answer.index(end)] if end in answer else answer for answer in alone]
        assert len({len(answer) for answer in expected}) > 1, "the end token must cut answers at different steps"
        decoder = ContinuousDecoder(engine.model, engine.tokenizer, width=3, eos_ids={end}, pad_id=engine.pad_id)
        with torch.inference_mode():
            answers = decoder.run(prompts, 16, Sampling(), seeds=list(range(7)))
    assert [answer.tokens for answer in answers] == expected


@pytest.mark.parametrize("temperature", [0.0, 0.9])
def test_continuous_answers_do_not_depend_on_the_batch_or_the_replicas(tiny_model, temperature):
    """Each request samples with its own seed (seed + its place in the call): one row at a time, three rows,
    and two replica processes give the same texts."""
    params = GenerationParams(max_new_tokens=12, temperature=temperature, top_p=0.95, seed=3, mode="completion")
    one = [c.text for c in _answers(tiny_model, params, batch_size=1, continuous=True)]
    assert len(set(one)) > 1
    assert [c.text for c in _answers(tiny_model, params, batch_size=3, continuous=True)] == one
    assert [c.text for c in _answers(tiny_model, params, batch_size=3, continuous=True, replicas=2)] == one


def test_greedy_continuous_equals_static_batches_with_stops_and_logprobs(tiny_model):
    params = GenerationParams(max_new_tokens=12, temperature=0.0, mode="completion", logprobs=True)
    static = _answers(tiny_model, params, batch_size=1)
    continuous = _answers(tiny_model, params, batch_size=4, continuous=True)
    assert [c.text for c in continuous] == [c.text for c in static]
    assert [c.completion_tokens for c in continuous] == [c.completion_tokens for c in static]
    assert [c.mean_logprob for c in continuous] == pytest.approx([c.mean_logprob for c in static], abs=1e-4)
    stop = next(c.text[2:4] for c in static if len(c.text) > 6)
    stopped = _answers(tiny_model, GenerationParams(max_new_tokens=12, mode="completion", stop=(stop,)),
                       batch_size=4, continuous=True)
    assert [c.text for c in stopped] == [c.text.split(stop)[0] for c in static]
    assert any(c.completion_tokens < 12 for c in stopped)


def test_continuous_with_a_draft_model_is_one_line(tiny_model):
    with pytest.raises(LadderError, match="--continuous and --draft"):
        open_engine(tiny_model, "hf", device="cpu", continuous=True, draft=str(tiny_model))


def test_a_model_with_sliding_window_layers_is_refused_in_one_line():
    from transformers import AutoModelForCausalLM, Gemma2Config

    from codeladder.backends.hf_continuous import require_supported

    config = Gemma2Config(num_hidden_layers=2, hidden_size=32, intermediate_size=64, num_attention_heads=2,
                          num_key_value_heads=1, head_dim=16, vocab_size=128)
    with pytest.raises(LadderError, match="--continuous: gemma2 keeps sliding-window"):
        require_supported(AutoModelForCausalLM.from_config(config))


def _with_generation_config(tiny_model, tmp_path, **settings):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder)
    config = json.loads((folder / "generation_config.json").read_text())
    (folder / "generation_config.json").write_text(json.dumps({**config, **settings}))
    return folder


def test_the_models_repetition_penalty_applies_as_generate_applies_it(tiny_model, tmp_path):
    """generate takes repetition_penalty from generation_config.json; so does the continuous loop."""
    params = GenerationParams(max_new_tokens=12, temperature=0.0, mode="completion")
    plain = [c.text for c in _answers(tiny_model, params, batch_size=1)]
    penalized = _with_generation_config(tiny_model, tmp_path, repetition_penalty=1.5)
    static = [c.text for c in _answers(penalized, params, batch_size=1)]
    assert static != plain
    assert [c.text for c in _answers(penalized, params, batch_size=3, continuous=True)] == static


def test_a_generation_setting_the_loop_does_not_apply_is_one_line(tiny_model, tmp_path):
    folder = _with_generation_config(tiny_model, tmp_path, no_repeat_ngram_size=3)
    with pytest.raises(LadderError, match="generation_config.json sets no_repeat_ngram_size = 3"):
        open_engine(folder, "hf", device="cpu", continuous=True)


def test_a_stop_string_that_begins_in_the_prompt_stops_as_in_generate(tiny_model):
    """The stop string is the prompt's last character and the answer's first: both paths stop at once."""
    params = GenerationParams(max_new_tokens=12, temperature=0.0, mode="completion")
    first = _answers(tiny_model, params, batch_size=1)[0].text
    stop = REQUESTS[0].prompt.text[-1] + first[0]
    stopped = GenerationParams(max_new_tokens=12, temperature=0.0, mode="completion", stop=(stop,))
    static = _answers(tiny_model, stopped, batch_size=1)
    continuous = _answers(tiny_model, stopped, batch_size=3, continuous=True)
    assert static[0].completion_tokens < 12
    assert [(c.text, c.completion_tokens) for c in continuous] == [(c.text, c.completion_tokens) for c in static]
