"""Backend registry: a new backend is one module plus one line here. Backends know nothing of benchmarks."""

from __future__ import annotations

from codeladder.backends.base import Backend, Completion, GenerationParams, Request
from codeladder.errors import LadderError


def _hf(model, **options):
    from codeladder.backends.hf import HFBackend  # imports torch: only when asked for

    if model is None:
        raise LadderError("--backend hf needs --model PATH (a Hugging Face model folder)")
    return HFBackend(model, device=options.get("device", "auto"), dtype=options.get("dtype", "auto"),
                     batch_size=options.get("batch_size", 8))


REGISTRY = {"hf": _hf}
SPECIAL = ("reference",)  # built by the evaluator from the benchmark's own solutions


def create_backend(name: str, model: str | None, **options) -> Backend:
    if name not in REGISTRY:
        raise LadderError(f"unknown backend {name!r}; choose one of: {', '.join([*SPECIAL, *REGISTRY])}")
    return REGISTRY[name](model, **options)


__all__ = ["Backend", "Completion", "GenerationParams", "Request", "REGISTRY", "create_backend"]
