"""``ladder bench``: prefill tok/s, decode tok/s, time to first token, end-to-end latency, batch throughput.

Every figure is the median over ``iterations`` runs after ``warmup`` runs (min and max are kept
for latency). Generation never stops early: random-init and real models alike produce exactly
``new_tokens`` tokens, so decode rates compare. Decode tok/s = (new_tokens - 1) / (e2e - ttft).
Any engine that can tokenize and decode greedily is measured the same way (``Engine.prefill``,
``greedy``, ``greedy_batch``); how a batch runs is the engine's ``batch_mode``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, ClassVar, Optional

from pydantic import BeforeValidator

from codeladder.backends import infer_backend, open_engine, require_capability
from codeladder.backends.base import Engine, require
from codeladder.errors import LadderError
from codeladder.params import VerbParams, comma_ints, option


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
    return _alternating([fn], iterations, warmup)[0]


def _alternating(fns: list[Callable[[], object]], iterations: int, warmup: int) -> list[tuple[list[float], object]]:
    """Each of ``fns`` timed ``iterations`` times, taking turns, so that load which comes and goes on a shared
    machine falls on all of them alike (the first token and the whole answer are compared with each other)."""
    results: list[object] = [None] * len(fns)
    for _ in range(warmup):
        results = [fn() for fn in fns]
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(iterations):
        for index, fn in enumerate(fns):
            began = time.perf_counter()
            results[index] = fn()
            times[index].append(time.perf_counter() - began)
    return list(zip(times, results))


def bench_prompt_text() -> str:
    from codeladder.benchmarks import get_benchmark

    return "\n".join(t.prompt for t in get_benchmark("humaneval").load()[:40])


def prompt_ids(engine: Engine, count: int) -> list[int]:
    ids = engine.tokenize(bench_prompt_text())
    if len(ids) < count:
        raise LadderError(f"the bench prompt has only {len(ids)} tokens; ask for --prompt-tokens {len(ids)} or fewer")
    return ids[:count]


def check_bench_flags(prompt_tokens: int, new_tokens: int, iterations: int, warmup: int,
                      batch_sizes: tuple[int, ...]) -> None:
    if new_tokens < 2:
        raise LadderError("--new-tokens must be at least 2 (decode rate excludes the first token)")
    require(prompt_tokens >= 1, "--prompt-tokens", prompt_tokens, "must be at least 1")
    require(iterations >= 1, "--iterations", iterations, "timed runs, at least 1")
    require(warmup >= 0, "--warmup", warmup, "must be 0 or more")
    require(bool(batch_sizes) and all(size >= 1 for size in batch_sizes), "--batch-sizes",
            ",".join(map(str, batch_sizes)), "every batch size must be at least 1")


def decode_rate(new_tokens: int, e2e_s: float, ttft_s: float, what: str = "") -> float:
    """Tokens per second after the first: (new_tokens - 1) / (e2e - ttft). A run no longer than its first token
    alone is timing noise, refused rather than reported as billions of tokens per second."""
    if e2e_s <= ttft_s:
        raise LadderError(f"{new_tokens} tokens{what} took {e2e_s * 1000:.2f} ms, no longer than the first token alone "
                          f"({ttft_s * 1000:.2f} ms): the decode time is lost in timing noise; raise --new-tokens or "
                          "--iterations")
    return (new_tokens - 1) / (e2e_s - ttft_s)


def measure(engine: Engine, prompt_tokens: int, new_tokens: int, iterations: int, warmup: int,
            batch_sizes: tuple[int, ...], model: str = "") -> BenchResult:
    """The figures for an open engine."""
    info = engine.describe()
    ids = prompt_ids(engine, prompt_tokens)
    prefill_times, _ = _timed(lambda: engine.prefill(ids), iterations, warmup)
    (ttft_times, _), (e2e_times, plain) = _alternating(
        [lambda: engine.greedy(ids, 1), lambda: engine.greedy(ids, new_tokens)], iterations, warmup)
    ttft, e2e = statistics.median(ttft_times), statistics.median(e2e_times)
    result = BenchResult(
        backend=info["backend"], model=model or str(info["model"]), device=str(info["device"]),
        dtype=str(info["dtype"]), prompt_tokens=len(ids), new_tokens=new_tokens,
        prefill_tok_s=len(ids) / statistics.median(prefill_times),
        decode_tok_s=decode_rate(new_tokens, e2e, ttft), ttft_s=ttft,
        e2e_s={"median": e2e, "min": min(e2e_times), "max": max(e2e_times)}, batch_mode=engine.batch_mode)
    for size in batch_sizes:
        times, _ = _timed(lambda: engine.greedy_batch([ids] * size, new_tokens), max(1, iterations - 1),
                          0 if size > 1 else warmup)
        result.batch_tok_s[str(size)] = size * new_tokens / statistics.median(times)
    if engine.draft:
        draft_times, drafted = _timed(lambda: engine.greedy(ids, new_tokens, use_draft=True), iterations, warmup)
        speed = decode_rate(new_tokens, statistics.median(draft_times), ttft, " with the draft")
        result.draft = {"draft": engine.draft, "decode_tok_s": speed, "speedup": speed / result.decode_tok_s,
                        "same_output": drafted == plain}
    return result


def bench(model: str, backend: str | None = None, prompt_tokens: int = 128, new_tokens: int = 32,
          iterations: int = 3, warmup: int = 1, batch_sizes: tuple[int, ...] = (1, 4, 16), device: str = "auto",
          dtype: str = "auto", threads: int | None = None, draft: str | None = None) -> BenchResult:
    """Flags checked first, then the engine opened, measured and closed. ``device``/``dtype`` ``"auto"`` and
    ``threads``/``draft`` ``None`` leave the backend's own default."""
    check_bench_flags(prompt_tokens, new_tokens, iterations, warmup, batch_sizes)
    name = backend or infer_backend(model)
    require_capability(name, "greedy")
    options = {k: v for k, v in dict(device=device, dtype=dtype, threads=threads, draft=draft).items()
               if v not in (None, "auto")}
    with open_engine(model, name, defaults={"n_ctx": max(512, prompt_tokens + new_tokens + 16)}, **options) as engine:
        return measure(engine, prompt_tokens, new_tokens, iterations, warmup, batch_sizes, str(model))


class BenchParams(VerbParams):
    """Throughput: prefill and decode tok/s, time to first token, latency, batch throughput."""

    verb: ClassVar[str] = "bench"
    models: list[str] = option(..., "one or more model folders / GGUF files to compare", argument=True)
    backend: Optional[str] = option(None, "engine (default: inferred from each model)", choices="backend")
    prompt_tokens: int = option(128, "prompt length in tokens", ge=1)
    new_tokens: int = option(32, "tokens to decode (at least 2: the decode rate excludes the first)", ge=2)
    iterations: int = option(3, "timed runs (the median is reported)", ge=1)
    warmup: int = option(1, "untimed runs first", ge=0)
    batch_sizes: Annotated[tuple[int, ...], BeforeValidator(comma_ints)] = option(
        (1, 4, 16), "batch sizes for batch throughput, e.g. 1,4,16")
    device: str = option("auto", "auto, cpu, cuda, cuda:N or mps (hf)")
    dtype: str = option("auto", "auto, float32, bfloat16 or float16 (hf)")
    threads: Optional[int] = option(None, "CPU threads (llamacpp)", ge=1)
    draft: Optional[str] = option(None, "speculative decoding: a draft model folder (hf) or prompt-lookup (llamacpp)")


def bench_verb(params: BenchParams) -> list[dict]:
    """``ladder bench``: one result per model, in order."""
    for model in params.models:
        if not Path(model).exists():
            raise LadderError(f"{model}: no such model folder or GGUF file")
    return [bench(m, params.backend, params.prompt_tokens, params.new_tokens, params.iterations, params.warmup,
                  params.batch_sizes, params.device, params.dtype, params.threads, params.draft).as_dict()
            for m in params.models]
