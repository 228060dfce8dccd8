"""``ladder eval``: benchmark -> prompt strategy -> backend -> extraction -> sandbox -> scoring -> run folder.

Call :func:`evaluate` from Python exactly as the CLI does. Re-running the same call after a crash
continues where it stopped: finished samples and verdicts are read back, never redone.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import codeladder
from codeladder.backends import GenerationParams, Request, check_backend_options, create_backend, infer_backend
from codeladder.backends.base import require
from codeladder.backends.reference import ReferenceBackend
from codeladder.benchmarks import Benchmark, Task, get_benchmark
from codeladder.errors import LadderError
from codeladder.progress import progress_bar
from codeladder.prompts import extract_code, get_strategy
from codeladder.prompts.extract import COMPLETION_STOPS, extract_completion, parses
from codeladder.runs import Appender, RunDir, read_input_jsonl, slug, write_json_atomic
from codeladder.sandbox import Job, Limits, SandboxPool
from codeladder.scoring import bootstrap_ci, mean_pass_at_k

ERROR_TAIL_CHARS = 1200


@dataclass
class EvalConfig:
    benchmark: str = "humaneval"
    model: str | None = None
    backend: str | None = None  # default: reference without --model, hf with one
    samples: str | None = None  # pre-generated samples in EvalPlus format
    strategy: str = "standard"
    shots: int = 1
    mode: str = "auto"  # chat | completion | auto
    bcb_mode: str = "complete"
    n: int = 1
    k: tuple[int, ...] = (1,)
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int = 0
    max_new_tokens: int = 512
    limit: int | None = None
    timeout: float | None = None
    memory_mb: int | None = None
    workers: int | None = None
    output: str | None = None
    overwrite: bool = False
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 8
    base_url: str | None = None  # openai backend
    concurrency: int = 8  # openai backend: requests in flight
    api_key_env: str = "OPENAI_API_KEY"
    n_ctx: int | None = None  # llamacpp backend
    threads: int | None = None  # llamacpp backend
    n_batch: int = 512  # llamacpp backend: prompt tokens per decode call
    draft: str | None = None  # speculative decoding: a draft model folder (hf) or "prompt-lookup" (llamacpp)
    rerank: str | None = None  # logprob | majority | exec
    isolate: bool = True

    @property
    def backend_name(self) -> str:
        if self.samples:
            return "samples"
        return self.backend or infer_backend(self.model, self.base_url)

    def run_key(self) -> dict:
        """Settings that change the samples; a run folder holds one combination of them (an edited
        --samples file counts as another run: its checksum is part of the key)."""
        return {"benchmark": self.benchmark, "backend": self.backend_name, "model": self.model,
                "samples": self.samples, "samples_sha256": _file_sha256(self.samples), "strategy": self.strategy, "shots": self.shots, "mode": self.mode,
                "bcb_mode": self.bcb_mode if self.benchmark.startswith("bigcodebench") else None, "n": self.n,
                "temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k, "seed": self.seed,
                "max_new_tokens": self.max_new_tokens}

    def default_output(self) -> Path:
        source = self.samples or self.model or self.backend_name
        tag = f"{slug(Path(source).name or source)}-{self.strategy}-n{self.n}-t{self.temperature:g}-s{self.seed}"
        return Path("runs") / self.benchmark / tag


def _file_sha256(path: str | None) -> str | None:
    if not path or not Path(path).is_file():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _check(config: EvalConfig) -> None:
    """Every flag checked before anything is created: a bad value is one line, and leaves nothing behind."""
    require(config.n >= 1, "--n", config.n, "need at least one sample per task")
    require(config.limit is None or config.limit >= 1, "--limit", config.limit, "must be at least 1 task")
    require(config.timeout is None or 0 < config.timeout <= 3600, "--timeout", config.timeout,
            "seconds per sample, more than 0 and at most 3600")
    require(config.memory_mb is None or config.memory_mb >= 64, "--memory", config.memory_mb, "MiB, at least 64")
    require(config.workers is None or config.workers >= 1, "--workers", config.workers, "must be at least 1")
    require(config.shots >= 0, "--shots", config.shots, "must be 0 or more")
    get_strategy(config.strategy, config.shots)
    require(not config.samples or Path(config.samples).is_file(), "--samples", config.samples, "no such file")
    GenerationParams(max_new_tokens=config.max_new_tokens, temperature=config.temperature, top_p=config.top_p,
                     top_k=config.top_k, seed=config.seed, mode=config.mode)
    check_backend_options({"batch_size": config.batch_size, "concurrency": config.concurrency,
                           "n_batch": config.n_batch, "threads": config.threads, "n_ctx": config.n_ctx,
                           "device": config.device})
    too_big = [k for k in config.k if k > config.n and not config.samples]
    if too_big or any(k < 1 for k in config.k):
        raise LadderError(f"--k {','.join(map(str, config.k))}: every k must be between 1 and --n ({config.n})")
    if config.samples and config.model:
        raise LadderError("--samples and --model exclude each other: score a file, or generate with a model")
    if config.backend_name == "reference" and config.model:
        raise LadderError("--backend reference takes no --model (it answers with the canonical solutions)")
    if config.rerank not in (None, "logprob", "majority", "exec"):
        raise LadderError(f"--rerank {config.rerank}: choose logprob, majority or exec")
    if config.rerank and config.n < 2 and not config.samples:
        raise LadderError("--rerank picks one of several samples: use --n 2 or more")


def _task_ids_by_number(bench: Benchmark) -> dict[str, str]:
    """``11`` -> ``Mbpp/11``: files from other tools often carry the bare number as the task id."""
    return {t.task_id.rsplit("/", 1)[-1]: t.task_id for t in bench.load()}


def _sample_task_id(value: object, ids: dict[str, str], where: str, bench: Benchmark) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise LadderError(f"{where}: task_id must be a string like {next(iter(ids.values()))!r} (or its number), "
                          f"not {type(value).__name__}")
    text = str(value)
    if text in ids.values():
        return text
    if text in ids:
        return ids[text]
    raise LadderError(f"{where}: task_id {value!r} is not a {bench.name} task")


def _sample_code(row: dict, task: Task, bench: Benchmark, where: str) -> tuple[str, str]:
    """(code, raw) from EvalPlus ``solution``/``completion`` or codeladder's own ``extracted``/``raw``."""
    for field, is_full in (("solution", True), ("extracted", True), ("completion", False)):
        if field in row:
            value = row[field]
            if not isinstance(value, str):
                raise LadderError(f"{where}: field {field!r} must be a string of code, not {type(value).__name__}")
            code = value if is_full else bench.solution_from_completion(task, value)
            raw = row.get("raw") if isinstance(row.get("raw"), str) else value
            return code, raw
    raise LadderError(f"{where}: needs a 'solution', 'completion' or 'extracted' field")


def read_samples_file(path: Path, bench: Benchmark, tasks: dict[str, Task]) -> list[dict]:
    """EvalPlus format: ``task_id`` plus ``solution`` (full code) or ``completion`` (text after the prompt);
    codeladder's own ``samples.jsonl`` (``extracted``) is read too, so a run can be re-scored."""
    rows, per_task, ids = [], Counter(), _task_ids_by_number(bench)
    for number, row in read_input_jsonl(path, "--samples"):
        where = f"{path}:{number}"
        task_id = _sample_task_id(row.get("task_id"), ids, where, bench)
        if task_id not in tasks:
            continue  # outside --limit
        code, raw = _sample_code(row, tasks[task_id], bench, where)
        rows.append({"task_id": task_id, "sample_index": per_task[task_id], "raw": raw, "extracted": code,
                     "extraction": "samples-file"})
        per_task[task_id] += 1
    if not rows:
        raise LadderError(f"{path}: holds no samples for {bench.name}")
    return rows


def _generate(config: EvalConfig, bench: Benchmark, tasks: list[Task], run: RunDir, show: bool) -> dict:
    """Fill samples.jsonl up to n samples per task; returns the backend's description."""
    done = {(r["task_id"], r["sample_index"]) for r in run.sample_rows()}
    backend_file = run.path / "backend.json"
    by_id = {t.task_id: t for t in tasks}
    if config.samples:
        rows = read_samples_file(Path(config.samples), bench, by_id)
        _check_k_against_samples(config.k, Counter(r["task_id"] for r in rows), config.samples)
        fresh = [r for r in rows if (r["task_id"], r["sample_index"]) not in done]
        with Appender(run.samples) as out:
            for row in fresh:
                out.write(row)
        info = {"backend": "samples", "model": config.samples, "device": "none", "dtype": "none", "chat": None}
        write_json_atomic(backend_file, info)
        return info
    todo = [(t, i) for t in tasks for i in range(config.n) if (t.task_id, i) not in done]
    if not todo:
        return json.loads(backend_file.read_text()) if backend_file.exists() else {}
    strategy = get_strategy(config.strategy, config.shots)
    if config.backend_name == "reference":
        backend = ReferenceBackend({t.task_id: t.reference for t in tasks})
    else:
        backend = create_backend(config.backend_name, config.model, device=config.device, dtype=config.dtype,
                                 batch_size=config.batch_size, base_url=config.base_url if config.backend_name == "openai" else None,
                                 concurrency=config.concurrency, api_key_env=config.api_key_env, n_ctx=config.n_ctx,
                                 threads=config.threads, n_batch=config.n_batch, draft=config.draft,
                                 logprobs=config.rerank == "logprob")
    chat = backend.uses_chat(config.mode)
    info = {**backend.describe(), "chat": chat}
    write_json_atomic(backend_file, info)
    params = GenerationParams(max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                              top_p=config.top_p, top_k=config.top_k, seed=config.seed,
                              stop=() if chat else COMPLETION_STOPS, mode=config.mode,
                              logprobs=config.rerank == "logprob")
    chunk = max(1, config.batch_size, config.concurrency if config.backend_name == "openai" else 1) * 4
    try:
        _generate_chunks(todo, chunk, strategy, backend, params, chat, run, show)
    finally:
        close = getattr(backend, "close", None)
        if close:
            close()
    return info


def _generate_chunks(todo, chunk, strategy, backend, params, chat, run, show) -> None:
    with Appender(run.samples) as out, progress_bar("generating", len(todo), show) as advance:
        for start in range(0, len(todo), chunk):
            part = todo[start:start + chunk]
            requests = [Request(t.task_id, strategy.build(t)) for t, _ in part]
            for (task, index), completion in zip(part, backend.generate(requests, params)):
                if backend.name == "reference":
                    code, method = completion.text, "reference"
                elif chat:
                    found = extract_code(completion.text, task.entry_point,
                                         task.prompt if task.style == "function" else "")
                    code, method = found.code, found.method
                else:
                    found = extract_completion(completion.text, task.prompt)
                    code, method = found.code, found.method
                out.write({"task_id": task.task_id, "sample_index": index, "raw": completion.text,
                           "extracted": code, "extraction": method, "prompt_tokens": completion.prompt_tokens,
                           "completion_tokens": completion.completion_tokens,
                           "seconds": round(completion.seconds, 4), "mean_logprob": completion.mean_logprob})
            advance(len(part))


def _error_text(detail: str, output_tail: str) -> str:
    text = detail if not output_tail else f"{detail}\n--- output ---\n{output_tail}"
    return text[-ERROR_TAIL_CHARS:]


def _execute(config: EvalConfig, bench: Benchmark, tasks: list[Task], run: RunDir, limits: Limits,
             show: bool) -> dict:
    by_id = {t.task_id: t for t in tasks}
    samples = [s for s in run.sample_rows() if s["task_id"] in by_id]
    finished = {(r["task_id"], r["sample_index"]) for r in run.result_rows()}
    pending = [s for s in samples if (s["task_id"], s["sample_index"]) not in finished]
    workers = config.workers or os.cpu_count() or 1
    plus = bench.name.endswith("-plus")

    def result_row(sample: dict, status: str, detail: str, duration: float) -> dict:
        row = {"task_id": sample["task_id"], "sample_index": sample["sample_index"], "passed": status == "passed",
               "status": status, "duration_s": duration, "error": detail}
        if plus:
            row["base_passed"] = status == "passed" or detail.lstrip().find("[plus input") != -1
        return row

    pool = SandboxPool(workers=workers, limits=limits, isolate=config.isolate)
    with pool, Appender(run.results) as out, progress_bar("executing", len(pending), show) as advance:
        jobs, by_key = [], {}
        for sample in pending:
            key = f"{sample['task_id']}#{sample['sample_index']}"
            by_key[key] = sample
            code = sample["extracted"]
            if not parses(code):
                out.write(result_row(sample, "syntax_error", "the extracted code does not parse", 0.0))
                advance(1)
                continue
            program = bench.test_program(by_id[sample["task_id"]], code)
            jobs.append(Job(key, program.code, program.payload))
        for verdict in pool.run(jobs):
            detail = "" if verdict.passed else _error_text(verdict.detail, verdict.output_tail)
            out.write(result_row(by_key[verdict.key], verdict.status, detail, verdict.duration_s))
            advance(1)
        return pool.isolation


def summarize(config: EvalConfig, bench: Benchmark, tasks: list[Task], run: RunDir, info: dict,
              isolation: dict, limits: Limits, timings: dict) -> dict:
    ids = {t.task_id for t in tasks}
    rows = [r for r in run.result_rows() if r["task_id"] in ids]
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    base_counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        counts[row["task_id"]][0] += 1
        counts[row["task_id"]][1] += int(row["passed"])
        if "base_passed" in row:
            base_counts[row["task_id"]][0] += 1
            base_counts[row["task_id"]][1] += int(row["base_passed"])
    as_pairs = {t: (n, c) for t, (n, c) in counts.items()}
    strategy = get_strategy(config.strategy, config.shots)
    summary = {
        "benchmark": bench.name,
        "num_tasks": len(as_pairs),
        "num_samples": len(rows),
        "pass_at_k": mean_pass_at_k(as_pairs, config.k),
        "ci95": bootstrap_ci(as_pairs, seed=config.seed),
        "statuses": dict(Counter(r["status"] for r in rows)),
        "model": info.get("model", config.model),
        "backend": info.get("backend", config.backend_name),
        "device": info.get("device"),
        "dtype": info.get("dtype"),
        "mode": None if info.get("chat") is None else ("chat" if info.get("chat") else "completion"),
        "sanity_run": config.backend_name == "reference",
        "strategy": strategy.name,
        "template_hash": strategy.template_hash,
        "generation": {"n": config.n, "temperature": config.temperature, "top_p": config.top_p,
                       "top_k": config.top_k, "seed": config.seed, "max_new_tokens": config.max_new_tokens},
        "dataset": {"source": bench.source, "file": bench.data_file, "sha256": bench.sha256},
        "dataset_sha256": bench.sha256,
        "isolation": isolation,
        "limits": {**limits.as_dict(), "workers": config.workers or os.cpu_count()},
        "timings": timings,
        "codeladder_version": codeladder.__version__,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if base_counts:
        summary["pass_at_k_base"] = mean_pass_at_k({t: (n, c) for t, (n, c) in base_counts.items()}, config.k)
    return summary


def _rerank(config: EvalConfig, tasks: list[Task], run: RunDir, limits: Limits) -> dict:
    from codeladder.rerank import pick, rerank_summary

    ids = {t.task_id for t in tasks}
    samples = [s for s in run.sample_rows() if s["task_id"] in ids]
    picks = pick(config.rerank, tasks, samples, limits, config.workers or os.cpu_count() or 1, config.isolate)
    result = rerank_summary(config.rerank, picks, run.result_rows())
    write_json_atomic(run.path / "rerank.json", result)
    return {k: v for k, v in result.items() if k != "picked"}


def _check_k_against_samples(ks: tuple[int, ...], per_task: Counter, path: str) -> None:
    """pass@k needs k samples of every task; dropping the row silently would hide the request."""
    fewest_task, fewest = min(per_task.items(), key=lambda item: item[1])
    too_big = [k for k in ks if k > fewest]
    if too_big:
        raise LadderError(f"--k {','.join(map(str, ks))}: {path} has only {fewest} sample(s) for {fewest_task}; "
                          f"every k must be at most the fewest samples per task ({fewest})")


def evaluate(config: EvalConfig, show_progress: bool = False) -> dict:
    """Run (or resume) one evaluation; returns the summary that was written to ``summary.json``."""
    _check(config)
    bench = get_benchmark(config.benchmark, config.bcb_mode if config.benchmark.startswith("bigcodebench") else None)
    tasks = bench.load()
    if config.limit is not None:
        tasks = tasks[: config.limit]
    run = RunDir(config.output or config.default_output())
    run.prepare(config.run_key(), overwrite=config.overwrite)
    try:
        return _evaluate_in(run, config, bench, tasks, show_progress)
    finally:
        run.unlock()


def _evaluate_in(run: RunDir, config: EvalConfig, bench: Benchmark, tasks: list[Task], show_progress: bool) -> dict:
    run.summary.unlink(missing_ok=True)  # a run being extended must not look finished if it stops half-way
    limits = Limits(timeout_s=config.timeout or bench.default_timeout_s,
                    memory_mb=config.memory_mb or bench.default_memory_mb)
    started = time.perf_counter()
    info = _generate(config, bench, tasks, run, show_progress)
    generated = time.perf_counter()
    if config.samples:
        sampled = {r["task_id"] for r in run.sample_rows()}
        tasks = [t for t in tasks if t.task_id in sampled]
    isolation = _execute(config, bench, tasks, run, limits, show_progress)
    executed = time.perf_counter()
    timings = {"generation_s": round(generated - started, 3), "execution_s": round(executed - generated, 3),
               "total_s": round(executed - started, 3)}
    summary = summarize(config, bench, tasks, run, info, isolation, limits, timings)
    if config.rerank:
        summary["rerank"] = _rerank(config, tasks, run, limits)
    summary["output"] = str(run.path)
    write_json_atomic(run.summary, summary)
    return summary


__all__ = ["EvalConfig", "evaluate"]
