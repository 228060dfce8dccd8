"""``llamacpp``: a GGUF file through llama-cpp-python, the CPU path users expect.

The one place that opens a GGUF file for inference. One engine may hold several llama.cpp contexts over
the same (memory-mapped) weights, each opened on first need: the one its options ask for, one that keeps
every position's logits (``logits_all``: scoring, ``--rerank logprob``) and, with ``--draft
prompt-lookup``, one without the draft so that bench can time both. A context costs its KV cache and,
with ``logits_all``, an ``n_ctx`` x vocabulary float buffer: scoring contexts therefore default to 2,048
tokens (the model's own 32k context would need 20 GB for Qwen's vocabulary) and grow when a sequence
needs more.

llama.cpp's "extra buffer types" (AMX and repacked weight layouts): a native build on an AMX Xeon crashes in
them on Q4_0/Q8_0/Q4_K weights (SIGILL), so the installed library is first probed in a child process
(:mod:`.llamacpp_probe`, cached per build and CPU) and refused in one line, with the rebuild command, if it dies.
A sound build gets them on for the file types where they were measured faster (``EXTRA_BUFTS_FASTER``: Q4_0,
Q4_K) and off elsewhere; ``CODELADDER_LLAMACPP_EXTRA_BUFTS=1`` / ``0`` decides for every file.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import ClassVar, Optional

from pydantic import field_validator, model_validator

from codeladder.backends.base import (Completion, Engine, GenerationParams, Request, apply_stops, auto_replicas,
                                      check_device, split)
from codeladder.errors import LadderError
from codeladder.params import VerbParams, option

_PATCH_LOCK = threading.Lock()
# llama.cpp file types (general.file_type) whose repacked layouts were faster here, prompt / decode, 1 thread, on
# a Qwen2.5-Coder-0.5B-shaped model (python benchmarks/backend_throughput.py --parts extra-bufts --threads 1):
# Q4_0 (2) 1.29x / 1.40x, Q4_K_S/M (14, 15) 1.07x / 1.39x; Q8_0 1.03x / 0.94x stays off.
EXTRA_BUFTS_FASTER = frozenset({2, 14, 15})
SCORING_CTX = 2048
PROMPT_LOOKUP = "prompt-lookup"


class LlamaCppOptions(VerbParams):
    """Options of the llamacpp backend (llama-cpp-python)."""

    verb: ClassVar[str] = "llamacpp"
    n_ctx: Optional[int] = option(None, "context tokens (default: the model's own)", ge=256)
    threads: Optional[int] = option(None, "CPU threads of each context (default: the cores, shared among "
                                          "--replicas)", ge=1)
    replicas: int = option(1, "llama.cpp contexts decoding side by side in threads, each with a share of every "
                              "call and of the cores (each loads the model; the file's pages are shared); 0: one "
                              "per core (at most 8)", ge=0)
    n_batch: int = option(512, "prompt tokens per decode call", ge=1)
    parallel: int = option(1, "sequences decoding together in each context, continuous batching (llama-server's "
                              "--parallel): an answer that ends leaves its place to the next prompt; 1: one at a "
                              "time; not with --draft", ge=1, le=256)
    device: str = option("auto", "auto or cpu: llama.cpp runs on the CPU here")
    draft: Optional[str] = option(None, "speculative decoding: prompt-lookup (llama-cpp-python takes no "
                                        "separate draft model)")
    logits_all: bool = option(False, "keep every position's logits (scoring, --rerank logprob); set by the "
                                     "measurements that need it")

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if check_device(value) not in ("auto", "cpu"):
            raise ValueError("the llamacpp backend here runs on the CPU; use --device cpu")
        return value

    @field_validator("draft")
    @classmethod
    def _draft(cls, value: str | None) -> str | None:
        if value not in (None, PROMPT_LOOKUP):
            raise ValueError(f"the llamacpp backend supports --draft {PROMPT_LOOKUP} only")
        return value

    @model_validator(mode="after")
    def _parallel_alone(self) -> LlamaCppOptions:
        if self.parallel > 1 and self.draft:
            raise ValueError("--parallel decodes without a draft: give one of --parallel and --draft")
        return self


def _file_type(path: Path) -> int | None:
    try:
        from gguf import GGUFReader

        from codeladder.models.io import _gguf_field

        found = _gguf_field(GGUFReader(str(path)), "general.file_type")
        return int(found) if found is not None else None
    except Exception:  # noqa: BLE001 - unreadable here: llama.cpp's own load gives the error
        return None


def extra_bufts_wanted(path: Path) -> bool:
    """llama.cpp's extra buffer types (repacked weights): ``CODELADDER_LLAMACPP_EXTRA_BUFTS`` 1 / 0, else on for
    the file types where ``benchmarks/backend_throughput.py --parts extra-bufts`` measured them faster."""
    value = os.environ.get("CODELADDER_LLAMACPP_EXTRA_BUFTS")
    return _file_type(path) in EXTRA_BUFTS_FASTER if value is None else value == "1"


def open_gguf(path: str | Path, n_ctx: int = 4096, n_threads: int | None = None, n_batch: int = 512,
              logits_all: bool = False, n_gpu_layers: int = 0, draft: str | None = None,
              extra_bufts: bool | None = None):
    """``llama_cpp.Llama`` on a GGUF file, once the installed library is known not to crash on this CPU
    (:mod:`.llamacpp_probe`), with extra buffer types as :func:`extra_bufts_wanted` (or ``extra_bufts``) says.

    ``draft="prompt-lookup"`` turns on llama-cpp-python's speculative decoding (prompt lookup: its
    API takes no separate draft model)."""
    from codeladder.backends.llamacpp_probe import require_safe_library
    from codeladder.models.integrity import require_gguf_file

    try:
        import llama_cpp
        import llama_cpp.llama as llama_module
    except ImportError:
        raise LadderError("the llamacpp backend needs llama-cpp-python: pip install -e '.[llamacpp]'") from None
    path = require_gguf_file(path)
    require_safe_library()
    extra = extra_bufts_wanted(path) if extra_bufts is None else extra_bufts
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
                if draft != PROMPT_LOOKUP:
                    raise LadderError(f"--draft {draft}: the llamacpp backend supports --draft {PROMPT_LOOKUP} only")
                from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

                draft_model = LlamaPromptLookupDecoding(num_pred_tokens=10)
            threads = n_threads or os.cpu_count()
            return llama_cpp.Llama(str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, n_batch=n_batch,
                                   logits_all=logits_all, n_gpu_layers=n_gpu_layers, verbose=False,
                                   draft_model=draft_model)
        except ValueError as exc:
            raise LadderError(f"{path}: llama.cpp cannot load it ({exc})") from None
        finally:
            llama_module.llama_cpp.llama_model_default_params = original


class LlamaCppEngine(Engine):
    name = "llamacpp"
    batch_mode = "sequential (llama-cpp-python decodes one sequence at a time)"

    def __init__(self, model: str | Path | None, options: LlamaCppOptions | None = None):
        if model is None:
            raise LadderError("--backend llamacpp needs --model FILE.gguf")
        self.options = options or LlamaCppOptions()
        self.path = Path(model)
        self.replicas = self.options.replicas or auto_replicas()
        self.n_threads = self.options.threads or max(1, (os.cpu_count() or 1) // self.replicas)
        self.batch_hint = max(8, 2 * self.options.parallel) * self.replicas
        self.draft = self.options.draft
        self._contexts: list[tuple[bool, bool, object]] = []  # (logits_all, draft, llama_cpp.Llama)
        self._siblings: dict[tuple[bool, bool], list] = {}  # the other replicas' generation contexts
        self._decoders: dict[int, object] = {}  # id(context) -> its --parallel decoder
        self.llm = self._open(self.options.logits_all, bool(self.draft), self.options.n_ctx or 0)
        self.chat_template = self.llm.metadata.get("tokenizer.chat_template")

    def _open(self, logits_all: bool, draft: bool, n_ctx: int):
        llm = open_gguf(self.path, n_ctx=n_ctx, n_threads=self.n_threads, n_batch=self.options.n_batch,
                        logits_all=logits_all, draft=self.draft if draft else None)
        self._contexts.append((logits_all, draft, llm))
        return llm

    def _context(self, *, logits_all: bool = False, draft: bool = False, tokens: int = 0):
        """An open context with these abilities and room for ``tokens``, opened on first need (a scoring
        context too small for ``tokens`` is replaced by a larger one)."""
        for has_logits, has_draft, llm in self._contexts:
            if (has_logits or not logits_all) and has_draft == draft and llm.n_ctx() >= tokens:
                return llm
        if not logits_all:
            return self._open(False, draft, self.options.n_ctx or 0)
        for entry in [e for e in self._contexts if e[0] and not e[1] and e[2] is not self.llm]:
            self._contexts.remove(entry)
            entry[2].close()
        return self._open(True, False, max(tokens, self.options.n_ctx or SCORING_CTX))

    def describe(self) -> dict:
        kind = self.llm.metadata.get("general.file_type", "?")
        return {"backend": self.name, "model": str(self.path), "device": "cpu", "dtype": f"gguf file_type {kind}",
                "threads": self.n_threads, "replicas": self.replicas}

    def uses_chat(self, mode: str) -> bool:
        if mode == "chat" and not self.chat_template:
            raise LadderError(f"{self.path}: --mode chat needs a chat template in the GGUF metadata")
        return mode == "chat" or (mode == "auto" and bool(self.chat_template))

    def render(self, request: Request, chat: bool) -> str:
        if not chat:
            return request.prompt.text
        from jinja2 import Template

        return Template(self.chat_template).render(messages=request.prompt.messages, add_generation_prompt=True)

    def tokenize(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode(), add_bos=False, special=False)

    def logits(self, ids: list[int]):
        import numpy as np

        llm = self._context(logits_all=True, tokens=len(ids))
        llm.reset()
        llm.eval(ids)
        return np.array(llm.scores[: len(ids)], dtype=np.float32)

    def prefill(self, ids: list[int]) -> None:
        llm = self._context(tokens=len(ids))
        llm.reset()
        llm.eval(ids)

    def greedy(self, ids: list[int], new_tokens: int, *, use_draft: bool = False) -> list[int]:
        if use_draft and not self.draft:
            raise LadderError("no --draft was given")
        llm = self._context(draft=use_draft, tokens=len(ids) + new_tokens)
        llm.reset()
        out: list[int] = []
        for token in llm.generate(ids, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0):
            out.append(token)
            if len(out) >= new_tokens:
                break
        return out

    def generate(self, requests: list[Request], params: GenerationParams) -> list[Completion]:
        """With ``--replicas N``, N contexts (threads: llama.cpp's decode releases the GIL) each take a contiguous
        share; a request's seed follows its position in the call either way."""
        chat = self.uses_chat(params.mode)
        contexts = self._generation_contexts(params.logprobs)

        def run(shard: tuple[int, list[Request]], llm) -> list[Completion]:
            offset, part = shard
            if self.options.parallel > 1:
                return self._complete_parallel(llm, part, params, chat, offset)
            return [self._complete(llm, request, params, chat, offset + i) for i, request in enumerate(part)]

        shards = split(requests, len(contexts))
        if len(shards) <= 1:
            return run(shards[0], contexts[0]) if shards else []
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(shards), thread_name_prefix="llamacpp-replica") as pool:
            return [c for part in pool.map(run, shards, contexts) for c in part]

    def _generation_contexts(self, logits_all: bool) -> list:
        """The context ``generate`` uses and ``--replicas`` - 1 more opened the same way (same n_ctx, logits
        and draft)."""
        first = self._context(logits_all=logits_all, draft=bool(self.draft))
        key = next((has_logits, has_draft) for has_logits, has_draft, llm in self._contexts if llm is first)
        if key not in self._siblings:
            self._siblings[key] = [
                open_gguf(self.path, n_ctx=first.n_ctx(), n_threads=self.n_threads, n_batch=self.options.n_batch,
                          logits_all=key[0], draft=self.draft if key[1] else None) for _ in range(self.replicas - 1)]
        return [first, *self._siblings[key]]

    def _complete(self, llm, request: Request, params: GenerationParams, chat: bool, index: int) -> Completion:
        tokens = self._prompt_ids(llm, request, chat)
        began = time.perf_counter()
        response = llm.create_completion(
            tokens, max_tokens=params.max_new_tokens, temperature=params.temperature, top_p=params.top_p,
            top_k=params.top_k if params.top_k else (1 if params.temperature == 0 else 0), min_p=0.0,
            repeat_penalty=1.0, stop=list(params.stop) or None, seed=params.seed + index,
            logprobs=1 if params.logprobs else None)
        seconds = time.perf_counter() - began
        usage, choice = response["usage"], response["choices"][0]
        completion = Completion(text=apply_stops(choice["text"], params.stop), prompt_tokens=usage["prompt_tokens"],
                                completion_tokens=usage["completion_tokens"], seconds=seconds, chat=chat)
        values = [v for v in ((choice.get("logprobs") or {}).get("token_logprobs") or []) if v is not None]
        completion.mean_logprob = float(sum(values) / len(values)) if values else None  # numpy floats -> JSON
        return completion

    def _prompt_ids(self, llm, request: Request, chat: bool) -> list[int]:
        """The rendered prompt's ids; special tokens in the template (ChatML's markers) parse as themselves."""
        return llm.tokenize(self.render(request, chat).encode(), add_bos=False, special=True)

    def _complete_parallel(self, llm, requests: list[Request], params: GenerationParams, chat: bool,
                           offset: int) -> list[Completion]:
        from codeladder.backends.llamacpp_parallel import ParallelDecoder, stream_tokens

        prompts = [self._prompt_ids(llm, r, chat) for r in requests]
        need = stream_tokens(prompts, params.max_new_tokens, self.options.n_ctx or llm.n_ctx())
        decoder = self._decoders.get(id(llm))
        if decoder is None or decoder.stream_ctx < need:
            if decoder is not None:
                decoder.close()
            decoder = self._decoders[id(llm)] = ParallelDecoder(llm, self.options.parallel, need)
        completions = decoder.run(prompts, params, [params.seed + offset + i for i in range(len(requests))])
        for completion in completions:
            completion.chat = chat
        return completions

    def close(self) -> None:
        for decoder in self._decoders.values():
            decoder.close()
        self._decoders.clear()
        for llm in [c[2] for c in self._contexts] + [s for group in self._siblings.values() for s in group]:
            llm.close()
        self._contexts.clear()
        self._siblings.clear()
