"""Teacher-forced access to a model: tokenize, per-position logits, greedy continuation.

One small class per local backend (transformers, llama.cpp). A server only returns top
log-probabilities, so OpenAI-compatible servers cannot be compared logit by logit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from codeladder.errors import LadderError
from codeladder.models.integrity import require_model_folder


class Scorer(Protocol):
    label: str

    def tokenize(self, text: str) -> list[int]: ...

    def logits(self, ids: list[int]) -> np.ndarray: ...

    def greedy(self, ids: list[int], new_tokens: int) -> list[int]: ...

    def close(self) -> None: ...


class HFScorer:
    def __init__(self, folder: str | Path, device: str = "auto", dtype: str = "float32"):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from codeladder.backends.hf import resolve_device, resolve_dtype

        hf_logging.disable_progress_bar()
        require_model_folder(folder)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=self.dtype).to(self.device).eval()
        self.label = f"hf:{folder} ({str(self.dtype).replace('torch.', '')}, {self.device})"
        self._torch = torch

    def tokenize(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def logits(self, ids: list[int]) -> np.ndarray:
        with self._torch.inference_mode():
            out = self.model(self._torch.tensor([ids], device=self.device)).logits[0]
        return out.float().cpu().numpy()

    def greedy(self, ids: list[int], new_tokens: int) -> list[int]:
        with self._torch.inference_mode():
            out = self.model.generate(self._torch.tensor([ids], device=self.device), max_new_tokens=new_tokens,
                                      min_new_tokens=new_tokens, do_sample=False, temperature=None, top_p=None,
                                      top_k=None, pad_token_id=self.tokenizer.pad_token_id)
        return out[0, len(ids):].tolist()

    def close(self) -> None:
        pass


class LlamaCppScorer:
    def __init__(self, path: str | Path, n_ctx: int = 2048, threads: int | None = None):
        from codeladder.backends.llamacpp import open_gguf

        self.llm = open_gguf(path, n_ctx=n_ctx, n_threads=threads, logits_all=True, n_batch=min(n_ctx, 512))
        self.label = f"llamacpp:{path}"

    def tokenize(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode(), add_bos=False, special=False)

    def logits(self, ids: list[int]) -> np.ndarray:
        self.llm.reset()
        self.llm.eval(ids)
        return np.array(self.llm.scores[: len(ids)], dtype=np.float32)

    def greedy(self, ids: list[int], new_tokens: int) -> list[int]:
        self.llm.reset()
        out = []
        for token in self.llm.generate(ids, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0):
            out.append(token)
            if len(out) == new_tokens:
                break
        return out

    def close(self) -> None:
        self.llm.close()


def open_scorer(reference: str, dtype: str = "float32", device: str = "auto") -> Scorer:
    """A model folder -> transformers; a .gguf file -> llama.cpp."""
    path = Path(reference)
    if reference.startswith(("http://", "https://")):
        raise LadderError(f"{reference}: a server returns no full logits; compare local folders or GGUF files")
    if path.is_file() and path.suffix == ".gguf":
        return LlamaCppScorer(path)
    if path.is_dir():
        return HFScorer(path, device=device, dtype=dtype)
    raise LadderError(f"{reference}: expected a model folder (config.json) or a .gguf file")
