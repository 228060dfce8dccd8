"""Backends: one engine per backend behind one protocol (``base.Engine``), opened by one resolver.

A new backend is one module (an ``Engine`` subclass and, if it takes options, a params class) plus one
``BACKENDS.add`` here. ``open_engine`` is the only way from a model reference to an engine: eval, ``ladder
run``, bench, parity, perplexity and check all go through it. Importing this package loads no torch, no
llama.cpp and no benchmark (backends know nothing of benchmarks): engine classes are named as
``"module:Class"`` and imported on first use; the params classes are light.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codeladder.backends.base import (Completion, Engine, GenerationParams, Prompt, Request, can,
                                      require_capability)
from codeladder.backends.hf import HFOptions
from codeladder.backends.llamacpp import LlamaCppOptions
from codeladder.backends.openai import OpenAIOptions
from codeladder.errors import LadderError
from codeladder.registry import new_registry


BACKENDS = new_registry("backend")
BACKENDS.add("reference", "the benchmark's canonical solutions (a sanity run; no model)",
             factory="codeladder.backends.reference:ReferenceEngine", canonical=True)
BACKENDS.add("hf", "transformers model folder: batched, --device, --dtype, --draft",
             factory="codeladder.backends.hf:HFEngine", params=HFOptions,
             reference="https://huggingface.co/docs/transformers")
BACKENDS.add("llamacpp", "GGUF file through llama-cpp-python (CPU): --threads, --n-ctx, --parallel, "
             "--draft prompt-lookup",
             factory="codeladder.backends.llamacpp:LlamaCppEngine", params=LlamaCppOptions,
             reference="https://github.com/abetlen/llama-cpp-python")
BACKENDS.add("openai", "any OpenAI-compatible server (vLLM, SGLang, llama-server): --base-url, --concurrency",
             factory="codeladder.backends.openai:OpenAIEngine", params=OpenAIOptions,
             reference="https://platform.openai.com/docs/api-reference/completions")


def infer_backend(model: str | Path | None, base_url: str | None = None) -> str:
    """The backend a model reference implies: a URL -> openai, a .gguf file -> llamacpp, a folder -> hf."""
    model = str(model) if model is not None else None
    if base_url or (model or "").startswith(("http://", "https://")):
        return "openai"
    if model and model.endswith(".gguf"):
        return "llamacpp"
    return "hf" if model else "reference"


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def backend_options(backend: str, options: Mapping[str, Any], defaults: Mapping[str, Any] | None = None):
    """The backend's params object, validated: one line naming the flag for a bad value, or for an option the
    backend does not take. ``None`` means "not given"; ``defaults`` apply only where the backend takes them
    and the caller gave nothing (a measurement's preferences, e.g. float32 for parity)."""
    entry = BACKENDS.get(backend, "--backend")
    given = {k: v for k, v in options.items() if v is not None}
    fields = getattr(entry.params, "model_fields", {})
    for name, value in given.items():
        if name not in fields:
            takes = ", ".join(_flag(f) for f in fields) or "no options"
            raise LadderError(f"{_flag(name)} {value}: the {backend} backend does not take this option (it takes "
                              f"{takes})")
    if entry.params is None:
        return None
    chosen = {k: v for k, v in (defaults or {}).items() if k in fields and v is not None}
    return entry.params(**{**chosen, **given})


def open_engine(model: str | Path | None, backend: str | None = None, *,
                defaults: Mapping[str, Any] | None = None, **options: Any) -> Engine:
    """The engine for ``model`` on ``backend`` (default: inferred from the model, see :func:`infer_backend`).

    ``options`` are the backend's own (see its params class: ``HFOptions``, ``LlamaCppOptions``,
    ``OpenAIOptions``); a backend registered without a params class gets them as keyword arguments
    (``open_engine(None, "reference", solutions={...})``). Close the engine (or use it in a ``with``).
    """
    name = backend or infer_backend(model, options.get("base_url"))
    entry = BACKENDS.get(name, "--backend")
    if entry.params is None:
        return entry.create(model, **{k: v for k, v in options.items() if v is not None})
    return entry.create(model, backend_options(name, options, defaults))


def answers_with_solutions(name: str) -> bool:
    """Whether the backend answers with the tasks' own solutions (a sanity run): it is opened with them
    (``solutions={task_id: code}``), takes no model, its text is the code as it is, and it is no teacher."""
    return name in BACKENDS and bool(BACKENDS.get(name).data.get("canonical"))


__all__ = ["BACKENDS", "answers_with_solutions", "Completion", "Engine", "GenerationParams", "Prompt", "Request",
           "HFOptions", "LlamaCppOptions", "OpenAIOptions", "backend_options", "can", "infer_backend", "open_engine",
           "require_capability"]
