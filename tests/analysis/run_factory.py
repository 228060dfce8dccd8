"""Real run folders for the analysis and report tests, made once per test process by the real ``evaluate`` (the
real sandbox executes every sample). A samples file stands for a model: its path is the run's ``model``.

Eight HumanEval tasks, several samples per task, some wrong (a wrong body fails its tests, a broken one does
not parse), so the runs differ task by task:

- ``alpha`` with the standard strategy (n = 3) solves tasks 0-4 and 7; with few-shot (n = 3, same samples file
  path rewritten) tasks 0-3, 5 and 7: unique wins 4 (standard) and 5 (few-shot), task 6 never solved.
- ``beta`` (n = 1; a file name full of HTML, to prove escaping) solves 0, 1, 2, 4, 6: against alpha-standard it
  gains task 6 and loses tasks 3 and 7.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

TASKS = 8
BETA_NAME = '<img src=x onerror="alert(1)">beta'
WRONG = "def nothing():\n    return None\n"
BROKEN = "def broken(:\n    pass\n"

# task index -> list of sample kinds: "ok", "wrong", "broken"
ALPHA_STANDARD = {0: ["ok"] * 3, 1: ["ok"] * 3, 2: ["ok"] * 3, 3: ["ok"] * 3, 4: ["ok", "wrong", "broken"],
                  5: ["wrong"] * 3, 6: ["wrong", "broken", "wrong"], 7: ["ok", "ok", "wrong"]}
ALPHA_FEW_SHOT = {0: ["ok"] * 3, 1: ["ok"] * 3, 2: ["ok"] * 3, 3: ["ok"] * 3, 4: ["wrong"] * 3,
                  5: ["wrong", "ok", "wrong"], 6: ["wrong"] * 3, 7: ["ok"] * 3}
BETA = {0: ["ok"], 1: ["ok"], 2: ["ok"], 3: ["wrong"], 4: ["ok"], 5: ["broken"], 6: ["ok"], 7: ["wrong"]}


@dataclass(frozen=True)
class Runs:
    root: Path
    alpha_standard: Path
    alpha_few_shot: Path
    beta: Path
    alpha_model: str
    beta_model: str


def _write_samples(path: Path, plan: dict[int, list[str]]) -> None:
    from codeladder.benchmarks import get_benchmark

    tasks = get_benchmark("humaneval").load()[:TASKS]
    code = {"wrong": WRONG, "broken": BROKEN}
    with path.open("w") as f:
        for index, kinds in plan.items():
            for kind in kinds:
                solution = tasks[index].reference if kind == "ok" else code[kind]
                f.write(json.dumps({"task_id": tasks[index].task_id, "solution": solution}) + "\n")


def _evaluate(samples: Path, output: Path, strategy: str, k: tuple[int, ...]) -> Path:
    from codeladder.evaluate import EvalParams, evaluate

    evaluate(EvalParams(benchmark="humaneval", samples=str(samples), strategy=strategy, k=k, output=str(output),
                        limit=TASKS, workers=2))
    return output


@functools.lru_cache(maxsize=1)
def make_runs() -> Runs:
    root = Path(tempfile.mkdtemp(prefix="ladder-analysis-"))
    atexit.register(shutil.rmtree, root, True)
    runs_dir = root / "runs"
    alpha = root / "alpha.jsonl"
    _write_samples(alpha, ALPHA_STANDARD)
    standard = _evaluate(alpha, runs_dir / "alpha-standard", "standard", (1, 2, 3))
    _write_samples(alpha, ALPHA_FEW_SHOT)
    few_shot = _evaluate(alpha, runs_dir / "alpha-few-shot", "few-shot", (1, 3))
    beta = root / f"{BETA_NAME}.jsonl"
    _write_samples(beta, BETA)
    beta_run = _evaluate(beta, runs_dir / "beta", "standard", (1,))
    return Runs(root, standard, few_shot, beta_run, str(alpha), str(beta))


def summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def task(index: int) -> str:
    return f"HumanEval/{index}"
