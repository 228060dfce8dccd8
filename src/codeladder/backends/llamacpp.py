"""``llamacpp``: a GGUF file through llama-cpp-python, the CPU path users expect.

llama.cpp's "extra buffer types" (AMX and repacked weight layouts) are off by default: on the
AMX-capable CPUs of our CI machines they crash on Q8_0 weights (segfault on the first decode,
measured with llama-cpp-python 0.3.36). ``CODELADDER_LLAMACPP_EXTRA_BUFTS=1`` turns them back on.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from codeladder.backends.base import Completion, GenerationParams, Request
from codeladder.errors import LadderError
from codeladder.models.integrity import require_gguf_file
from codeladder.prompts.extract import apply_stops

_PATCH_LOCK = threading.Lock()


def open_gguf(path: str | Path, n_ctx: int = 4096, n_threads: int | None = None, n_batch: int = 512,
              logits_all: bool = False, n_gpu_layers: int = 0, draft: str | None = None):
    """``llama_cpp.Llama`` on a GGUF file, with extra buffer types off unless asked for.

    ``draft="prompt-lookup"`` turns on llama-cpp-python's speculative decoding (prompt lookup: its
    API takes no separate draft model)."""
    try:
        import llama_cpp
        import llama_cpp.llama as llama_module
    except ImportError:
        raise LadderError("the llamacpp backend needs llama-cpp-python: pip install -e '.[llamacpp]'") from None
    path = require_gguf_file(path)
    extra = os.environ.get("CODELADDER_LLAMACPP_EXTRA_BUFTS") == "1"
    original = llama_module.llama_cpp.llama_model_default_params

    def params():
        value = original()
        value.use_extra_bufts = extra
        return value

    with _PATCH_LOCK:
        llama_module.llama_cpp.llama_model_default_params = params
        try:
            draft_model = None
            if draft:
                if draft != "prompt-lookup":
                    raise LadderError(f"--draft {draft}: the llamacpp backend supports --draft prompt-lookup only")
                from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

                draft_model = LlamaPromptLookupDecoding(num_pred_tokens=10)
            return llama_cpp.Llama(str(path), n_ctx=n_ctx, n_threads=n_threads or os.cpu_count(), n_batch=n_batch,
                                   logits_all=logits_all, n_gpu_layers=n_gpu_layers, verbose=False,
                                   draft_model=draft_model)
        except ValueError as exc:
            raise LadderError(f"{path}: llama.cpp cannot load it ({exc})") from None
        finally:
            llama_module.llama_cpp.llama_model_default_params = original


class LlamaCppBackend:
    name = "llamacpp"

    def __init__(self, model: str | Path, n_ctx: int = 0, n_threads: int | None = None, n_batch: int = 512,
                 device: str = "cpu", logprobs: bool = False, draft: str | None = None):
        if device not in ("cpu", "auto"):
            raise LadderError(f"--device {device}: the llamacpp backend here runs on the CPU; use --device cpu")
        self.path = Path(model)
        self.n_threads = n_threads or os.cpu_count()
        self.llm = open_gguf(self.path, n_ctx=n_ctx, n_threads=self.n_threads, n_batch=n_batch, logits_all=logprobs,
                             draft=draft)
        self.draft = draft
        self.chat_template = self.llm.metadata.get("tokenizer.chat_template")

    def describe(self) -> dict:
        kind = self.llm.metadata.get("general.file_type", "?")
        return {"backend": self.name, "model": str(self.path), "device": "cpu", "dtype": f"gguf file_type {kind}",
                "threads": self.n_threads}

    def uses_chat(self, mode: str) -> bool:
        if mode == "chat" and not self.chat_template:
            raise LadderError(f"{self.path}: --mode chat needs a chat template in the GGUF metadata")
        return mode == "chat" or (mode == "auto" and bool(self.chat_template))

    def render(self, request: Request, chat: bool) -> str:
        if not chat:
            return request.prompt.text
        from jinja2 import Template

        return Template(self.chat_template).render(messages=request.prompt.messages, add_generation_prompt=True)

    def generate(self, requests: list[Request], params: GenerationParams) -> list[Completion]:
        chat = self.uses_chat(params.mode)
        out = []
        for index, request in enumerate(requests):
            prompt = self.render(request, chat)
            tokens = self.llm.tokenize(prompt.encode(), add_bos=False, special=True)
            began = time.perf_counter()
            response = self.llm.create_completion(
                tokens, max_tokens=params.max_new_tokens, temperature=params.temperature, top_p=params.top_p,
                top_k=params.top_k if params.top_k else (1 if params.temperature == 0 else 0), min_p=0.0,
                repeat_penalty=1.0, stop=list(params.stop) or None, seed=params.seed + index,
                logprobs=1 if params.logprobs else None)
            seconds = time.perf_counter() - began
            usage = response["usage"]
            choice = response["choices"][0]
            completion = Completion(text=apply_stops(choice["text"], params.stop), prompt_tokens=usage["prompt_tokens"],
                                    completion_tokens=usage["completion_tokens"], seconds=seconds, chat=chat)
            values = [v for v in ((choice.get("logprobs") or {}).get("token_logprobs") or []) if v is not None]
            completion.mean_logprob = float(sum(values) / len(values)) if values else None  # numpy floats -> JSON
            out.append(completion)
        return out

    def close(self) -> None:
        self.llm.close()


def gguf_logprob_fn(llm):
    """Per-position log-probabilities from llama.cpp (the model must be opened with ``logits_all``)."""
    import numpy as np

    def logprobs(window: list[int]) -> list[float]:
        llm.reset()
        llm.eval(window)
        scores = np.asarray(llm.scores[: len(window) - 1], dtype=np.float64)
        scores -= scores.max(axis=-1, keepdims=True)
        logz = np.log(np.exp(scores).sum(axis=-1))
        return [float(scores[i, window[i + 1]] - logz[i]) for i in range(len(window) - 1)]

    return logprobs


def gguf_perplexity(path: str | Path, text: str, max_length: int = 512, stride: int = 256) -> dict:
    from codeladder.models.perplexity import check_window, perplexity_from

    check_window(max_length, stride)
    llm = open_gguf(path, n_ctx=max_length, logits_all=True, n_batch=max_length)
    try:
        ids = llm.tokenize(text.encode(), add_bos=False, special=False)
        return perplexity_from(gguf_logprob_fn(llm), ids, max_length, stride)
    finally:
        llm.close()
