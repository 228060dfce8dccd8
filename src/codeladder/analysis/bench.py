"""``ladder bench``: prefill tok/s, decode tok/s, time to first token, end-to-end latency, batch throughput.

Every figure is the median over ``iterations`` runs after ``warmup`` runs (min and max are kept
for latency). Generation never stops early: random-init and real models alike produce exactly
``new_tokens`` tokens, so decode rates compare. Decode tok/s = (new_tokens - 1) / (e2e - ttft).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from codeladder.backends.base import require
from codeladder.errors import LadderError


@dataclass
class BenchResult:
    backend: str
    model: str
    device: str
    dtype: str
    prompt_tokens: int
    new_tokens: int
    prefill_tok_s: float
    decode_tok_s: float
    ttft_s: float
    e2e_s: dict  # median, min, max
    batch_tok_s: dict = field(default_factory=dict)  # batch size -> generated tokens per second
    batch_mode: str = "batched"
    draft: dict | None = None  # speculative decoding: decode tok/s with the draft, speed-up, same output

    def as_dict(self) -> dict:
        return asdict(self)


def _timed(fn: Callable[[], object], iterations: int, warmup: int) -> tuple[list[float], object]:
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(iterations):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    return times, result


def bench_prompt_text() -> str:
    from codeladder.benchmarks import get_benchmark

    return "\n".join(t.prompt for t in get_benchmark("humaneval").load()[:40])


class _HFRunner:
    def __init__(self, folder: str, device: str, dtype: str, draft: str | None):
        import torch

        from codeladder.backends.hf import HFBackend

        self.backend = HFBackend(folder, device=device, dtype=dtype, batch_size=64, draft=draft)
        self.torch = torch

    def describe(self) -> dict:
        return self.backend.describe()

    def ids(self, text: str, count: int) -> list[int]:
        ids = self.backend.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) < count:
            raise LadderError(f"the bench prompt has only {len(ids)} tokens; ask for --prompt-tokens {len(ids)} or fewer")
        return ids[:count]

    def _generate(self, rows: list[list[int]], new_tokens: int, use_draft: bool = False):
        torch = self.torch
        tensor = torch.tensor(rows, device=self.backend.device)
        kwargs = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, temperature=None,
                      top_p=None, top_k=None, pad_token_id=self.backend.tokenizer.pad_token_id)
        if use_draft:
            kwargs["assistant_model"] = self.backend.draft
        with torch.inference_mode():
            out = self.backend.model.generate(tensor, attention_mask=torch.ones_like(tensor), **kwargs)
        if self.backend.device.startswith("cuda"):
            torch.cuda.synchronize()
        return out[:, len(rows[0]):].tolist()

    def prefill(self, ids: list[int]) -> None:
        with self.torch.inference_mode():
            self.backend.model(self.torch.tensor([ids], device=self.backend.device))
        if self.backend.device.startswith("cuda"):
            self.torch.cuda.synchronize()

    def first_token(self, ids: list[int]) -> None:
        self._generate([ids], 1)

    def full(self, ids: list[int], new_tokens: int, use_draft: bool = False) -> list[int]:
        return self._generate([ids], new_tokens, use_draft)[0]

    def batch(self, ids: list[int], size: int, new_tokens: int) -> None:
        self._generate([ids] * size, new_tokens)

    batch_mode = "batched"

    def has_draft(self) -> bool:
        return self.backend.draft is not None

    def close(self) -> None:
        pass


class _LlamaRunner:
    batch_mode = "sequential (llama-cpp-python decodes one sequence at a time)"

    def __init__(self, path: str, threads: int | None, n_ctx: int, draft: str | None):
        from codeladder.backends.llamacpp import open_gguf

        self.path = path
        self.llm = open_gguf(path, n_ctx=n_ctx, n_threads=threads)
        self.draft_llm = open_gguf(path, n_ctx=n_ctx, n_threads=threads, draft=draft) if draft else None
        self.threads = self.llm.n_threads

    def describe(self) -> dict:
        return {"backend": "llamacpp", "model": self.path, "device": "cpu",
                "dtype": f"gguf file_type {self.llm.metadata.get('general.file_type', '?')}"}

    def ids(self, text: str, count: int) -> list[int]:
        ids = self.llm.tokenize(text.encode(), add_bos=False, special=False)
        if len(ids) < count:
            raise LadderError(f"the bench prompt has only {len(ids)} tokens; ask for --prompt-tokens {len(ids)} or fewer")
        return ids[:count]

    def prefill(self, ids: list[int]) -> None:
        self.llm.reset()
        self.llm.eval(ids)

    def _tokens(self, llm, ids: list[int], new_tokens: int) -> list[int]:
        llm.reset()
        out = []
        for token in llm.generate(ids, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0):
            out.append(token)
            if len(out) >= new_tokens:
                break
        return out

    def first_token(self, ids: list[int]) -> None:
        self._tokens(self.llm, ids, 1)

    def full(self, ids: list[int], new_tokens: int, use_draft: bool = False) -> list[int]:
        return self._tokens(self.draft_llm if use_draft else self.llm, ids, new_tokens)

    def batch(self, ids: list[int], size: int, new_tokens: int) -> None:
        for _ in range(size):
            self._tokens(self.llm, ids, new_tokens)

    def has_draft(self) -> bool:
        return self.draft_llm is not None

    def close(self) -> None:
        self.llm.close()
        if self.draft_llm is not None:
            self.draft_llm.close()


def _runner(model: str, backend: str | None, device: str, dtype: str, threads: int | None, draft: str | None,
            n_ctx: int):
    from codeladder.backends import infer_backend

    kind = backend or infer_backend(model)
    if kind == "hf":
        return _HFRunner(model, device, dtype, draft)
    if kind == "llamacpp":
        if device not in ("auto", "cpu"):
            raise LadderError(f"--device {device}: the llamacpp backend here runs on the CPU")
        return _LlamaRunner(model, threads, n_ctx, draft)
    raise LadderError(f"--backend {kind}: bench measures hf and llamacpp models here")


def bench(model: str, backend: str | None = None, prompt_tokens: int = 128, new_tokens: int = 32,
          iterations: int = 3, warmup: int = 1, batch_sizes: tuple[int, ...] = (1, 4, 16), device: str = "auto",
          dtype: str = "auto", threads: int | None = None, draft: str | None = None) -> BenchResult:
    if new_tokens < 2:
        raise LadderError("--new-tokens must be at least 2 (decode rate excludes the first token)")
    require(prompt_tokens >= 1, "--prompt-tokens", prompt_tokens, "must be at least 1")
    require(iterations >= 1, "--iterations", iterations, "timed runs, at least 1")
    require(warmup >= 0, "--warmup", warmup, "must be 0 or more")
    require(bool(batch_sizes) and all(size >= 1 for size in batch_sizes), "--batch-sizes",
            ",".join(map(str, batch_sizes)), "every batch size must be at least 1")
    require(threads is None or threads >= 1, "--threads", threads, "must be at least 1")
    if not Path(model).exists():
        raise LadderError(f"{model}: no such model folder or GGUF file")
    runner = _runner(model, backend, device, dtype, threads, draft, n_ctx=max(512, prompt_tokens + new_tokens + 16))
    try:
        info = runner.describe()
        ids = runner.ids(bench_prompt_text(), prompt_tokens)
        prefill_times, _ = _timed(lambda: runner.prefill(ids), iterations, warmup)
        ttft_times, _ = _timed(lambda: runner.first_token(ids), iterations, warmup)
        e2e_times, plain = _timed(lambda: runner.full(ids, new_tokens), iterations, warmup)
        ttft, e2e = statistics.median(ttft_times), statistics.median(e2e_times)
        result = BenchResult(
            backend=info["backend"], model=str(model), device=str(info["device"]), dtype=str(info["dtype"]),
            prompt_tokens=len(ids), new_tokens=new_tokens,
            prefill_tok_s=len(ids) / statistics.median(prefill_times),
            decode_tok_s=(new_tokens - 1) / max(e2e - ttft, 1e-9), ttft_s=ttft,
            e2e_s={"median": e2e, "min": min(e2e_times), "max": max(e2e_times)}, batch_mode=runner.batch_mode)
        for size in batch_sizes:
            times, _ = _timed(lambda: runner.batch(ids, size, new_tokens), max(1, iterations - 1), 0 if size > 1 else warmup)
            result.batch_tok_s[str(size)] = size * new_tokens / statistics.median(times)
        if runner.has_draft():
            draft_times, drafted = _timed(lambda: runner.full(ids, new_tokens, use_draft=True), iterations, warmup)
            speed = (new_tokens - 1) / max(statistics.median(draft_times) - ttft, 1e-9)
            result.draft = {"draft": draft, "decode_tok_s": speed, "speedup": speed / result.decode_tok_s,
                            "same_output": drafted == plain}
        return result
    finally:
        runner.close()
