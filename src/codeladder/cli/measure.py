"""The measure panel's renderers: eval, run, bench, parity, perplexity, env create|ls|check (the verbs are in
codeladder/verbs.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from codeladder.cli.output import checks_table, console, err_console, key_value_table, print_json
from codeladder.envs.manage import EnvCheckParams, EnvCreateParams, EnvLsParams
from codeladder.evaluate import EvalParams
from codeladder.measure.bench import BenchParams
from codeladder.measure.parity import ParityParams
from codeladder.measure.perplexity import PerplexityParams
from codeladder.measure.run import RunParams


def _percent(value: float) -> str:
    return f"{100 * value:.2f}%"


def summary_table(summary: dict) -> Table:
    table = Table(title=f"{summary['benchmark']} - {summary['backend']} ({summary.get('model')})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, value in summary["pass_at_k"].items():
        table.add_row(f"pass@{k}", _percent(value))
    for k, value in summary.get("pass_at_k_base", {}).items():
        table.add_row(f"pass@{k} (base tests only)", _percent(value))
    if "rerank" in summary:
        table.add_row(f"pass@1 of the {summary['rerank']['method']} pick", _percent(summary["rerank"]["pass_at_1"]))
    low, high = summary["ci95"]
    table.add_row("pass@1 95% CI", f"{100 * low:.1f}% - {100 * high:.1f}%")
    table.add_row("tasks / samples", f"{summary['num_tasks']} / {summary['num_samples']}")
    table.add_row("statuses", ", ".join(f"{s} {c}" for s, c in sorted(summary["statuses"].items())))
    table.add_row("device / dtype", f"{summary.get('device')} / {summary.get('dtype')}")
    table.add_row("strategy", f"{summary['strategy']} ({summary['template_hash']})")
    table.add_row("isolation", summary["isolation"]["level"])
    timings = summary["timings"]
    table.add_row("time", f"{timings['total_s']:.1f} s (generation {timings['generation_s']:.1f} s)")
    if summary.get("tokens"):
        tokens = summary["tokens"]
        table.add_row("tokens (prompt / completion)", f"{tokens['prompt']:,} / {tokens['completion']:,}")
    if summary.get("reflexion"):
        done = summary["reflexion"]
        table.add_row("reflexion", f"{done['reflected']} answers reflected, {done['regenerations']} regenerations; "
                                   f"examples passed {done['visible_passed_first']} -> {done['visible_passed_last']}")
    table.add_row("results", summary["output"])
    return table


def isolation_warning(isolation: dict) -> str | None:
    """One line when the sandbox ran below ``namespaces``: which protections were not in force, and why."""
    if isolation.get("level") == "namespaces":
        return None
    missing = [name for name, applied in isolation.get("protections", {}).items() if not applied]
    reason = isolation.get("reason") or "no reason recorded"
    return (f"the sandbox ran at isolation level {isolation.get('level')!r}, below 'namespaces' ({reason}); "
            f"not in force: {', '.join(missing) or 'see summary.json'} (docs/sandbox.md, isolation levels)")


def render_eval(summary: dict, params: EvalParams, as_json: bool) -> None:
    warning = isolation_warning(summary["isolation"])
    if warning:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    if as_json:
        print_json(summary)
        return
    console.print(summary_table(summary))
    if summary.get("sanity_run"):
        from codeladder.benchmarks import get_benchmark

        err_console.print("[yellow]sanity run:[/] no --model given, scored the benchmark's reference solutions "
                          f"({get_benchmark(params.benchmark).sanity_expectation})")


def render_run(rows: list[dict], params: RunParams, as_json: bool) -> None:
    if not params.output:
        sys.stdout.write("".join(json.dumps(row) + "\n" for row in rows))


def render_bench(results: list[dict], params: BenchParams, as_json: bool) -> None:
    if as_json:
        print_json(results[0] if len(results) == 1 else results)
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
        table.add_row(Path(r["model"]).name, r["backend"], f"{r['device']} / {r['dtype']}",
                      f"{r['prefill_tok_s']:.1f}", decode, f"{r['ttft_s']:.3f}", f"{r['e2e_s']['median']:.3f}", batch)
    console.print(table)


def render_parity(report, params: ParityParams, as_json: bool) -> int:
    if as_json:
        print_json(report.as_dict())
    else:
        table = Table(title=f"parity: {report.a}  vs  {report.b}")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key in ("prompts", "positions", "cosine_min", "cosine_mean", "kl_mean", "kl_max", "top1_agreement",
                    "greedy_agreement", "first_token_agreement", "greedy_prefix_agreement", "greedy_prefix_mean",
                    "tokenizer_agreement"):
            value = getattr(report, key)
            table.add_row(key, f"{value:.6g}" if isinstance(value, float) else str(value))
        verdict = "[green]PASS[/]" if report.passed else f"[red]FAIL[/] (cosine_min < {params.min_cosine})"
        table.add_row("verdict", verdict)
        console.print(table)
    return 0 if report.passed else 1


def render_perplexity(result: dict, params: PerplexityParams, as_json: bool) -> None:
    if as_json:
        print_json(result)
        return
    print(f"perplexity {result['perplexity']:.4f} over {result['tokens']} tokens (window {params.max_length}, "
          f"stride {params.stride})")


def render_env_create(meta: dict, params: EnvCreateParams, as_json: bool) -> None:
    if as_json:
        print_json({k: v for k, v in meta.items() if k != "packages"})
        return
    requirements = meta["requirements"]
    rows = [("path", meta["path"]), ("python", meta["python_version"]),
            ("requirements", f"{requirements['kind']} ({requirements['file']})"),
            ("packages", f"{len(meta['packages'])}, sha256 {meta['packages_sha256'][:16]}…"),
            ("size", f"{meta['size_mb']} MiB"), ("time", f"{meta['install_s']:.0f} s"),
            *[("not provided", limit) for limit in meta.get("limits", [])]]
    console.print(key_value_table(f"ladder env create {meta['name']}", rows))


def render_env_ls(rows: list[dict], params: EnvLsParams, as_json: bool) -> None:
    if as_json:
        print_json(rows)
        return
    table = Table(title="ladder env ls")
    for column in ("name", "status", "python", "requirements", "packages", "path"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["name"], row["status"], str(row.get("python_version") or ""),
                      str(row.get("requirements") or ""), str(row.get("packages") or ""), row["path"])
    console.print(table)


def render_env_check(report: dict, params: EnvCheckParams, as_json: bool) -> int:
    if as_json:
        print_json(report)
    else:
        console.print(checks_table(f"ladder env check {report['name']} ({report['path']})", report["checks"]))
    return 0 if report["ok"] else 1


RENDERERS = {"eval": render_eval, "run": render_run, "bench": render_bench, "parity": render_parity,
             "perplexity": render_perplexity, "env create": render_env_create, "env ls": render_env_ls,
             "env check": render_env_check}
