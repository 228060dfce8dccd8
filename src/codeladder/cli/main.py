"""``ladder``: a thin Typer app. Each command parses its flags and calls one library function."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from codeladder.errors import LadderError

app = typer.Typer(help="codeladder: evaluate and improve open code LLMs, with every step measured.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console(width=None if sys.stdout.isatty() else 200)  # a pipe must not cut numbers at 80 columns
err_console = Console(stderr=True, soft_wrap=True)


def _ints(text: str, flag: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise LadderError(f"{flag} {text!r}: expected comma-separated integers, e.g. 1,10,100") from None


def _summary_table(summary: dict) -> Table:
    table = Table(title=f"{summary['benchmark']} - {summary['backend']} ({summary.get('model')})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, value in summary["pass_at_k"].items():
        table.add_row(f"pass@{k}", f"{100 * value:.2f}%")
    for k, value in summary.get("pass_at_k_base", {}).items():
        table.add_row(f"pass@{k} (base tests only)", f"{100 * value:.2f}%")
    if "rerank" in summary:
        table.add_row(f"pass@1 of the {summary['rerank']['method']} pick", f"{100 * summary['rerank']['pass_at_1']:.2f}%")
    low, high = summary["ci95"]
    table.add_row("pass@1 95% CI", f"{100 * low:.1f}% - {100 * high:.1f}%")
    table.add_row("tasks / samples", f"{summary['num_tasks']} / {summary['num_samples']}")
    table.add_row("statuses", ", ".join(f"{s} {c}" for s, c in sorted(summary["statuses"].items())))
    table.add_row("device / dtype", f"{summary.get('device')} / {summary.get('dtype')}")
    table.add_row("strategy", f"{summary['strategy']} ({summary['template_hash']})")
    table.add_row("isolation", summary["isolation"]["level"])
    table.add_row("time", f"{summary['timings']['total_s']:.1f} s")
    table.add_row("results", summary["output"])
    return table


@app.command("eval")
def eval_command(
    benchmark: str = typer.Argument("humaneval", help="humaneval, humaneval-plus, mbpp, mbpp-sanitized, mbpp-plus, "
                                                      "bigcodebench, bigcodebench-hard"),
    model: Optional[str] = typer.Option(None, "--model", help="model folder (hf), .gguf file (llamacpp), or the "
                                                             "served model's name (openai)"),
    backend: Optional[str] = typer.Option(None, "--backend", help="reference, hf, llamacpp, openai (default: "
                                                                 "inferred from --model/--base-url)"),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible server, e.g. "
                                                                    "http://127.0.0.1:8000/v1"),
    concurrency: int = typer.Option(8, "--concurrency", help="openai: requests in flight"),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env", help="openai: environment variable "
                                                                           "holding the API key"),
    n_ctx: Optional[int] = typer.Option(None, "--n-ctx", help="llamacpp: context size"),
    threads: Optional[int] = typer.Option(None, "--threads", help="llamacpp: CPU threads"),
    n_batch: int = typer.Option(512, "--n-batch", help="llamacpp: prompt tokens per decode call"),
    draft: Optional[str] = typer.Option(None, "--draft", help="speculative decoding: draft model folder (hf) "
                                                              "or prompt-lookup (llamacpp)"),
    rerank: Optional[str] = typer.Option(None, "--rerank", help="pick one of N samples: logprob, majority, exec"),
    samples: Optional[str] = typer.Option(None, "--samples", help="score pre-generated samples (EvalPlus JSONL)"),
    strategy: str = typer.Option("standard", "--strategy", help="standard|default|few-shot|scot|cgo"),
    shots: int = typer.Option(1, "--shots", help="exemplars for few-shot"),
    mode: str = typer.Option("auto", "--mode", help="chat, completion, or auto (chat if the model has a template)"),
    bcb_mode: str = typer.Option("complete", "--bcb-mode", help="BigCodeBench prompt: complete or instruct"),
    n: int = typer.Option(1, "--n", help="samples per task"),
    k: str = typer.Option("1", "--k", help="pass@k values, e.g. 1,10,100"),
    temperature: float = typer.Option(0.0, "--temperature"),
    top_p: float = typer.Option(1.0, "--top-p"),
    top_k: int = typer.Option(0, "--top-k"),
    seed: int = typer.Option(0, "--seed"),
    max_new_tokens: int = typer.Option(512, "--max-new-tokens"),
    limit: Optional[int] = typer.Option(None, "--limit", help="only the first N tasks"),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="seconds per sample (default per benchmark)"),
    memory: Optional[int] = typer.Option(None, "--memory", help="MiB per sample (default 2048; 4096 for *-plus)"),
    workers: Optional[int] = typer.Option(None, "--workers", help="parallel sandbox workers (default: cores)"),
    output: Optional[str] = typer.Option(None, "--output", help="run folder (default runs/BENCH/TAG)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="start the run folder again"),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N, mps"),
    dtype: str = typer.Option("auto", "--dtype", help="auto, float32, bfloat16, float16"),
    batch_size: int = typer.Option(8, "--batch-size"),
    json_out: bool = typer.Option(False, "--json", help="print summary.json instead of a table"),
) -> None:
    """Evaluate a model (or the reference solutions, or a samples file) on a benchmark."""
    from codeladder.evaluate import EvalConfig, evaluate

    config = EvalConfig(benchmark=benchmark, model=model, backend=backend, samples=samples, strategy=strategy,
                        shots=shots, mode=mode, bcb_mode=bcb_mode, n=n, k=_ints(k, "--k"), temperature=temperature,
                        top_p=top_p, top_k=top_k, seed=seed, max_new_tokens=max_new_tokens, limit=limit,
                        timeout=timeout, memory_mb=memory, workers=workers, output=output, overwrite=overwrite,
                        device=device, dtype=dtype, batch_size=batch_size, base_url=base_url,
                        concurrency=concurrency, api_key_env=api_key_env, n_ctx=n_ctx, threads=threads, n_batch=n_batch,
                        draft=draft,
                        rerank=rerank)
    summary = evaluate(config, show_progress=not json_out)
    if config.backend_name == "reference" and not json_out:
        from codeladder.benchmarks import get_benchmark

        err_console.print("[yellow]sanity run:[/] no --model given, scored the benchmark's reference solutions "
                          f"({get_benchmark(benchmark).sanity_expectation})")
    if json_out:
        print(json.dumps(summary, indent=2))
    else:
        console.print(_summary_table(summary))


@app.command("tiny")
def tiny_command(
    out_dir: Path = typer.Argument(..., help="folder to write the model into"),
    arch: str = typer.Option("qwen2", "--arch", help="qwen2 or llama"),
    seed: int = typer.Option(0, "--seed"),
    hidden: int = typer.Option(64, "--hidden", help="hidden size"),
    layers: int = typer.Option(2, "--layers"),
    heads: int = typer.Option(4, "--heads"),
    kv_heads: int = typer.Option(2, "--kv-heads"),
    intermediate: Optional[int] = typer.Option(None, "--intermediate", help="MLP size (default 2x hidden)"),
    vocab: int = typer.Option(4096, "--vocab", help="BPE vocabulary size"),
    pad_vocab_to: Optional[int] = typer.Option(None, "--pad-vocab-to", help="embedding rows (e.g. 151936)"),
    dtype: str = typer.Option("float32", "--dtype", help="float32, bfloat16 or float16"),
    tie_embeddings: bool = typer.Option(False, "--tie-embeddings", help="share embedding and lm_head"),
) -> None:
    """Build a tiny random-init model with a BPE tokenizer trained on Python source, offline, in seconds."""
    from codeladder.models.tiny import TinySpec, build_tiny_model

    spec = TinySpec(arch=arch, seed=seed, hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads,
                    intermediate=intermediate, vocab=vocab, pad_vocab_to=pad_vocab_to, dtype=dtype,
                    tie_embeddings=tie_embeddings)
    path = build_tiny_model(out_dir, spec)
    console.print(f"wrote {spec.arch} model ({spec.parameter_count():,} parameters) to {path}")


@app.command("import")
def import_command(
    source: str = typer.Argument(..., help="a Hugging Face model folder or a .gguf file"),
    output: Path = typer.Option(..., "-o", "--output", help="model folder to write"),
    dtype: str = typer.Option("auto", "--dtype", help="auto (keep), float32, float16, bfloat16"),
) -> None:
    """Import a model into a checked folder with lineage (GGUF is dequantized; its tokenizer rebuilt)."""
    from codeladder.models.io import import_model

    path = import_model(source, output, dtype)
    console.print(f"imported {source} -> {path}")


@app.command("check")
def check_command(
    folder: Path = typer.Argument(..., help="model folder"),
    json_out: bool = typer.Option(False, "--json", help="print {ok, stages: [{name, ok, detail}]}"),
) -> None:
    """Staged integrity check: config, tokenizer, tensors, finite weights, forward pass, generation."""
    from codeladder.models.check import check_model, report_json

    if not folder.is_dir():
        raise LadderError(f"{folder}: no such model folder")
    report = check_model(folder)
    if json_out:
        print(report_json(report))
    else:
        table = Table(title=f"ladder check {folder}")
        for column in ("stage", "ok", "detail"):
            table.add_column(column)
        for stage in report.stages:
            table.add_row(stage.name, "[green]pass[/]" if stage.ok else "[red]FAIL[/]", stage.detail)
        console.print(table)
    raise typer.Exit(0 if report.ok else 1)


@app.command("export")
def export_command(
    folder: Path = typer.Argument(..., help="model folder"),
    output: Path = typer.Option(..., "-o", "--output", help=".gguf file, or a folder for safetensors"),
    format: str = typer.Option("gguf", "--format", help="gguf or safetensors"),
    type: str = typer.Option("f16", "--type", help="GGUF: f32, f16, q8_0, q5_0, q4_0, q4_k, q5_k, q6_k"),
    dtype: str = typer.Option("auto", "--dtype", help="safetensors: auto, float32, float16, bfloat16"),
    verbose: bool = typer.Option(False, "--verbose", help="K-quants: show llama.cpp's own quantizer log"),
) -> None:
    """Export to GGUF (llama.cpp) or to a safetensors folder."""
    if format == "gguf":
        from codeladder.models.gguf_export import export_gguf

        report = export_gguf(folder, output, type, show_progress=True, verbose=verbose)
        console.print(f"wrote {report.path}: {report.tensors} tensors, {report.bytes / 2**20:.1f} MiB, type {type}")
        for tensor, kind in report.fallbacks.items():
            console.print(f"  fallback: {tensor} stored as {kind} (rows do not fit {type} blocks)")
    elif format == "safetensors":
        from codeladder.models.io import convert_folder

        convert_folder(folder, output, dtype, stage="export", params={"format": "safetensors"})
        console.print(f"wrote {output}")
    else:
        raise LadderError(f"--format {format}: choose gguf or safetensors")


@app.command("quantize")
def quantize_command(
    folder: Path = typer.Argument(..., help="model folder"),
    scheme: str = typer.Option(..., "--scheme", help="GGUF: f16, q8_0, q5_0, q4_0, q4_k, q5_k, q6_k (-o FILE); "
                                                        "in-framework: int8, nf4, fp4 (-o DIR)"),
    output: Path = typer.Option(..., "-o", "--output", help="GGUF file or model folder"),
    text: Optional[Path] = typer.Option(None, "--text", help="text file for perplexity before/after"),
    json_out: bool = typer.Option(False, "--json"),
    verbose: bool = typer.Option(False, "--verbose", help="K-quants: show llama.cpp's own quantizer log"),
) -> None:
    """Quantize; report size against FP16 (from the parameter count) and, with --text, the perplexity delta."""
    from codeladder.models.quantize import describe, quantize

    if text is not None and not text.is_file():
        raise LadderError(f"--text {text}: no such file")
    report = quantize(folder, scheme, output, text.read_text(errors="replace") if text else None, verbose=verbose)
    if json_out:
        print(json.dumps(report, indent=2))
    else:
        table = Table(title=f"ladder quantize {folder}")
        table.add_column("")
        table.add_column("value")
        for label, value in describe(report):
            table.add_row(label, value)
        console.print(table)


@app.command("run")
def run_command(
    model: str = typer.Argument(..., help="model folder, .gguf file, or served model name with --base-url"),
    prompt: Optional[str] = typer.Option(None, "--prompt", help="one prompt"),
    batch_jsonl: Optional[Path] = typer.Option(None, "--batch-jsonl", help='JSONL of {"prompt": …} or {"messages": …}'),
    backend: Optional[str] = typer.Option(None, "--backend"),
    base_url: Optional[str] = typer.Option(None, "--base-url"),
    mode: str = typer.Option("auto", "--mode", help="chat, completion or auto"),
    max_new_tokens: int = typer.Option(128, "--max-new-tokens"),
    temperature: float = typer.Option(0.0, "--temperature"),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device"),
    dtype: str = typer.Option("auto", "--dtype"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="write JSONL here (default: stdout)"),
) -> None:
    """Generate for one prompt or a JSONL batch; prints one JSON row per prompt (text, tokens, tok/s, latency)."""
    from codeladder.backends import GenerationParams
    from codeladder.generate import read_batch, run_prompts
    from codeladder.prompts.base import Prompt
    from codeladder.runs import check_output_file, write_text_atomic

    if (prompt is None) == (batch_jsonl is None):
        raise LadderError("give exactly one of --prompt TEXT or --batch-jsonl FILE")
    if output:
        check_output_file(output, "-o")
    prompts = read_batch(batch_jsonl) if batch_jsonl else [
        Prompt(text=prompt, messages=[{"role": "user", "content": prompt}])]
    params = GenerationParams(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, mode=mode)
    rows = run_prompts(model, prompts, backend, params, device=device, dtype=dtype, base_url=base_url)
    text = "".join(json.dumps(row) + "\n" for row in rows)
    if output:
        write_text_atomic(output, text)
    else:
        sys.stdout.write(text)


@app.command("bench")
def bench_command(
    models: list[str] = typer.Argument(..., help="one or more model folders / GGUF files to compare"),
    backend: Optional[str] = typer.Option(None, "--backend", help="hf or llamacpp (default: inferred)"),
    prompt_tokens: int = typer.Option(128, "--prompt-tokens"),
    new_tokens: int = typer.Option(32, "--new-tokens"),
    iterations: int = typer.Option(3, "--iterations"),
    warmup: int = typer.Option(1, "--warmup"),
    batch_sizes: str = typer.Option("1,4,16", "--batch-sizes"),
    device: str = typer.Option("auto", "--device"),
    dtype: str = typer.Option("auto", "--dtype"),
    threads: Optional[int] = typer.Option(None, "--threads"),
    draft: Optional[str] = typer.Option(None, "--draft", help="speculative decoding: draft folder (hf) or "
                                                              "prompt-lookup (llamacpp)"),
    json_out: bool = typer.Option(False, "--json", help="one JSON object (a list when several models)"),
) -> None:
    """Throughput: prefill and decode tok/s, time to first token, latency, batch throughput."""
    from codeladder.analysis.bench import bench

    results = [bench(m, backend, prompt_tokens, new_tokens, iterations, warmup, _ints(batch_sizes, "--batch-sizes"),
                     device, dtype, threads, draft).as_dict() for m in models]
    if json_out:
        print(json.dumps(results[0] if len(results) == 1 else results, indent=2))
        return
    table = Table(title="ladder bench")
    for column in ("model", "backend", "device/dtype", "prefill tok/s", "decode tok/s", "TTFT s", "e2e s (med)",
                   "batch tok/s"):
        table.add_column(column)
    for r in results:
        batch = ", ".join(f"{k}: {v:.1f}" for k, v in r["batch_tok_s"].items())
        decode = f"{r['decode_tok_s']:.1f}"
        if r["draft"]:
            decode += f" (draft {r['draft']['decode_tok_s']:.1f}, x{r['draft']['speedup']:.2f})"
        table.add_row(Path(r["model"]).name, r["backend"], f"{r['device']} / {r['dtype']}", f"{r['prefill_tok_s']:.1f}",
                      decode, f"{r['ttft_s']:.3f}", f"{r['e2e_s']['median']:.3f}", batch)
    console.print(table)


@app.command("parity")
def parity_command(
    a: str = typer.Argument(..., help="model folder or .gguf file"),
    b: str = typer.Argument(..., help="model folder or .gguf file"),
    prompts: Optional[Path] = typer.Option(None, "--prompts", help='JSONL of {"prompt": …} (default: 8 HumanEval prompts)'),
    a_dtype: str = typer.Option("float32", "--a-dtype", help="dtype for A when it is a folder"),
    b_dtype: str = typer.Option("float32", "--b-dtype", help="dtype for B when it is a folder"),
    greedy_tokens: int = typer.Option(32, "--greedy-tokens"),
    min_cosine: float = typer.Option(0.999, "--min-cosine", help="pass threshold on the minimum cosine"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Logit cosine, KL, top-1 and greedy agreement between two backends/dtypes/files of one model."""
    from codeladder.analysis.parity import compare_models

    report = compare_models(a, b, prompts, a_dtype, b_dtype, greedy_tokens, min_cosine)
    if json_out:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        table = Table(title=f"parity: {report.a}  vs  {report.b}")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key in ("prompts", "positions", "cosine_min", "cosine_mean", "kl_mean", "kl_max", "top1_agreement",
                    "greedy_agreement", "tokenizer_agreement"):
            value = getattr(report, key)
            table.add_row(key, f"{value:.6g}" if isinstance(value, float) else str(value))
        table.add_row("verdict", "[green]PASS[/]" if report.passed else f"[red]FAIL[/] (cosine_min < {min_cosine})")
        console.print(table)
    raise typer.Exit(0 if report.passed else 1)


@app.command("perplexity")
def perplexity_command(
    model: str = typer.Argument(..., help="model folder or .gguf file"),
    text: Path = typer.Option(..., "--text", help="text file"),
    max_length: int = typer.Option(512, "--max-length", help="window in tokens"),
    stride: int = typer.Option(256, "--stride", help="step between windows (< max-length scores every token)"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Sliding-window perplexity of a model on a text file."""
    from codeladder.models.perplexity import hf_perplexity

    if not text.is_file():
        raise LadderError(f"--text {text}: no such file")
    if model.endswith(".gguf"):
        from codeladder.backends.llamacpp import gguf_perplexity

        result = gguf_perplexity(model, text.read_text(errors="replace"), max_length, stride)
    elif (Path(model) / "config.json").exists():
        result = hf_perplexity(model, text.read_text(errors="replace"), max_length, stride)
    else:
        raise LadderError(f"{model}: expected a model folder or a .gguf file")
    result["model"] = model
    print(json.dumps(result, indent=2) if json_out else f"perplexity {result['perplexity']:.4f} over "
          f"{result['tokens']} tokens (window {max_length}, stride {stride})")


@app.command("merge")
def merge_command(
    models: list[Path] = typer.Argument(..., help="model folders to merge"),
    method: str = typer.Option(..., "--method", help="linear, task_arithmetic, slerp, ties, dare_ties, dare_linear"),
    output: Path = typer.Option(..., "-o", "--output"),
    base: Optional[Path] = typer.Option(None, "--base", help="base model (task vectors are taken against it)"),
    weights: Optional[str] = typer.Option(None, "--weights", help="per-model weights, e.g. 0.7,0.3"),
    t: float = typer.Option(0.5, "--t", help="slerp: 0 = first endpoint, 1 = second"),
    density: float = typer.Option(0.5, "--density", help="ties/dare: share of each task vector kept"),
    seed: int = typer.Option(0, "--seed", help="dare: drop pattern seed"),
    tokenizer_source: Optional[Path] = typer.Option(None, "--tokenizer-source", help="folder whose tokenizer is "
                                                                                     "copied (default: base/first)"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Merge models tensor by tensor, streaming (peak memory near a few tensors); writes merge_report.json."""
    from codeladder.transforms.merge import describe, merge_models

    weight_values = None
    if weights:
        try:
            weight_values = tuple(float(w) for w in weights.split(","))
        except ValueError:
            raise LadderError(f"--weights {weights!r}: expected comma-separated numbers") from None
    report = merge_models(models, method, output, base, weight_values, t, density, seed, tokenizer_source,
                          show_progress=not json_out)
    if json_out:
        print(json.dumps({k: v for k, v in report.items() if k != "tensors"}, indent=2))
    else:
        console.print(describe(report, output), highlight=False)


@app.command("merge-adapter")
def merge_adapter_command(
    base: Path = typer.Argument(..., help="base model folder"),
    adapter: Path = typer.Argument(..., help="PEFT LoRA adapter folder"),
    output: Path = typer.Option(..., "-o", "--output"),
) -> None:
    """Fold a LoRA adapter into its base model (W + alpha/r * B @ A)."""
    from codeladder.transforms.lora import merge_adapter

    info = merge_adapter(base, adapter, output)
    console.print(f"merged {info['modules']} LoRA module(s) (scale {info['scale']:g}) into {output}")


@app.command("prune")
def prune_command(
    folder: Path = typer.Argument(..., help="model folder"),
    output: Path = typer.Option(..., "-o", "--output"),
    method: str = typer.Option("wanda", "--method", help="wanda or magnitude"),
    sparsity: float = typer.Option(0.5, "--sparsity"),
    structure: str = typer.Option("unstructured", "--structure", help="unstructured or 2:4"),
    calibration: Optional[Path] = typer.Option(None, "--calibration", help="JSONL with 'text' (default: bundled "
                                                                           "MBPP train split code)"),
    samples: int = typer.Option(128, "--samples", help="calibration samples"),
    text: Optional[Path] = typer.Option(None, "--text", help="text file for perplexity before/after"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Prune linear layers per output row (embeddings, norms, lm_head untouched; dtype kept)."""
    from codeladder.transforms.prune import prune_model

    if text is not None and not text.is_file():
        raise LadderError(f"--text {text}: no such file")
    report = prune_model(folder, output, method, sparsity, structure, calibration, samples,
                         text.read_text(errors="replace") if text else None)
    if json_out:
        print(json.dumps(report, indent=2))
    else:
        line = f"pruned {folder} -> {output}: {method} {structure}, sparsity {report['sparsity_achieved']:.3f}"
        if "perplexity_after" in report:
            line += f", perplexity {report['perplexity_before']:.3f} -> {report['perplexity_after']:.3f}"
        console.print(line)


def _version(value: bool) -> None:
    if value:
        import codeladder

        print(f"codeladder {codeladder.__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit")) -> None:
    """codeladder: evaluate and improve open code LLMs, with every step measured."""


def _one_line(exc: BaseException) -> str:
    """An unexpected failure as one line; LADDER_DEBUG=1 shows the traceback instead."""
    where = ""
    tb = exc.__traceback__
    while tb is not None:
        where = f" ({Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno})"
        tb = tb.tb_next
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}{where}; rerun with LADDER_DEBUG=1 for the traceback"


INTERRUPTED = 130
_METAVARS = {"<int>": "N", "<float>": "NUMBER", "<str>": "TEXT", "<path>": "PATH", "<bool>": ""}


def _tidy_metavars(command) -> None:
    """Flags show no value to type (``--overwrite``, not ``--overwrite <bool>``); other options show N,
    NUMBER, TEXT or PATH instead of Python type names."""
    help_option = command.get_help_option(command.context_class(command))
    for param in [*command.params, *([help_option] if help_option else [])]:
        if getattr(param, "metavar", None) is None:
            label = param.display_type(None)
            param.metavar = "" if getattr(param, "is_flag", False) else _METAVARS.get(label, label.strip("<>").upper())
    for sub in getattr(command, "commands", {}).values():
        _tidy_metavars(sub)


def main() -> None:
    command = typer.main.get_command(app)
    _tidy_metavars(command)
    try:
        code = command.main(standalone_mode=False, prog_name="ladder")
    except LadderError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.TyperException as exc:  # a usage error: typer prints it with the usage line
        exc.show()
        sys.exit(getattr(exc, "exit_code", 2))
    except (KeyboardInterrupt, typer.Abort):
        code = INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last net: never a traceback for a user
        if os.environ.get("LADDER_DEBUG"):
            raise
        err_console.print(f"[bold red]error:[/] {_one_line(exc)}", highlight=False, soft_wrap=True)
        sys.exit(1)
    if code == INTERRUPTED:  # typer turns Ctrl-C into this exit code
        err_console.print("[yellow]interrupted[/]: finished work is saved; run the same command again to resume")
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
