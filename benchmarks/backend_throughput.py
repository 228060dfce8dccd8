"""Backend throughput on a random-init model of Qwen2.5-Coder-0.5B's shape (hidden 896, 24 layers, 14 heads,
2 KV heads), measured in one run:

1. decode tok/s of codeladder's ``llamacpp`` backend vs calling llama-cpp-python directly on the same
   GGUF file (target >= 0.9x);
2. ``hf`` backend batched (16 prompts per batch) vs unbatched (one at a time): generated tokens per
   second (target >= 4x);
3. ``--parts replicas``: ``hf`` with ``--replicas N`` (N processes, the cores split among them) vs one process,
   the same ``--batch`` per process, over N batches of prompts; and ``llamacpp`` with N contexts of one N-th of
   the cores each vs one context with all of them (``--gguf``, or the model exported to ``--gguf-type``);
   alternating over ``--rounds`` rounds (median);
4. ``--parts extra-bufts``: llama.cpp's extra buffer types (repacked weight layouts) on vs off, per GGUF type
   (Q4_0, Q4_K, Q8_0): prompt processing (a 512-token prompt) and decode tok/s, alternating on/off over
   ``--rounds`` rounds in one process, the median of each. The ``llamacpp`` backend's default
   (``EXTRA_BUFTS_DEFAULT``) follows these figures.

Usage: ``python benchmarks/backend_throughput.py [--parts llamacpp,hf,replicas,extra-bufts] [--model DIR]
[--gguf-type q8_0] [--new-tokens 32] [--threads N] [--replicas N]``
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


def bufts_figures(gguf: Path, extra: bool, threads: int, new_tokens: int) -> tuple[float, float]:
    """(prompt-processing tok/s on 512 tokens, decode tok/s) with extra buffer types ``extra``."""
    from codeladder.backends.llamacpp import open_gguf

    llm = open_gguf(gguf, n_ctx=1024, n_batch=1024, n_threads=threads, extra_bufts=extra)  # scores: 1024 rows
    text = " ".join(t.prompt for t in get_benchmark("humaneval").load()[:8])
    tokens = llm.tokenize(text.encode())[:512]
    llm.eval(tokens[:16])  # warm-up
    llm.reset()
    began = time.perf_counter()
    llm.eval(tokens)
    prefill = len(tokens) / (time.perf_counter() - began)
    began = time.perf_counter()
    for _ in range(new_tokens):
        llm.eval([int(llm.scores[llm.n_tokens - 1].argmax())])
    decode = new_tokens / (time.perf_counter() - began)
    llm.close()
    return prefill, decode


def extra_bufts_table(model: Path, types: list[str], threads: int, new_tokens: int, rounds: int) -> None:
    import statistics

    from codeladder.models.gguf_export import export_gguf

    print(f"extra buffer types, {threads} thread(s), median of {rounds} alternating rounds:")
    print("| type | prompt tok/s off | on | on/off | decode tok/s off | on | on/off |")
    print("|---|---|---|---|---|---|---|")
    for kind in types:
        gguf = model.parent / f"{model.name}.{kind}.gguf"
        if not gguf.exists():
            export_gguf(model, gguf, kind)
        runs = {False: [], True: []}
        for _ in range(rounds):
            for extra in (False, True):
                runs[extra].append(bufts_figures(gguf, extra, threads, new_tokens))
        off = [statistics.median(v) for v in zip(*runs[False])]
        on = [statistics.median(v) for v in zip(*runs[True])]
        print(f"| {kind} | {off[0]:.0f} | {on[0]:.0f} | {on[0] / off[0]:.2f}x | {off[1]:.1f} | {on[1]:.1f} | "
              f"{on[1] / off[1]:.2f}x |")


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


def replicas_figures(model: Path, backend: str, prompt_count: int, new_tokens: int, replicas: int, rounds: int,
                     **options) -> tuple[float, float]:
    """Generated tok/s of the backend with one replica and with ``replicas`` (the cores split among them),
    alternating over ``rounds`` rounds; the median of each."""
    import statistics

    from codeladder.backends import open_engine

    requests = prompts(prompt_count)
    params = GenerationParams(max_new_tokens=new_tokens, temperature=0.0, mode="completion")
    runs: dict[int, list[float]] = {1: [], replicas: []}
    for _ in range(rounds):
        for count in runs:
            with open_engine(model, backend, replicas=count, **options) as engine:
                engine.generate(requests[:count], GenerationParams(max_new_tokens=2, mode="completion"))  # warm-up
                began = time.perf_counter()
                made = sum(c.completion_tokens for c in engine.generate(requests, params))
                runs[count].append(made / (time.perf_counter() - began))
    return statistics.median(runs[1]), statistics.median(runs[replicas])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=Path(tempfile.gettempdir()) / "codeladder-qwen2.5-0.5b-shape")
    parser.add_argument("--gguf-type", default="q8_0")
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--hf-dtype", default="bfloat16", help="the checkpoint's dtype; this CPU has AVX512_BF16")
    parser.add_argument("--llama-runs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--parts", default="llamacpp,hf")
    parser.add_argument("--types", default="q4_0,q4_k,q8_0", help="GGUF types for --parts extra-bufts")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=0, help="0: as --replicas 0 (one per core, at most 8)")
    parser.add_argument("--gguf", type=Path, help="the GGUF file for --parts replicas (default: --model exported)")
    args = parser.parse_args()
    from codeladder.models.gguf_export import export_gguf

    parts = args.parts.split(",")
    model = build_model(args.model)
    shape = " (Qwen2.5-Coder-0.5B shape, random init)" if args.model == parser.get_default("model") else ""
    print(f"model: {model}{shape}, {os.cpu_count()} CPU threads")
    if "llamacpp" in parts:
        gguf = model.parent / f"{model.name}.{args.gguf_type}.gguf"
        if not gguf.exists():
            export_gguf(model, gguf, args.gguf_type)
        ours, direct = llama_figures(gguf, args.new_tokens, args.llama_runs)
        print(f"llamacpp {args.gguf_type}: codeladder backend {ours:6.1f} tok/s | llama-cpp-python direct "
              f"{direct:6.1f} tok/s | ratio {ours / direct:.2f}x (target >= 0.9x)")
    if "hf" in parts:
        single, batched, dtype = hf_figures(model, args.new_tokens, args.batch, args.hf_dtype)
        print(f"hf {dtype}: unbatched {single:6.1f} tok/s | batched x{args.batch} {batched:6.1f} tok/s | "
              f"ratio {batched / single:.1f}x (target >= 4x)")
    if "replicas" in parts:
        from codeladder.backends.base import auto_replicas

        replicas = args.replicas or auto_replicas()
        prompt_count = args.batch * replicas
        one, many = replicas_figures(model, "hf", prompt_count, args.new_tokens, replicas, args.rounds,
                                     batch_size=args.batch, dtype=args.hf_dtype, device="cpu")
        print(f"hf --batch-size {args.batch}: one process {one:6.1f} tok/s | --replicas {replicas} {many:6.1f} "
              f"tok/s | ratio {many / one:.2f}x ({prompt_count} prompts, {args.new_tokens} new tokens, median of "
              f"{args.rounds})")
        gguf = args.gguf or model.parent / f"{model.name}.{args.gguf_type}.gguf"
        if not gguf.exists():
            export_gguf(model, gguf, args.gguf_type)
        one, many = replicas_figures(gguf, "llamacpp", prompt_count, args.new_tokens, replicas, args.rounds)
        print(f"llamacpp {gguf.name}: one context on {os.cpu_count()} threads {one:6.1f} tok/s | --replicas "
              f"{replicas} {many:6.1f} tok/s | ratio {many / one:.2f}x")
    if "extra-bufts" in parts:
        extra_bufts_table(model, args.types.split(","), args.threads, args.new_tokens, args.rounds)

if __name__ == "__main__":
    main()
