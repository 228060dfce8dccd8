"""``ladder eval``: benchmark -> prompt strategy -> backend -> extraction -> sandbox -> scoring -> run folder.

Call :func:`evaluate` from Python exactly as the CLI does. Re-running the same call after a crash
continues where it stopped: finished samples and verdicts are read back, never redone.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path


import codeladder
from codeladder.backends import answers_with_solutions, backend_options
from codeladder.benchmarks import Benchmark, Task, get_benchmark
from codeladder.envs.executors import RayExecutor, check_address
from codeladder.errors import LadderError
from codeladder.eval_generation import generate_samples
from codeladder.eval_params import EvalConfig, EvalParams
from codeladder.prompts import get_strategy
from codeladder.measure.judge import judged, judging_setup, sandbox_job, sandbox_pool
from codeladder.measure.reflect import reflexion_summary
from codeladder.runs import Appender, RunDir, write_json_atomic
from codeladder.samples import token_totals
from codeladder.sandbox import Limits, SandboxPool, Verdict
from codeladder.scoring import mean_pass_at_k
from codeladder.stats import pass_at_1_interval

ERROR_TAIL_CHARS = 1200




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


def _error_text(detail: str, output_tail: str) -> str:
    text = detail if not output_tail else f"{detail}\n--- output ---\n{output_tail}"
    return text[-ERROR_TAIL_CHARS:]


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

    by_key = {f"{s['task_id']}#{s['sample_index']}": s for s in pending}
    # code that does not parse is judged syntax_error by the sandbox, with the reason
    jobs = [sandbox_job(key, bench.test_program(by_id[s["task_id"]], s["extracted"]), pool.limits)
            for key, s in by_key.items()]
    with Appender(run.results) as out:
        for verdict in judged(pool, jobs, show):
            out.write(result_row(by_key[verdict.key], verdict))
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
    started = time.perf_counter()
    limits, environment = judging_setup(bench, config.timeout, config.memory_mb, config.env, config.workers,
                                        show_progress)
    pool = sandbox_pool(limits, config.workers, environment.python if environment else None, config.isolate,
                        config.executor, config.ray_address)
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
