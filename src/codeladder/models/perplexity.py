"""Perplexity with a sliding window (window ``max_length``, step ``stride``), as in the transformers docs:
each token is scored once, with up to ``max_length - stride`` tokens of context before the scored span."""

from __future__ import annotations

import math

from codeladder.backends.base import require
from codeladder.errors import LadderError


def token_nlls(logprob_fn, ids: list[int], max_length: int, stride: int) -> tuple[float, int]:
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


def hf_logprob_fn(model, device: str = "cpu"):
    import torch

    def logprobs(window: list[int]) -> list[float]:
        with torch.inference_mode():
            logits = model(torch.tensor([window], device=device)).logits[0, :-1].float()
        picked = torch.log_softmax(logits, dim=-1).gather(1, torch.tensor(window[1:], device=device)[:, None])
        return picked[:, 0].tolist()

    return logprobs


def check_window(max_length: int, stride: int) -> None:
    """Window flags out of range are one line, before any model is loaded."""
    require(max_length >= 2, "--max-length", max_length, "tokens per window, at least 2")
    require(1 <= stride <= max_length, "--stride", stride, f"must be between 1 and --max-length ({max_length})")


def perplexity_from(logprob_fn, ids: list[int], max_length: int = 512, stride: int = 256) -> dict:
    if len(ids) < 2:
        raise LadderError(f"--text: only {len(ids)} token(s); perplexity needs at least 2")
    nll, count = token_nlls(logprob_fn, ids, max_length, stride)
    return {"perplexity": math.exp(nll / count) if count else float("nan"), "tokens": count,
            "max_length": max_length, "stride": stride}


def hf_perplexity(folder, text: str, max_length: int = 512, stride: int = 256, model=None) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from codeladder.models.integrity import require_model_folder

    hf_logging.disable_progress_bar()
    check_window(max_length, stride)
    if model is None:
        require_model_folder(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = model or AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return perplexity_from(hf_logprob_fn(model), ids, max_length, stride)
