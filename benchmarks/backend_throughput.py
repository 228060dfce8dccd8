"""Backend throughput on a random-init model of Qwen2.5-Coder-0.5B's shape (hidden 896, 24 layers, 14 heads,
2 KV heads), measured in one run:

1. decode tok/s of codeladder's ``llamacpp`` backend vs calling llama-cpp-python directly on the same
   GGUF file (target >= 0.9x);
2. ``hf`` backend batched (16 prompts per batch) vs unbatched (one at a time): generated tokens per
   second (target >= 4x).

Usage: ``python benchmarks/backend_throughput.py [--model DIR] [--gguf-type q8_0] [--new-tokens 32]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from codeladder.backends import GenerationParams, Request
from codeladder.benchmarks import get_benchmark
from codeladder.backends import Prompt


def build_model(path: Path) -> Path:
    from codeladder.models.tiny import TinySpec, build_tiny_model

    if not (path / "config.json").exists():
        build_tiny_model(path, TinySpec(hidden=896, layers=24, heads=14, kv_heads=2, intermediate=4864,
                                        pad_vocab_to=151936, dtype="bfloat16", tie_embeddings=True))
    return path


def prompts(count: int, chars: int = 300) -> list[Request]:
    """The first HumanEval prompts, cut to ``chars`` characters (~90 tokens) so decode, not prefill, dominates."""
    tasks = get_benchmark("humaneval").load()[:count]
    return [Request(t.task_id, Prompt(text=t.prompt[:chars])) for t in tasks]


def llama_figures(gguf: Path, new_tokens: int, runs: int) -> tuple[float, float]:
    from codeladder.backends import open_engine
    from codeladder.backends.llamacpp import open_gguf

    requests = prompts(runs)
    params = GenerationParams(max_new_tokens=new_tokens, temperature=0.0, mode="completion")
    backend = open_engine(gguf, "llamacpp", n_ctx=1024)
    backend.generate(requests[:1], params)  # warm-up
    began = time.perf_counter()
    made = sum(c.completion_tokens for c in backend.generate(requests, params))
    ours = made / (time.perf_counter() - began)
    backend.close()

    llm = open_gguf(gguf, n_ctx=1024)  # the same load options: plain llama-cpp-python from here on
    llm.create_completion(requests[0].prompt.text, max_tokens=new_tokens, temperature=0.0)
    began, made = time.perf_counter(), 0
    for request in requests:
        out = llm.create_completion(request.prompt.text, max_tokens=new_tokens, temperature=0.0, top_k=1)
        made += out["usage"]["completion_tokens"]
    direct = made / (time.perf_counter() - began)
    llm.close()
    return ours, direct


def hf_figures(model: Path, new_tokens: int, count: int, dtype: str) -> tuple[float, float, str]:
    from codeladder.backends import open_engine

    requests = prompts(count)
    params = GenerationParams(max_new_tokens=new_tokens, temperature=0.0, mode="completion")
    figures = {}
    for batch in (1, count):
        backend = open_engine(model, "hf", batch_size=batch, dtype=dtype)
        backend.generate(requests[:1], GenerationParams(max_new_tokens=2, mode="completion"))  # warm-up
        began = time.perf_counter()
        made = sum(c.completion_tokens for c in backend.generate(requests, params))
        figures[batch] = made / (time.perf_counter() - began)
        dtype = backend.describe()["dtype"]
        backend.close()
    return figures[1], figures[count], dtype


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=Path(tempfile.gettempdir()) / "codeladder-qwen2.5-0.5b-shape")
    parser.add_argument("--gguf-type", default="q8_0")
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--hf-dtype", default="bfloat16", help="the checkpoint's dtype; this CPU has AVX512_BF16")
    parser.add_argument("--llama-runs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    from codeladder.models.gguf_export import export_gguf

    model = build_model(args.model)
    gguf = model.with_suffix(f".{args.gguf_type}.gguf")
    if not gguf.exists():
        export_gguf(model, gguf, args.gguf_type)
    print(f"model: {model} (Qwen2.5-Coder-0.5B shape, random init), {os.cpu_count()} CPU threads")
    ours, direct = llama_figures(gguf, args.new_tokens, args.llama_runs)
    print(f"llamacpp {args.gguf_type}: codeladder backend {ours:6.1f} tok/s | llama-cpp-python direct {direct:6.1f} tok/s"
          f" | ratio {ours / direct:.2f}x (target >= 0.9x)")
    single, batched, dtype = hf_figures(model, args.new_tokens, args.batch, args.hf_dtype)
    print(f"hf {dtype}: unbatched {single:6.1f} tok/s | batched x{args.batch} {batched:6.1f} tok/s | "
          f"ratio {batched / single:.1f}x (target >= 4x)")


if __name__ == "__main__":
    main()
