"""The one small interface every backend implements: batched ``generate(requests, params)``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from codeladder.errors import LadderError
from codeladder.prompts.base import Prompt


def require(ok: bool, flag: str, value: object, expectation: str) -> None:
    """One line for a value out of range, naming the flag: validation at the boundary."""
    if not ok:
        raise LadderError(f"{flag} {value}: {expectation}")


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

    def __post_init__(self) -> None:
        require(self.max_new_tokens >= 1, "--max-new-tokens", self.max_new_tokens, "must be at least 1")
        require(self.temperature >= 0, "--temperature", self.temperature, "must be 0 (greedy) or more")
        require(0 < self.top_p <= 1, "--top-p", self.top_p, "must be in (0, 1]")
        require(self.top_k >= 0, "--top-k", self.top_k, "must be 0 (off) or more")
        require(self.seed >= 0, "--seed", self.seed, "must be 0 or more")
        require(self.mode in ("auto", "chat", "completion"), "--mode", self.mode, "choose auto, chat or completion")


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
