"""``ladder data pairs RUN_DIR -o pairs.jsonl``: preference pairs from a model's own near-misses.

Only borderline tasks (some samples passed, some failed) give pairs: chosen passed, rejected failed, both
answers to the exact prompt the run sent (rebuilt from the run's strategy and checked against the template hash
in ``summary.json``), at most ``--max-per-task`` per task, no answer text repeated within a task. Rows are TRL's
preference format: ``prompt``/``chosen``/``rejected`` as strings (completion runs) or as messages (chat runs).

A run with one sample per task, or without a borderline task, gives no pair: refused with the reason, never an
empty file. An existing output is replaced only with ``--overwrite``, or when it is a file a codeladder data verb
wrote (its ``.meta.json`` records its sha256). A run on a benchmark's test split is refused unless
``--allow-test-split``: training on the problems a model
is scored on inflates the score. With the flag, the metadata file ``pairs.jsonl.meta.json`` beside the output
says ``contaminated: true`` (``ladder finetune`` and the model card repeat it). Hand-written: no library reads
codeladder run folders.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import codeladder
from codeladder.errors import LadderError
from codeladder.params import OUTPUT, VerbParams, option
from codeladder.runs import CONFIG, RunDir, check_new_file, write_json_atomic, write_text_atomic

META_SUFFIX = ".meta.json"


class PairsParams(VerbParams):
    """Preference pairs (chosen passes, rejected fails) from the borderline tasks of an N-sampled run."""

    verb: ClassVar[str] = "data pairs"
    run_dir: str = option(..., "a run folder written by `ladder eval --n N` (N >= 2)", argument=True)
    output: str = option(..., "the pairs (JSONL); metadata goes to the same path + .meta.json", flags=OUTPUT)
    max_per_task: int = option(4, "pairs per task at most", ge=1)
    allow_test_split: bool = option(False, "accept a run on a benchmark's test split (the output is marked "
                                           "contaminated)")
    overwrite: bool = option(False, "replace an existing output file (one a data verb wrote is replaced anyway)")


def meta_path(output: str | Path) -> Path:
    """Where the metadata of a pairs file lives: ``pairs.jsonl`` -> ``pairs.jsonl.meta.json``."""
    return Path(f"{output}{META_SUFFIX}")


def written_by_ladder(path: Path) -> bool:
    """True when ``path`` is a file a data verb wrote and nobody changed since: its metadata beside it records the
    sha256 of exactly these bytes."""
    try:
        meta = json.loads(meta_path(path).read_text())
        recorded = meta.get("pairs_sha256") or meta.get("sha256")
        return path.is_file() and recorded == hashlib.sha256(path.read_bytes()).hexdigest()
    except (OSError, ValueError, AttributeError):
        return False


def check_output(path: Path, overwrite: bool) -> None:
    """The data verbs' output rule: a new path, ``--overwrite``, or a file a data verb wrote."""
    check_new_file(path, "--output", overwrite, ours=written_by_ladder(path))


def _read_run(path: Path) -> tuple[dict, dict, list[dict], list[dict], dict]:
    run = RunDir(path)
    if not (path / CONFIG).is_file() or not run.samples.is_file():
        raise LadderError(f"RUN_DIR {path}: not a run folder (no {CONFIG} or samples.jsonl); pass a folder "
                          "that `ladder eval --output` wrote")
    if not run.results.is_file():
        raise LadderError(f"RUN_DIR {path}: has no results.jsonl; finish the run first (rerun the same `ladder eval`)")
    backend = path / "backend.json"
    summary = json.loads(run.summary.read_text()) if run.summary.is_file() else {}
    return (json.loads((path / CONFIG).read_text()), json.loads(backend.read_text()) if backend.is_file() else {},
            run.sample_rows(), run.result_rows(), summary)


def _prompt_of(strategy, task, chat: bool | None) -> str | list[dict]:
    built = strategy.build(task)
    return [dict(m) for m in built.messages] if chat else built.text


def _answer(sample: dict, task, chat: bool | None) -> str:
    """What the model wrote after the prompt: its raw text; a samples file's code less the prompt it repeats."""
    if chat is not None:
        return sample.get("raw") or ""
    code = sample.get("extracted") or ""
    return code[len(task.prompt):] if code.startswith(task.prompt) else code


def _distinct(texts: list[tuple[int, str]]) -> list[tuple[int, str]]:
    seen, out = set(), []
    for index, text in texts:
        key = text.rstrip()
        if key and key not in seen:
            seen.add(key)
            out.append((index, text))
    return out


def _pair_up(chosen: list, rejected: list, cap: int) -> list[tuple]:
    """Up to ``cap`` (chosen, rejected) pairs, spreading use over both lists: round r pairs chosen i with
    rejected (i + r) mod len(rejected)."""
    order = sorted(((i, j) for i in range(len(chosen)) for j in range(len(rejected))),
                   key=lambda ij: ((ij[1] - ij[0]) % len(rejected), ij[0]))
    return [(chosen[i], rejected[j]) for i, j in order[:cap]]


def _as_row(prompt: str | list[dict], chosen: str, rejected: str) -> dict[str, Any]:
    if isinstance(prompt, list):
        return {"prompt": prompt, "chosen": [{"role": "assistant", "content": chosen}],
                "rejected": [{"role": "assistant", "content": rejected}]}
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


def _check_split(params: PairsParams, bench, config: dict) -> bool:
    """True when the run is on a test split (allowed only with the flag)."""
    if bench.split != "test":
        return False
    if not params.allow_test_split:
        raise LadderError(f"RUN_DIR {params.run_dir}: a run on {config['benchmark']}, a benchmark's test split; "
                          "pairs from it train on the problems the model is scored on. Mine a training pool "
                          "instead (`ladder eval mbpp-train --n 8 ...`), or pass --allow-test-split (the pairs "
                          "are then marked contaminated)")
    return True


def _check_samples(params: PairsParams, samples: list[dict]) -> None:
    """A pair needs two answers to one task: a run with at most one sample per task is refused."""
    most = max(Counter(s["task_id"] for s in samples).values(), default=0)
    if most < 2:
        held = "one sample per task (n=1)" if most else "no samples"
        raise LadderError(f"RUN_DIR {params.run_dir}: {held}; a pair needs a passing and a failing answer to the same "
                          "task. Sample the pool N times: `ladder eval BENCHMARK --n 8 --temperature 0.8 ...`")


def _no_pairs(params: PairsParams, verdicts: dict, borderline: int) -> str:
    """Why a run gave no pair, in one line."""
    if borderline:
        return (f"RUN_DIR {params.run_dir}: the {borderline} borderline task(s) have no distinct non-empty passing "
                "and failing answers; no pair to write")
    passed = sum(1 for split in verdicts.values() if split[True])
    return (f"RUN_DIR {params.run_dir}: no borderline task (some samples passing, some failing) among its "
            f"{len(verdicts)} tasks: {passed} passed every sample, {len(verdicts) - passed} failed every sample; no "
            "pair to write. Sample more answers per task (--n) or at a higher --temperature")


def make_pairs(params: PairsParams) -> dict:
    """Write the pairs and their metadata; returns the metadata."""
    from codeladder.benchmarks import get_benchmark
    from codeladder.prompts import single_turn_strategy

    check_output(Path(params.output), params.overwrite)
    config, backend, samples, results, summary = _read_run(Path(params.run_dir))
    bench = get_benchmark(config["benchmark"], config.get("bcb_mode"))
    contaminated = _check_split(params, bench, config)
    _check_samples(params, samples)
    strategy = single_turn_strategy(config.get("strategy", "standard"), config.get("shots", 1))
    if summary.get("template_hash") not in (None, strategy.template_hash):
        raise LadderError(f"RUN_DIR {params.run_dir}: its prompts came from strategy {strategy.name} as it was "
                          f"(template {summary['template_hash']}), which this codeladder builds differently "
                          f"({strategy.template_hash}); the exact prompts cannot be rebuilt")
    chat = backend.get("chat")
    tasks = {t.task_id: t for t in bench.load()}
    by_key = {(s["task_id"], s["sample_index"]): s for s in samples}
    verdicts: dict[str, dict[bool, list]] = defaultdict(lambda: {True: [], False: []})
    for row in results:
        sample = by_key.get((row["task_id"], row["sample_index"]))
        if sample is not None and row["task_id"] in tasks:
            verdicts[row["task_id"]][bool(row["passed"])].append(sample)
    rows, sources, borderline = [], [], 0
    for task_id, split in sorted(verdicts.items()):
        if not split[True] or not split[False]:
            continue
        borderline += 1
        task = tasks[task_id]
        passing = _distinct([(s["sample_index"], _answer(s, task, chat)) for s in split[True]])
        failing = _distinct([(s["sample_index"], _answer(s, task, chat)) for s in split[False]])
        if not passing or not failing:
            continue
        prompt = _prompt_of(strategy, task, chat)
        for (good_index, good), (bad_index, bad) in _pair_up(passing, failing, params.max_per_task):
            rows.append(_as_row(prompt, good, bad))
            sources.append({"task_id": task_id, "chosen_sample": good_index, "rejected_sample": bad_index})
    if not rows:
        raise LadderError(_no_pairs(params, verdicts, borderline))
    text = "".join(json.dumps(row) + "\n" for row in rows)
    meta = {"kind": "preference-pairs", "pairs_file": str(params.output),
            "pairs_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "source_run": str(Path(params.run_dir).resolve()),
            "benchmark": bench.name, "split": bench.split, "contaminated": contaminated,
            "model": summary.get("model", config.get("model")), "strategy": strategy.name,
            "template_hash": strategy.template_hash, "format": "chat" if chat else "completion",
            "n": config.get("n"), "tasks": len(verdicts), "borderline_tasks": borderline,
            "tasks_with_pairs": len({s["task_id"] for s in sources}), "pairs": len(rows),
            "max_per_task": params.max_per_task, "sources": sources, "codeladder_version": codeladder.__version__,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    write_text_atomic(Path(params.output), text)
    write_json_atomic(meta_path(params.output), meta)
    return meta


__all__ = ["PairsParams", "make_pairs", "meta_path", "written_by_ladder", "check_output", "META_SUFFIX"]
