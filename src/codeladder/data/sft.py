"""``ladder data sft BENCHMARK -o sft.jsonl``: supervised rows from a training pool's reference solutions.

Each task becomes one chat row: the user turn is the prompt the eval strategy builds for it (so the model is
trained on exactly the prompts it is later asked in), the assistant turn the reference solution in a fenced code
block. A test split is refused (the same rule as ``data pairs``). The rows are then decontaminated against every
bundled scored benchmark by ``data decontaminate``'s own code, and only the clean ones are written; the metadata
(``sft.jsonl.meta.json``) counts the tasks, the rows dropped as contaminated, and the file's sha256.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import ClassVar, Optional

import codeladder
from codeladder.errors import LadderError
from codeladder.params import OUTPUT, VerbParams, option
from codeladder.runs import write_json_atomic, write_text_atomic


class SftParams(VerbParams):
    """Chat rows (the strategy's prompt, the reference solution) from a training pool, decontaminated."""

    verb: ClassVar[str] = "data sft"
    benchmark: str = option("mbpp-train", "a training pool of `ladder ls benchmark` (never a test split)",
                            argument=True, choices="benchmark")
    output: Path = option(..., "the JSONL to write (metadata beside it: FILE.meta.json)", flags=OUTPUT)
    strategy: str = option("standard", "the prompt strategy the eval will use", choices="strategy")
    limit: Optional[int] = option(None, "only the first N tasks", ge=1)
    overwrite: bool = option(False, "replace an existing output file (one a data verb wrote is replaced anyway)")


def _row(strategy, task) -> dict:
    prompt = strategy.build(task)
    messages = [dict(m) for m in prompt.messages] or [{"role": "user", "content": prompt.text}]
    return {"messages": [*messages, {"role": "assistant", "content": f"```python\n{task.reference.strip()}\n```"}]}


def make_sft(params: SftParams) -> dict:
    """Write the clean rows and their metadata; returns the metadata."""
    from codeladder.benchmarks import get_benchmark
    from codeladder.data.decontaminate import DecontaminateParams, decontaminate
    from codeladder.data.pairs import check_output, meta_path
    from codeladder.prompts import single_turn_strategy

    out = Path(params.output)
    check_output(out, params.overwrite)
    bench = get_benchmark(params.benchmark)
    if bench.split == "test":
        raise LadderError(f"data sft {params.benchmark}: a test split; training on it trains on the problems the "
                          "model is scored on. Use a training pool (mbpp-train)")
    tasks = [t for t in bench.load() if (t.reference or "").strip()][: params.limit]
    if not tasks:
        raise LadderError(f"data sft {params.benchmark}: no task has a reference solution to train on")
    strategy = single_turn_strategy(params.strategy)
    with tempfile.TemporaryDirectory(prefix="ladder-sft-") as tmp:
        raw = Path(tmp) / "rows.jsonl"
        raw.write_text("".join(json.dumps(_row(strategy, t)) + "\n" for t in tasks))
        clean = Path(tmp) / "clean.jsonl"
        report = decontaminate(DecontaminateParams(file=str(raw), drop=str(clean)))
        text = clean.read_text()
    if not text.strip():
        raise LadderError(f"data sft {params.benchmark}: every row matched a scored benchmark; nothing to train on")
    write_text_atomic(out, text)
    dropped = [tasks[r["line"] - 1].task_id for r in report["rows"] if r["contaminated"]]
    meta = {"kind": "sft-rows", "file": str(out), "sha256": hashlib.sha256(text.encode()).hexdigest(),
            "benchmark": bench.name, "split": bench.split, "contaminated": False, "strategy": strategy.name,
            "template_hash": strategy.template_hash, "format": "chat", "tasks": len(tasks),
            "rows": len(tasks) - len(dropped), "dropped_contaminated": dropped,
            "decontaminated_against": report["against"], "codeladder_version": codeladder.__version__,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    write_json_atomic(meta_path(out), meta)
    return meta


__all__ = ["SftParams", "make_sft"]
