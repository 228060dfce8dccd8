"""The one engine protocol, and the leaf types every engine takes and returns.

An engine is one loaded model behind one backend. Every engine can ``generate``; where the backend
allows it an engine also tokenizes, scores logits (teacher-forced, per position) and decodes greedily,
and bench, parity, perplexity and check are small functions over those methods
(``codeladder.measure``), so a new backend gets them all by overriding what it can. A method the
engine cannot provide raises one line naming the backends that can.

This module imports nothing of codeladder but ``errors`` (``Prompt`` and ``Request`` live here so that
backends never import prompts or benchmarks; ``codeladder.prompts.base`` re-exports ``Prompt``).
Written by hand: the defaults below (log-probabilities from logits, a batch as a loop, a prefill as a
scoring pass) are what lets a toy backend with two methods take part in every measurement.
"""

from __future__ import annotations

import os

from dataclasses import dataclass, field
from typing import Any

from codeladder.errors import LadderError

# Capability -> what the error message says the engine cannot do.
CAPABILITIES = {"generate": "generate text", "tokenize": "tokenize text", "logits": "score logits",
                "logprobs": "score log-probabilities", "greedy": "decode greedily", "prefill": "run a prefill",
                "greedy_batch": "decode a batch greedily"}
# Capabilities the base class derives from another one when an engine does not override them.
DERIVED = {"logprobs": "logits", "prefill": "logits", "greedy_batch": "greedy"}


def require(ok: bool, flag: str, value: object, expectation: str) -> None:
    """One line for a value out of range, naming the flag: validation at the boundary."""
    if not ok:
        raise LadderError(f"{flag} {value}: {expectation}")


def apply_stops(text: str, stops: tuple[str, ...] | list[str]) -> str:
    """``text`` cut at the first of the stop strings."""
    cut = len(text)
    for stop in stops:
        at = text.find(stop)
        if at != -1:
            cut = min(cut, at)
    return text[:cut]


def split(requests: list[Request], count: int, unit: int = 1) -> list[tuple[int, list[Request]]]:
    """``(offset, shard)`` for at most ``count`` contiguous shards, as even as whole ``unit``s allow (a batched
    engine's shards then batch their prompts as one process would); empty ones left out."""
    units, extra = divmod(-(-len(requests) // unit), count)
    shards, start = [], 0
    for index in range(count):
        end = min(len(requests), start + unit * (units + (1 if index < extra else 0)))
        if end > start:
            shards.append((start, requests[start:end]))
        start = end
    return shards


AUTO_REPLICAS_MAX = 8  # each replica holds a copy of the model (SmolLM2-135M: about 1.4 GB of RSS on the CPU)


def auto_replicas() -> int:
    """``--replicas 0`` on the CPU: one per core this process may use, at most ``AUTO_REPLICAS_MAX``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, AUTO_REPLICAS_MAX))


@dataclass(frozen=True)
class Prompt:
    """``text`` for completion mode (base models), ``messages`` for chat mode (instruct models)."""

    text: str
    messages: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Request:
    key: str  # the caller's id for this request (a task id); engines only echo it
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


def check_device(value: str) -> str:
    """A device spelling every backend understands (whether it is present is the engine's check)."""
    if value in ("auto", "cpu", "mps") or str(value).startswith("cuda"):
        return value
    raise ValueError("choose auto, cpu, cuda, cuda:N or mps")


class Engine:
    """The protocol: subclass it and override what the backend can do.

    ``describe()`` returns at least ``backend``, ``model``, ``device`` and ``dtype`` as actually used (every
    run records it). ``logits(ids)`` is a positions x vocabulary array (numpy, float32) for the token ids
    fed teacher-forced; ``logprobs(ids)`` the log-probability of ``ids[p]`` given ``ids[:p]`` for p >= 1;
    ``greedy(ids, n)`` exactly ``n`` greedy tokens (never stopping early, so timings compare).
    """

    name = "engine"
    batch_mode = "sequential"  # how greedy_batch runs the rows: "batched" or a sentence saying why not
    draft: str | None = None  # the speculative-decoding draft this engine was opened with, if any
    batch_hint = 8  # requests the engine works on at once (eval writes samples in chunks of 4x this)

    def describe(self) -> dict:
        return {"backend": self.name, "model": "", "device": "none", "dtype": "none"}

    def uses_chat(self, mode: str) -> bool:
        return mode == "chat"

    def generate(self, requests: list[Request], params: GenerationParams) -> list[Completion]:
        raise self.cannot("generate")

    def tokenize(self, text: str) -> list[int]:
        raise self.cannot("tokenize")

    def logits(self, ids: list[int]) -> Any:
        raise self.cannot("logits")

    def logprobs(self, ids: list[int]) -> list[float]:
        if not can(self, "logits"):
            raise self.cannot("logprobs")
        import numpy as np

        scores = np.asarray(self.logits(ids)[: len(ids) - 1], dtype=np.float64)
        scores -= scores.max(axis=-1, keepdims=True)
        logz = np.log(np.exp(scores).sum(axis=-1))
        return [float(scores[i, ids[i + 1]] - logz[i]) for i in range(len(ids) - 1)]

    def greedy(self, ids: list[int], new_tokens: int, *, use_draft: bool = False) -> list[int]:
        raise self.cannot("greedy")

    def greedy_batch(self, rows: list[list[int]], new_tokens: int) -> list[list[int]]:
        return [self.greedy(row, new_tokens) for row in rows]

    def prefill(self, ids: list[int]) -> None:
        """One forward pass over ``ids`` (bench times it)."""
        if not can(self, "logits"):
            raise self.cannot("prefill")
        self.logits(ids)

    def close(self) -> None:
        """Release the model (files, contexts); the engine is not used afterwards."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cannot(self, capability: str) -> LadderError:
        others = [n for n in backends_that_can(capability) if n != self.name]
        hint = f"; use {' or '.join(others)}" if others else ""
        return LadderError(f"the {self.name} backend cannot {CAPABILITIES.get(capability, capability)}{hint}")


def can(engine: object, capability: str) -> bool:
    """Whether an engine (or engine class) provides a capability: it overrides the method, or the base
    class derives it from one it overrides."""
    method = getattr(engine, capability, None)
    if method is None:
        return False
    own = getattr(method, "__func__", method) is not getattr(Engine, capability, None)
    return own or (capability in DERIVED and can(engine, DERIVED[capability]))


def backends_that_can(capability: str) -> list[str]:
    """The registered backends whose engine class has the capability (for error messages)."""
    from codeladder.registry import registry

    names = []
    for entry in registry("backend").entries():
        try:
            factory = entry.load()
        except ImportError:
            continue
        if isinstance(factory, type) and can(factory, capability):
            names.append(entry.name)
    return names


def require_capability(backend: str, capability: str) -> None:
    """Refuse a measurement before anything is loaded when the backend's engine lacks the capability."""
    from codeladder.registry import registry

    factory = registry("backend").get(backend, "--backend").load()
    if isinstance(factory, type) and not can(factory, capability):
        raise LadderError(f"the {backend} backend cannot {CAPABILITIES.get(capability, capability)}; use "
                          f"{' or '.join(backends_that_can(capability)) or 'another backend'}")
