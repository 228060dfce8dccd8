"""Backend registry: a new backend is one module plus one line here. Backends know nothing of benchmarks."""

from __future__ import annotations

from codeladder.backends.base import Backend, Completion, GenerationParams, Request, require
from codeladder.errors import LadderError


def _hf(model, **options):
    from codeladder.backends.hf import HFBackend  # imports torch: only when asked for

    if model is None:
        raise LadderError("--backend hf needs --model PATH (a Hugging Face model folder)")
    return HFBackend(model, device=options.get("device", "auto"), dtype=options.get("dtype", "auto"),
                     batch_size=options.get("batch_size", 8), draft=options.get("draft"))


def _llamacpp(model, **options):
    from codeladder.backends.llamacpp import LlamaCppBackend

    if model is None:
        raise LadderError("--backend llamacpp needs --model FILE.gguf")
    return LlamaCppBackend(model, n_ctx=options.get("n_ctx") or 0, n_threads=options.get("threads"),
                           n_batch=options.get("n_batch") or 512,
                           device=options.get("device", "auto"), logprobs=options.get("logprobs", False),
                           draft=options.get("draft"))


def _openai(model, **options):
    from codeladder.backends.openai import OpenAIBackend

    if not options.get("base_url"):
        raise LadderError("--backend openai needs --base-url http://HOST:PORT/v1")
    return OpenAIBackend(options["base_url"], model=model, concurrency=options.get("concurrency") or 8,
                         api_key_env=options.get("api_key_env") or "OPENAI_API_KEY",
                         timeout_s=options.get("request_timeout") or 120.0)


REGISTRY = {"hf": _hf, "llamacpp": _llamacpp, "openai": _openai}


def infer_backend(model: str | None, base_url: str | None = None) -> str:
    """The backend a model reference implies: a URL -> openai, a .gguf file -> llamacpp, a folder -> hf."""
    if base_url or (model or "").startswith(("http://", "https://")):
        return "openai"
    if model and model.endswith(".gguf"):
        return "llamacpp"
    return "hf" if model else "reference"
SPECIAL = ("reference",)  # built by the evaluator from the benchmark's own solutions


def check_backend_options(options: dict) -> None:
    """Engine options out of range are one line naming the flag, before anything is loaded."""
    for key, flag, least in (("batch_size", "--batch-size", 1), ("concurrency", "--concurrency", 1),
                             ("n_batch", "--n-batch", 1), ("threads", "--threads", 1), ("n_ctx", "--n-ctx", 256)):
        value = options.get(key)
        require(value is None or (isinstance(value, int) and value >= least), flag, value, f"must be at least {least}")
    device = options.get("device")
    require(device is None or device in ("auto", "cpu", "mps") or str(device).startswith("cuda"), "--device",
            device, "choose auto, cpu, cuda, cuda:N or mps")


def create_backend(name: str, model: str | None, **options) -> Backend:
    if name not in REGISTRY:
        raise LadderError(f"unknown backend {name!r}; choose one of: {', '.join([*SPECIAL, *REGISTRY])}")
    check_backend_options(options)
    return REGISTRY[name](model, **options)


__all__ = ["Backend", "Completion", "GenerationParams", "Request", "REGISTRY", "check_backend_options",
           "create_backend", "infer_backend"]
