"""Pick one of N samples per task without looking at the hidden tests (``--rerank``).

* ``logprob``: the sample with the highest mean token log-probability.
* ``majority``: run every sample on the prompt's own example inputs (:mod:`codeladder.prompts.examples`) and
  pick from the largest group of identical behaviour, preferring groups that raised nothing.
* ``exec``: the first sample that passes the prompt's own examples.

Only examples that are part of the prompt the model saw are ever run; ties go to the lowest
sample index. The pick's pass@1 is reported beside plain pass@1.
"""

from __future__ import annotations

import json
from collections import defaultdict

from codeladder.benchmarks.base import Task
from codeladder.prompts.examples import expectation, prompt_examples
from codeladder.registry import new_registry
from codeladder.sandbox import Job, Limits, SandboxPool

MARK = "__LADDER_EXAMPLE__"


def examples_program(solution: str, examples: list[tuple[str, str | None]], check: bool) -> str:
    lines = [solution, "", "import json as __json"]
    for index, (source, want) in enumerate(examples):
        lines.append("try:")
        lines.append(f"    __raw = {source}")
        lines.append("    __value, __text = repr(__raw), str(__raw)")
        lines.append("except Exception as __exc:")
        lines.append("    __raw = __value = __text = 'raised ' + type(__exc).__name__")
        if check and want is not None:
            lines.append(f"assert {expectation(want)}, ({index}, __value)")
        lines.append(f"print({MARK!r} + __json.dumps([{index}, __value]), flush=True)")
    return "\n".join(lines) + "\n"


def _behaviour(output: str) -> tuple:
    values = {}
    for line in output.splitlines():
        if line.startswith(MARK):
            index, value = json.loads(line[len(MARK):])
            values[index] = value
    return tuple(sorted(values.items()))


def _by_task(samples: list[dict]) -> dict[str, list[dict]]:
    by_task: dict[str, list[dict]] = defaultdict(list)
    for sample in samples:
        by_task[sample["task_id"]].append(sample)
    for rows in by_task.values():
        rows.sort(key=lambda r: r["sample_index"])
    return by_task


def pick_logprob(tasks: list[Task], by_task: dict[str, list[dict]], limits: Limits, workers: int,
                 isolate: bool) -> dict[str, int]:
    return {t: max(rows, key=lambda r: (r.get("mean_logprob") if r.get("mean_logprob") is not None
                                        else float("-inf"), -r["sample_index"]))["sample_index"]
            for t, rows in by_task.items()}


def _run_examples(tasks: list[Task], by_task: dict[str, list[dict]], limits: Limits, workers: int, isolate: bool,
                  check: bool) -> dict[str, dict[int, tuple[bool, tuple]]]:
    """Each sample on the prompt's own examples: task -> sample index -> (passed, behaviour)."""
    task_by_id = {t.task_id: t for t in tasks}
    jobs = []
    for task_id, rows in by_task.items():
        examples = prompt_examples(task_by_id[task_id])
        for row in rows if examples else ():
            jobs.append(Job(f"{task_id}#{row['sample_index']}", examples_program(row["extracted"], examples, check),
                            capture=True))
    outcome: dict[str, dict[int, tuple[bool, tuple]]] = defaultdict(dict)
    with SandboxPool(workers=workers, limits=limits, isolate=isolate) as pool:
        for verdict in pool.run(jobs):
            task_id, index = verdict.key.rsplit("#", 1)
            outcome[task_id][int(index)] = (verdict.passed, _behaviour(verdict.output_tail))
    return outcome


def pick_exec(tasks: list[Task], by_task: dict[str, list[dict]], limits: Limits, workers: int,
              isolate: bool) -> dict[str, int]:
    outcome = _run_examples(tasks, by_task, limits, workers, isolate, check=True)
    picks = {}
    for task_id, rows in by_task.items():
        indices, results = [r["sample_index"] for r in rows], outcome.get(task_id, {})
        picks[task_id] = next((i for i in indices if results.get(i, (False,))[0]), indices[0])
    return picks


def pick_majority(tasks: list[Task], by_task: dict[str, list[dict]], limits: Limits, workers: int,
                  isolate: bool) -> dict[str, int]:
    outcome = _run_examples(tasks, by_task, limits, workers, isolate, check=False)
    picks = {}
    for task_id, rows in by_task.items():
        groups: dict[tuple, list[int]] = defaultdict(list)
        for row in rows:
            passed, behaviour = outcome.get(task_id, {}).get(row["sample_index"], (False, ()))
            groups[behaviour if passed else ("failed",)].append(row["sample_index"])
        best = max(groups.items(), key=lambda kv: (kv[0] != ("failed",), len(kv[1]), -min(kv[1])))
        picks[task_id] = min(best[1])
    return picks


RERANK = new_registry("rerank")
RERANK.add("logprob", "the sample with the highest mean token log-probability (needs logprobs from the backend)",
           pick_logprob, reference="https://arxiv.org/abs/2107.03374")
RERANK.add("majority", "run every sample on the prompt's own examples; pick from the largest group that behaves "
           "alike", pick_majority, reference="https://arxiv.org/abs/2203.07814")
RERANK.add("exec", "the first sample that passes the prompt's own examples", pick_exec,
           reference="https://arxiv.org/abs/2203.07814")


def pick(method: str, tasks: list[Task], samples: list[dict], limits: Limits, workers: int,
         isolate: bool = True) -> dict[str, int]:
    """One sample index per task, chosen by the ``method`` registered under that name."""
    return RERANK.get(method, "--rerank").load()(tasks, _by_task(samples), limits, workers, isolate)


def rerank_summary(method: str, picks: dict[str, int], results: list[dict]) -> dict:
    passed = {(r["task_id"], r["sample_index"]): r["passed"] for r in results}
    hits = [passed.get((task, index), False) for task, index in picks.items()]
    return {"method": method, "pass_at_1": sum(hits) / len(hits) if hits else 0.0, "tasks": len(hits),
            "picked": picks}
