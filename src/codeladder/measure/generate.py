"""Generating over many prompts: the one loop ``ladder eval`` (its samples) and ``ladder distill`` (the teacher's
answers) run, on an engine the caller opened (engines are context managers that close themselves). Requests go
in chunks of a few times the engine's batch (so a batched engine stays full and progress moves), and an answer's
code is found by one rule: in chat mode the chat extractor, in completion mode the text up to the first stop,
continuing the prompt."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TypeVar

from codeladder.backends import Prompt, Request
from codeladder.progress import progress_bar
from codeladder.prompts.extract import Extraction, extract_code, extract_completion

Item = TypeVar("Item")
CHUNK_BATCHES = 4  # requests per chunk = this many of the engine's batches


def in_chunks(engine, items: Sequence[Item], ask: Callable[[Item], tuple[str, Prompt]], params, show: bool,
              label: str = "generating") -> Iterator[tuple[list[Item], list[Prompt], list]]:
    """``(items, their prompts, their completions)`` chunk by chunk; ``ask`` gives an item's request id and
    prompt."""
    chunk = max(1, getattr(engine, "batch_hint", 8)) * CHUNK_BATCHES
    with progress_bar(label, len(items), show) as advance:
        for start in range(0, len(items), chunk):
            part = list(items[start:start + chunk])
            asked = [ask(item) for item in part]
            # seeded by the chunk's start: a request's seed follows its place among the requests of this
            # invocation (a resumed run: among those left), whatever the chunk size
            completions = engine.generate([Request(key, prompt) for key, prompt in asked],
                                          replace(params, seed=params.seed + start))
            yield part, [prompt for _, prompt in asked], completions
            advance(len(part))


def answer_code(text: str, chat: bool, entry_point: str, function_prompt: str, prompt_text: str) -> Extraction:
    """The code in an answer: chat answers by the chat extractor (``function_prompt``: the code a function-style
    task's answer continues), completions as the continuation of ``prompt_text``."""
    if chat:
        return extract_code(text, entry_point, function_prompt)
    return extract_completion(text, prompt_text)


__all__ = ["in_chunks", "answer_code", "CHUNK_BATCHES"]
