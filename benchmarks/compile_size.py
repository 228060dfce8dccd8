"""``ladder compile``: what the one-file executable costs and how fast it runs, measured in one run.

1. size: the runtime's bytes apart from the model's, the file's total bytes against the GGUF's;
2. start-up: seconds from exec to exit of ``FILE --prompt x -n 1`` (load + one token), cold (the file's pages
   evicted from the page cache with ``posix_fadvise(DONTNEED)``) and warm (median of the next runs), and
   the server's exec-to-``/health`` time;
3. decode tok/s of the executable (its ``--timings`` line) vs llama-cpp-python on the same GGUF, the same
   thread count, runs interleaved (target >= 0.9x).

The default model is a random-init one with Qwen2.5-Coder-0.5B's shape (as benchmarks/backend_throughput.py),
exported to q8_0; ``--model`` takes a model folder or a .gguf file instead.

Usage: ``python benchmarks/compile_size.py [--model DIR|FILE.gguf] [--type q8_0] [--new-tokens 64] [--runs 3]
[--threads N] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from codeladder.ship.compile import CompileParams, compile_model

PROMPT = "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"


def build_model(path: Path) -> Path:
    from codeladder.models.tiny import TinySpec, build_tiny_model

    if not (path / "config.json").exists():
        build_tiny_model(path, TinySpec(hidden=896, layers=24, heads=14, kv_heads=2, intermediate=4864,
                                        pad_vocab_to=151936, dtype="bfloat16", tie_embeddings=True))
    return path


def evict(path: Path) -> None:
    """Drop the file's pages from the page cache (the next start reads it from disk)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def start_seconds(exe: Path, threads: int) -> float:
    began = time.perf_counter()
    subprocess.run([str(exe), "--prompt", "x", "-n", "1", "--mode", "completion", "--ctx", "2048", "--threads",
                    str(threads)], check=True, capture_output=True, env={})
    return time.perf_counter() - began


def server_start_seconds(exe: Path, threads: int) -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    began = time.perf_counter()
    process = subprocess.Popen([str(exe), "--server", "--port", str(port), "--threads", str(threads), "--ctx", "2048"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={})
    try:
        while process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return time.perf_counter() - began
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{exe} --server exited {process.returncode}")
    finally:
        process.terminate()
        process.wait(timeout=30)


def exe_decode(exe: Path, tokens: int, threads: int) -> dict:
    done = subprocess.run([str(exe), "--prompt", PROMPT, "-n", str(tokens), "--mode", "completion", "--ignore-eos",
                           "--timings", "--ctx", "2048", "--threads", str(threads)],
                          check=True, capture_output=True, text=True, env={})
    return json.loads(done.stderr.strip().splitlines()[-1])


def python_decode(llm, tokens: int) -> float:
    """llama-cpp-python's greedy decode rate: first token to last, as the executable's --timings counts it."""
    ids = llm.tokenize(PROMPT.encode(), add_bos=False, special=True)
    llm.reset()
    stamps = []
    for _ in llm.generate(ids, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0):
        stamps.append(time.perf_counter())
        if len(stamps) >= tokens:
            break
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def measure(args) -> dict:
    model = Path(args.model) if args.model else build_model(Path(tempfile.gettempdir()) / "codeladder-qwen2.5-0.5b-shape")
    with tempfile.TemporaryDirectory(prefix="compile-size-") as work:
        return measure_in(args, model, Path(work))


def measure_in(args, model: Path, work: Path) -> dict:
    from codeladder.backends.llamacpp import open_gguf

    exe = work / "model.run"
    report = compile_model(CompileParams(model=model, output=exe, type=args.type))
    gguf = model if model.suffix == ".gguf" else work / "model.gguf"
    if gguf != model:  # the exact GGUF inside, for llama-cpp-python
        with open(exe, "rb") as src, open(gguf, "wb") as dst:
            src.seek(report.total_bytes - report.gguf_bytes - 24)
            dst.write(src.read(report.gguf_bytes))
    evict(exe)
    cold = start_seconds(exe, args.threads)
    warm = statistics.median(start_seconds(exe, args.threads) for _ in range(args.runs))
    evict(exe)
    server_cold = server_start_seconds(exe, args.threads)
    server_warm = server_start_seconds(exe, args.threads)
    llm = open_gguf(gguf, n_ctx=2048, n_threads=args.threads)
    exe_rates, py_rates = [], []
    for _ in range(args.runs):  # interleaved, so load on the machine hits both alike
        exe_rates.append(exe_decode(exe, args.new_tokens, args.threads)["decode_tok_s"])
        py_rates.append(python_decode(llm, args.new_tokens))
    llm.close()
    exe_tok_s, py_tok_s = statistics.median(exe_rates), statistics.median(py_rates)
    return {"model": str(model), "gguf_type": report.gguf_type, "runtime_bytes": report.runtime_bytes,
            "gguf_bytes": report.gguf_bytes, "total_bytes": report.total_bytes,
            "total_over_gguf": round(report.total_bytes / report.gguf_bytes, 4), "compile_s": report.seconds,
            "startup_cold_s": round(cold, 3), "startup_warm_s": round(warm, 3),
            "server_ready_cold_s": round(server_cold, 3), "server_ready_warm_s": round(server_warm, 3),
            "threads": args.threads, "new_tokens": args.new_tokens, "exe_decode_tok_s": round(exe_tok_s, 2),
            "llama_cpp_python_decode_tok_s": round(py_tok_s, 2), "speed_ratio": round(exe_tok_s / py_tok_s, 3),
            "exe_runs": exe_rates, "llama_cpp_python_runs": [round(r, 2) for r in py_rates]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model folder or .gguf (default: random-init, Qwen2.5-Coder-0.5B's shape)")
    parser.add_argument("--type", default="q8_0", help="GGUF type when --model is a folder")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    mib = 2**20
    print(f"model {result['model']} ({result['gguf_type']}), {result['threads']} threads")
    print(f"runtime       {result['runtime_bytes']:>14,} B  {result['runtime_bytes'] / mib:8.1f} MiB")
    print(f"GGUF          {result['gguf_bytes']:>14,} B  {result['gguf_bytes'] / mib:8.1f} MiB")
    print(f"total         {result['total_bytes']:>14,} B  {result['total_bytes'] / mib:8.1f} MiB"
          f"  ({result['total_over_gguf']:.3f}x the GGUF)")
    print(f"start-up (load + 1 token)   cold {result['startup_cold_s']:.2f} s   warm {result['startup_warm_s']:.2f} s")
    print(f"server ready (/health)      cold {result['server_ready_cold_s']:.2f} s   warm {result['server_ready_warm_s']:.2f} s")
    print(f"decode tok/s  executable {result['exe_decode_tok_s']:.1f}   llama-cpp-python "
          f"{result['llama_cpp_python_decode_tok_s']:.1f}   ratio {result['speed_ratio']:.2f}x (target >= 0.9x)")


if __name__ == "__main__":
    main()
