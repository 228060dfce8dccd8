"""The one small interface every backend implements: batched ``generate(requests, params)``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from codeladder.prompts.base import Prompt


@dataclass(frozen=True)
class Request:
    key: str  # the caller's id for this request (a task id); backends only echo it
    prompt: Prompt


@dataclass(frozen=True)
class GenerationParams:
    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int = 0
    stop: tuple[str, ...] = ()
    mode: str = "auto"  # "chat", "completion" or "auto" (chat when the model has a chat template)
    logprobs: bool = False  # ask for the mean log-probability of each completion (for --rerank logprob)


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    chat: bool = False
    mean_logprob: float | None = None
    extra: dict = field(default_factory=dict)


class Backend(Protocol):
    name: str

    def describe(self) -> dict:
        """At least ``backend``, ``model``, ``device`` and ``dtype`` as actually used."""
        ...

    def uses_chat(self, mode: str) -> bool: ...

    def generate(self, requests: list[Request], params: GenerationParams) -> list[Completion]: ...
