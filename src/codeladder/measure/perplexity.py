"""Perplexity with a sliding window (window ``max_length``, step ``stride``), as in the transformers docs:
each token is scored once, with up to ``max_length - stride`` tokens of context before the scored span.

Any engine that tokenizes and scores log-probabilities (``Engine.logprobs``) is measured with the same
windows, so transformers and llama.cpp figures compare.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from codeladder.backends.base import Engine, require
from codeladder.errors import LadderError
from codeladder.params import VerbParams, option, read_text

LogprobFn = Callable[[list[int]], list[float]]


def token_nlls(logprob_fn: LogprobFn, ids: list[int], max_length: int, stride: int) -> tuple[float, int]:
    """Sum of negative log-likelihoods and the count of scored tokens.

    ``logprob_fn(window_ids) -> list[float]`` returns, for each position p >= 1 of the window, the
    log-probability of ``window_ids[p]`` given the tokens before it.
    """
    check_window(max_length, stride)
    total, counted, previous_end = 0.0, 0, 0
    for begin in range(0, max(1, len(ids) - 1), stride):
        end = min(begin + max_length, len(ids))
        window = ids[begin:end]
        new = end - previous_end if previous_end else end - begin
        logprobs = logprob_fn(window)  # len(window) - 1 values, for positions 1..
        scored = logprobs[-(new if previous_end else len(logprobs)):]
        total -= sum(scored)
        counted += len(scored)
        previous_end = end
        if end == len(ids):
            break
    return total, counted


def check_window(max_length: int, stride: int) -> None:
    """Window flags out of range are one line, before any model is loaded."""
    require(max_length >= 2, "--max-length", max_length, "tokens per window, at least 2")
    require(1 <= stride <= max_length, "--stride", stride, f"must be between 1 and --max-length ({max_length})")


def perplexity_from(logprob_fn: LogprobFn, ids: list[int], max_length: int = 512, stride: int = 256) -> dict:
    if len(ids) < 2:
        raise LadderError(f"--text: only {len(ids)} token(s); perplexity needs at least 2")
    nll, count = token_nlls(logprob_fn, ids, max_length, stride)
    return {"perplexity": math.exp(nll / count) if count else float("nan"), "tokens": count,
            "max_length": max_length, "stride": stride}


def engine_perplexity(engine: Engine, text: str, max_length: int = 512, stride: int = 256) -> dict:
    check_window(max_length, stride)
    return perplexity_from(engine.logprobs, engine.tokenize(text), max_length, stride)


def perplexity(model: str | Path, text: str, max_length: int = 512, stride: int = 256, *,
               engine: Engine | None = None, loaded_model: Any = None, backend: str | None = None) -> dict:
    """Perplexity of ``model`` (a folder or a .gguf file; ``backend`` default: inferred) on ``text``.

    ``engine``: an engine already open (left open). ``loaded_model``: a transformers model in memory,
    scored with the tokenizer of the folder ``model`` (prune and quantize measure their result so).
    """
    check_window(max_length, stride)
    if engine is not None:
        return engine_perplexity(engine, text, max_length, stride)
    if loaded_model is not None:
        from codeladder.backends.hf import HFEngine

        return engine_perplexity(HFEngine.loaded(loaded_model, model), text, max_length, stride)
    from codeladder.backends import infer_backend, open_engine, require_capability

    require_capability(backend or infer_backend(model), "logprobs")
    defaults = {"dtype": "float32", "logits_all": True, "n_ctx": max(256, max_length)}
    with open_engine(model, backend, defaults=defaults) as opened:
        return engine_perplexity(opened, text, max_length, stride)


class PerplexityParams(VerbParams):
    """Sliding-window perplexity of a model on a text file."""

    verb: ClassVar[str] = "perplexity"
    model: str = option(..., "model folder or .gguf file", argument=True)
    text: Path = option(..., "text file")
    max_length: int = option(512, "window in tokens", ge=2)
    stride: int = option(256, "step between windows (less than --max-length scores every token)", ge=1)


def perplexity_verb(params: PerplexityParams) -> dict:
    text = read_text(params.text, "--text")
    check_window(params.max_length, params.stride)
    return {**perplexity(params.model, text, params.max_length, params.stride), "model": params.model}
