"""``ladder eval``: benchmark -> prompt strategy -> backend -> extraction -> sandbox -> scoring -> run folder.

Call :func:`evaluate` from Python exactly as the CLI does. Re-running the same call after a crash
continues where it stopped: finished samples and verdicts are read back, never redone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, ClassVar, Optional

from pydantic import BeforeValidator, model_validator

import codeladder
from codeladder.backends import GenerationParams, answers_with_solutions, backend_options, infer_backend
from codeladder.benchmarks import Benchmark, Task, get_benchmark
from codeladder.envs import resolve as resolve_environment
from codeladder.envs.executors import NO_RAY, RayExecutor, check_address, ray_available
from codeladder.errors import LadderError
from codeladder.eval_generation import generate_samples
from codeladder.progress import progress_bar
from codeladder.prompts import get_strategy
from codeladder.prompts.extract import COMPLETION_STOPS
from codeladder.params import OUTPUT, VerbParams, comma_ints, option
from codeladder.measure.reflect import reflexion_summary
from codeladder.runs import Appender, RunDir, slug, write_json_atomic
from codeladder.samples import token_totals
from codeladder.sandbox import Job, Limits, SandboxPool, Verdict
from codeladder.scoring import mean_pass_at_k
from codeladder.stats import pass_at_1_interval

ERROR_TAIL_CHARS = 1200
MODES = ("auto", "chat", "completion")


class EvalParams(VerbParams):
    """Evaluate a model (or the reference solutions, or a samples file) on a benchmark."""

    verb: ClassVar[str] = "eval"
    benchmark: str = option("humaneval", "the benchmark (see `ladder ls benchmark`)", argument=True,
                            choices="benchmark")
    model: Optional[str] = option(None, "model folder (hf), .gguf file (llamacpp), or the served model's name "
                                        "(openai); none: score the reference solutions")
    backend: Optional[str] = option(None, "engine (see `ladder ls backend`); default: inferred from --model and "
                                          "--base-url, 'reference' without a model", choices="backend")
    samples: Optional[str] = option(None, "score pre-generated samples: EvalPlus JSONL (solution or completion) "
                                          "or a run's samples.jsonl")
    strategy: str = option("standard", "prompt strategy (see `ladder ls strategy`)", choices="strategy")
    shots: int = option(1, "exemplars for the few-shot strategy", ge=0, le=16)
    reflexion_rounds: int = option(2, "reflexion: regenerations at most after a failed prompt example", ge=1, le=8)
    mode: str = option("auto", "chat, completion, or auto (chat when the model has a chat template)",
                       choices=MODES)
    bcb_mode: str = option("complete", "BigCodeBench prompt: complete (continue the code) or instruct (from "
                                       "the description)", choices=("complete", "instruct"))
    n: int = option(1, "samples per task", ge=1)
    k: Annotated[tuple[int, ...], BeforeValidator(comma_ints)] = option((1,), "pass@k values, e.g. 1,10,100")
    temperature: float = option(0.0, "sampling temperature; 0 is greedy", ge=0)
    top_p: float = option(1.0, "nucleus sampling: keep the smallest token set with this much probability",
                          gt=0, le=1)
    top_k: int = option(0, "keep only the k most likely tokens; 0 is off", ge=0)
    seed: int = option(0, "sampling seed (sample i of a task uses seed + i where the engine allows)", ge=0)
    max_new_tokens: int = option(512, "tokens to generate per sample at most", ge=1)
    limit: Optional[int] = option(None, "only the first N tasks", ge=1)
    timeout: Optional[float] = option(None, "seconds per sample (default: per benchmark)", gt=0, le=3600)
    memory_mb: Optional[int] = option(None, "MiB of memory per sample (default 2048; 4096 for *-plus and "
                                            "BigCodeBench)", flags=("--memory",), ge=64)
    workers: Optional[int] = option(None, "parallel sandbox workers (default: CPU cores; with --executor ray: per "
                                             "node, default its Ray CPUs)", ge=1)
    output: Optional[str] = option(None, "run folder (default runs/BENCHMARK/TAG)", flags=OUTPUT)
    overwrite: bool = option(False, "start the run folder again (removes only the files codeladder wrote there)")
    rerank: Optional[str] = option(None, "pick one of N samples per task (see `ladder ls rerank`)",
                                   choices="rerank")
    isolate: bool = option(True, "run samples in Linux namespaces (no network, read-only filesystem)")
    executor: str = option("local", "where samples run: local (this machine's sandbox pool) or ray (the same pool on "
                                    "every node of a Ray cluster: the ray extra, see docs/sandbox.md)",
                           choices=("local", "ray"))
    ray_address: Optional[str] = option(None, "the Ray cluster (--executor ray): HOST:PORT of the head, "
                                              "ray://HOST:PORT or auto (default: $RAY_ADDRESS, else a Ray instance "
                                              "on this machine)")
    env: Optional[str] = option(None, "evaluation environment whose interpreter runs the samples: a folder or a name "
                                      "from `ladder env create` (default: the benchmark's own when it was made; "
                                      "'none': this interpreter)")
    data_version: Optional[str] = option(None, "the benchmark's data version (BigCodeBench: v0.1.4, the default, "
                                               "or v0.1.0)")
    data: Optional[str] = option(None, "LiveCodeBench: the folder of your code_generation_lite release files")
    release: str = option("v6", "LiveCodeBench: vN (testN.jsonl) or release_vN (v1 … vN together)")
    since: Optional[str] = option(None, "LiveCodeBench: only problems from this contest date on (YYYY-MM-DD)")
    until: Optional[str] = option(None, "LiveCodeBench: only problems up to this contest date (YYYY-MM-DD)")
    cutoff: Optional[str] = option(None, "LiveCodeBench: only problems published after this date (YYYY-MM-DD)")
    after_cutoff: bool = option(False, "LiveCodeBench: only problems after the model's training cutoff (from its "
                                       "lineage's training_cutoff, else --cutoff)")
    backend_options: dict[str, Any] = option({}, "the backend's own options (its params class validates them)")

    @model_validator(mode="after")
    def _consistent(self) -> "EvalParams":
        if self.samples and self.model:
            raise LadderError("--samples and --model exclude each other: score a file, or generate with a model")
        if self.samples and not Path(self.samples).is_file():
            raise LadderError(f"--samples {self.samples}: no such file")
        if not self.samples and any(k > self.n for k in self.k):
            raise LadderError(f"--k {','.join(map(str, self.k))}: every k must be between 1 and --n ({self.n})")
        if any(k < 1 for k in self.k):
            raise LadderError(f"--k {','.join(map(str, self.k))}: every k must be at least 1")
        if answers_with_solutions(self.backend_name) and self.model:
            raise LadderError(f"--backend {self.backend_name} takes no --model (it answers with the canonical "
                              "solutions)")
        if self.rerank and self.n < 2 and not self.samples:
            raise LadderError("--rerank picks one of several samples: use --n 2 or more")
        if self.ray_address and self.executor != "ray":
            raise LadderError("--ray-address is for --executor ray")
        if self.executor == "ray" and not ray_available():
            raise LadderError(NO_RAY)
        return self

    @property
    def backend_name(self) -> str:
        if self.samples:
            return "samples"
        return self.backend or infer_backend(self.model, self.backend_options.get("base_url"))

    def generation(self, chat: bool) -> GenerationParams:
        return GenerationParams(max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_p=self.top_p,
                                top_k=self.top_k, seed=self.seed, stop=() if chat else COMPLETION_STOPS,
                                mode=self.mode, logprobs=self.rerank == "logprob")

    def run_key(self, bench: Benchmark) -> dict:
        """Settings that change the samples; a run folder holds one combination of them (an edited
        --samples file counts as another run: its checksum is part of the key)."""
        return {"benchmark": self.benchmark, "backend": self.backend_name, "model": self.model,
                "samples": self.samples, "samples_sha256": _file_sha256(self.samples), "strategy": self.strategy,
                "shots": self.shots, "mode": self.mode, "bcb_mode": self.bcb_mode if bench.modes else None,
                "n": self.n, "temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k,
                "seed": self.seed, "max_new_tokens": self.max_new_tokens,
                **({"data_version": bench.data_version} if bench.versions else {}),
                **({"reflexion_rounds": self.reflexion_rounds} if self.strategy == "reflexion" else {}),
                **({"window": bench.window()} if bench.window() else {})}

    def default_output(self) -> Path:
        source = self.samples or self.model or self.backend_name
        tag = f"{slug(Path(source).name or source)}-{self.strategy}-n{self.n}-t{self.temperature:g}-s{self.seed}"
        return Path("runs") / self.benchmark / tag


EvalConfig = EvalParams  # the name earlier releases documented


def _lineage(model: str | None) -> dict | None:
    """The evaluated model's lineage fingerprint, so a result joins to how the model was made."""
    from codeladder.models.lineage import lineage_fingerprint

    return lineage_fingerprint(model) if model and Path(model).exists() else None


def _cutoff(config: EvalParams) -> str | None:
    """--cutoff, or with --after-cutoff the ``training_cutoff`` the model's lineage records (``ladder import
    --training-cutoff``; a folder's ladder.json or a GGUF's sidecar)."""
    from codeladder.models.lineage import training_cutoff

    found = training_cutoff(Path(config.model)) if config.model and Path(config.model).exists() else None
    if config.after_cutoff and not (config.cutoff or found):
        raise LadderError("--after-cutoff: the model's lineage records no training_cutoff; give --cutoff YYYY-MM-DD")
    return config.cutoff or (found if config.after_cutoff else None)


def _file_sha256(path: str | None) -> str | None:
    if not path or not Path(path).is_file():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _error_text(detail: str, output_tail: str) -> str:
    text = detail if not output_tail else f"{detail}\n--- output ---\n{output_tail}"
    return text[-ERROR_TAIL_CHARS:]


def _open_pool(config: EvalParams, limits: Limits, python: str | None) -> SandboxPool | RayExecutor:
    if config.executor == "local":
        return SandboxPool(workers=config.workers or os.cpu_count() or 1, limits=limits, isolate=config.isolate,
                           python=python)
    return RayExecutor(config.ray_address or os.environ.get("RAY_ADDRESS"), config.workers, limits, config.isolate,
                       python)


def _execute(config: EvalParams, bench: Benchmark, tasks: list[Task], run: RunDir, pool: SandboxPool | RayExecutor,
             show: bool) -> dict:
    """Run every sample without a verdict through ``pool`` (entered: its workers may still be starting)."""
    by_id = {t.task_id: t for t in tasks}
    samples = [s for s in run.sample_rows() if s["task_id"] in by_id]
    finished = {(r["task_id"], r["sample_index"]) for r in run.result_rows()}
    pending = [s for s in samples if (s["task_id"], s["sample_index"]) not in finished]
    plus = bench.has_base_tests

    def result_row(sample: dict, verdict: Verdict) -> dict:
        row = {"task_id": sample["task_id"], "sample_index": sample["sample_index"], "passed": verdict.passed,
               "status": verdict.status, "duration_s": verdict.duration_s,
               "error": "" if verdict.passed else _error_text(verdict.detail, verdict.output_tail),
               "checker": verdict.checker}
        if plus:  # structured: the checker says which phase failed (base inputs all passed: "plus")
            row["base_passed"] = verdict.passed or verdict.extra.get("base_passed") is True
            if verdict.extra.get("phase"):
                row["failed_phase"] = verdict.extra["phase"]
        return row

    with Appender(run.results) as out, progress_bar("executing", len(pending), show) as advance:
        jobs, by_key = [], {}
        for sample in pending:  # code that does not parse is judged syntax_error by the sandbox, with the reason
            key = f"{sample['task_id']}#{sample['sample_index']}"
            by_key[key] = sample
            program = bench.test_program(by_id[sample["task_id"]], sample["extracted"])
            timeout = max(pool.limits.timeout_s, program.timeout_s) if program.timeout_s else None
            jobs.append(Job(key, program.code, program.payload, timeout, checker=program.checker,
                            loopback=program.loopback))
        for verdict in pool.run(jobs):
            out.write(result_row(by_key[verdict.key], verdict))
            advance(1)
        return pool.isolation


def summarize(config: EvalParams, bench: Benchmark, tasks: list[Task], run: RunDir, info: dict,
              isolation: dict, limits: Limits, timings: dict, environment: dict | None = None,
              tasks_in_benchmark: int | None = None) -> dict:
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
    strategy = get_strategy(config.strategy, config.shots, config.reflexion_rounds)
    interval = pass_at_1_interval(as_pairs)
    summary = {
        "benchmark": bench.name,
        "num_tasks": len(as_pairs),
        "num_tasks_in_benchmark": tasks_in_benchmark or len(tasks),  # the scope: scored / in the benchmark
        "num_samples": len(rows),
        "pass_at_k": mean_pass_at_k(as_pairs, config.k),
        "ci95": interval.as_list(),
        "ci95_method": interval.method,
        "statuses": dict(Counter(r["status"] for r in rows)),
        "checkers": {"trusted": sum(r.get("checker") == "trusted" for r in rows),
                     "in-process": sum(r.get("checker", "in-process") != "trusted" for r in rows)},
        "model": info.get("model", config.model),
        "model_lineage": _lineage(config.model),
        "backend": info.get("backend", config.backend_name),
        "device": info.get("device"),
        "dtype": info.get("dtype"),
        "mode": None if info.get("chat") is None else ("chat" if info.get("chat") else "completion"),
        "sanity_run": answers_with_solutions(config.backend_name),
        "strategy": strategy.name,
        "template_hash": strategy.template_hash,
        "generation": {"n": config.n, "temperature": config.temperature, "top_p": config.top_p,
                       "top_k": config.top_k, "seed": config.seed, "max_new_tokens": config.max_new_tokens},
        "dataset": {"source": bench.source, "file": bench.data_file, "sha256": bench.sha256,
                    "version": bench.data_version},
        "dataset_sha256": bench.sha256,
        "isolation": isolation,
        "environment": environment,  # the evaluation environment the samples ran in (None: the harness's own)
        "limits": {**limits.as_dict(), "workers": config.workers or os.cpu_count()},
        "timings": timings,
        "tokens": token_totals(run.sample_rows(), ids),
        "codeladder_version": codeladder.__version__,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if info.get("servers"):
        summary["servers"] = info["servers"]
    if bench.window():
        summary["window"] = bench.window()
    dates = {t.task_id: day for t in tasks if t.task_id in as_pairs and (day := bench.task_date(t))}
    if dates:
        summary["task_dates"] = dates
    if (reflected := reflexion_summary([s for s in run.sample_rows() if s["task_id"] in ids])) is not None:
        summary["reflexion"] = {"rounds": config.reflexion_rounds, **reflected}
    if base_counts:
        summary["pass_at_k_base"] = mean_pass_at_k({t: (n, c) for t, (n, c) in base_counts.items()}, config.k)
    return summary


def _rerank(config: EvalParams, tasks: list[Task], run: RunDir, limits: Limits) -> dict:
    from codeladder.rerank import pick, rerank_summary

    ids = {t.task_id for t in tasks}
    samples = [s for s in run.sample_rows() if s["task_id"] in ids]
    picks = pick(config.rerank, tasks, samples, limits, config.workers or os.cpu_count() or 1, config.isolate)
    result = rerank_summary(config.rerank, picks, run.result_rows())
    write_json_atomic(run.path / "rerank.json", result)
    return {k: v for k, v in result.items() if k != "picked"}


def evaluate(config: EvalParams, show_progress: bool = False) -> dict:
    """Run (or resume) one evaluation; returns the summary that was written to ``summary.json``."""
    if config.backend_name != "samples":
        backend_options(config.backend_name, config.backend_options)  # one line for a bad option, before any work
    config.generation(chat=False)  # sampling values checked before anything is created
    if config.executor == "ray":
        check_address(config.ray_address or os.environ.get("RAY_ADDRESS"))
    bench = get_benchmark(config.benchmark, config.bcb_mode, config.data_version)
    if bench.completion_only and config.mode == "chat":
        raise LadderError(f"--mode chat: {bench.name} prompts are fill-in-the-middle text; use --mode auto or "
                          "completion")
    bench.configure(data=config.data, release=config.release, since=config.since, until=config.until,
                    cutoff=_cutoff(config))
    tasks = bench.load()
    tasks_in_benchmark = len(tasks)
    if config.limit is not None:
        tasks = tasks[: config.limit]
    run = RunDir(config.output or config.default_output())
    run.prepare(config.run_key(bench), overwrite=config.overwrite)
    try:
        return _evaluate_in(run, config, bench, tasks, show_progress, tasks_in_benchmark)
    finally:
        run.unlock()


def _evaluate_in(run: RunDir, config: EvalParams, bench: Benchmark, tasks: list[Task], show_progress: bool,
                 tasks_in_benchmark: int) -> dict:
    run.summary.unlink(missing_ok=True)  # a run being extended must not look finished if it stops half-way
    limits = Limits(timeout_s=config.timeout or bench.default_timeout_s,
                    memory_mb=config.memory_mb or bench.default_memory_mb)
    environment = resolve_environment(bench.environment, config.env)
    started = time.perf_counter()
    bench.prepare(config.workers or os.cpu_count() or 1, show_progress)  # e.g. EvalPlus's expected outputs
    pool = _open_pool(config, limits, environment.python if environment else None)
    with contextlib.ExitStack() as stack:
        if config.executor == "local":  # its workers start while the samples are read or generated
            stack.enter_context(pool)
        info = generate_samples(config, bench, tasks, run, show_progress, limits)
        generated = time.perf_counter()
        if config.samples:
            sampled = {r["task_id"] for r in run.sample_rows()}
            tasks = [t for t in tasks if t.task_id in sampled]
        if config.executor != "local":  # a Ray cluster is taken only to execute
            stack.enter_context(pool)
        isolation = _execute(config, bench, tasks, run, pool, show_progress)
    executed = time.perf_counter()
    timings = {"generation_s": round(generated - started, 3), "execution_s": round(executed - generated, 3),
               "total_s": round(executed - started, 3)}
    summary = summarize(config, bench, tasks, run, info, isolation, limits, timings,
                        environment.record() if environment else None, tasks_in_benchmark)
    if config.rerank:
        summary["rerank"] = _rerank(config, tasks, run, limits)
    summary["output"] = str(run.path)
    write_json_atomic(run.summary, summary)
    return summary


__all__ = ["EvalParams", "EvalConfig", "evaluate"]
