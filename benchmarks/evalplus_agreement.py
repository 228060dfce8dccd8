"""Agreement with EvalPlus itself: the same HumanEval+ / MBPP+ samples scored by codeladder and by EvalPlus.

The samples are the canonical solutions plus plausible wrong variants of them, built deterministically
(see ``VARIANTS``): off-by-one edits, a constant answer, raising on some inputs, raising / hanging /
answering None on plus inputs only, a slow first call, float outputs nudged within and beyond the
tolerance (tried first on tasks with float outputs), tuple/list swaps, arguments mutated after the call. Every task gets its canonical solution
and one variant (every third task two), about 1,200 samples on both benchmarks; ``--limit N`` keeps the
first N tasks of each.

codeladder scores them with ``ladder eval --samples`` (this interpreter, ``codeladder.evaluate``);
EvalPlus with its own evaluator (``python -m evalplus.evaluate``) in another virtual environment
(``--evalplus-python``, e.g. ``python3 -m venv /tmp/epv && /tmp/epv/bin/pip install evalplus==0.3.1``),
reading our bundled data through ``HUMANEVAL_OVERRIDE_PATH`` / ``MBPP_OVERRIDE_PATH`` (a plain JSONL copy
of the selected tasks, written under ``--tmp``). Both see the same ``solution`` strings. Expected outputs are
ready before either clock starts (codeladder's are shipped; EvalPlus's ground truth is computed first into
its cache under ``--tmp``); each clock then times one fresh interpreter doing the whole evaluation, EvalPlus's
until its results file is complete (its process then still waits up to 20 s for its stall-watchdog thread).

Verdicts compared per sample: base = codeladder's ``base_passed`` vs EvalPlus's ``base_status == pass``;
plus (base + extra) = codeladder's ``status == passed`` vs EvalPlus's ``base_status == plus_status == pass``.
Usage: ``python benchmarks/evalplus_agreement.py --evalplus-python /tmp/epv/bin/python [--limit 10] [--workers 2]``
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from codeladder.benchmarks import differential, get_benchmark
from codeladder.benchmarks.base import Task
from codeladder.sandbox import codec

DATASETS = {"humaneval-plus": ("humaneval", "HUMANEVAL_OVERRIDE_PATH"), "mbpp-plus": ("mbpp", "MBPP_OVERRIDE_PATH")}

# Shared by the generator (to list the base inputs) and by the samples (to recognise them): a text key
# of a value that does not depend on set order or on tuple-vs-list.
KEY_SOURCE = '''
def _key(v):
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_key(x) for x in v) + "]"
    if isinstance(v, (set, frozenset)):
        return "{" + ",".join(sorted(_key(x) for x in v)) + "}"
    if isinstance(v, dict):
        return "{" + ",".join(sorted(_key(k) + ":" + _key(x) for k, x in v.items())) + "}"
    return repr(v)
'''
_scope: dict = {}
exec(KEY_SOURCE, _scope)
_key = _scope["_key"]

# The wrapper replaces the entry point; recursive calls reach the original through the depth guard.
WRAPPER = '''

import time as _time
{key_source}
_BASE = {base!r}
_FIRST = {first!r}
_original_{entry} = {entry}
_depth = [0]


def _nudge(v, by):
    if isinstance(v, float):
        return v * (1 + by) if by < 1e-6 else v + by
    if isinstance(v, (list, tuple)):
        return type(v)(_nudge(x, by) for x in v)
    return v


def {entry}(*args):
    if _depth[0]:
        return _original_{entry}(*args)
    _depth[0] += 1
    try:
        key = _key(args)
{body}
    finally:
        _depth[0] -= 1
'''

BODIES = {
    "constant": "return 0",
    "raise_some": "if len(key) % 3 == 0:\n    raise ValueError('unsupported input')\nreturn _original_{entry}(*args)",
    "plus_raise": "if key not in _BASE:\n    raise IndexError('unseen input')\nreturn _original_{entry}(*args)",
    "plus_hang": "while key not in _BASE:\n    pass\nreturn _original_{entry}(*args)",
    "plus_none": "if key not in _BASE:\n    return None\nreturn _original_{entry}(*args)",
    "slow_first": "if key == _FIRST:\n    _time.sleep(0.3)\nreturn _original_{entry}(*args)",
    "float_close": "return _nudge(_original_{entry}(*args), 1e-9)",
    "float_off": "return _nudge(_original_{entry}(*args), 1e-3)",
    "type_swap": ("out = _original_{entry}(*args)\nif isinstance(out, tuple):\n    return list(out)\n"
                  "if isinstance(out, list):\n    return tuple(out)\nif type(out) is int:\n    return float(out)\n"
                  "return out"),
    "mutate_args": ("out = _original_{entry}(*args)\nfor a in args:\n    if isinstance(a, list):\n"
                    "        a.reverse()\nreturn out"),
}
# The order variants are handed out in; off_by_one is an AST edit of the canonical solution, not a wrapper.
VARIANTS = ["off_by_one", "constant", "plus_raise", "type_swap", "raise_some", "float_close", "plus_none",
            "off_by_one", "mutate_args", "float_off", "slow_first", "plus_raise", "plus_hang"]
FLOAT_ONLY = {"float_close", "float_off"}


def off_by_one(code: str, entry: str) -> str | None:
    """The entry point's first integer literal plus one, else its first ordering comparison made (non-)strict."""
    tree = ast.parse(code)
    func = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry), None)
    if func is None:
        return None
    body = func.body[1:] if ast.get_docstring(func) is not None else func.body
    nodes = [n for stmt in body for n in ast.walk(stmt)]
    for node in nodes:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            node.value += 1
            return ast.unparse(tree) + "\n"
    flips = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}
    for node in nodes:
        if isinstance(node, ast.Compare) and type(node.ops[0]) in flips:
            node.ops[0] = flips[type(node.ops[0])]()
            return ast.unparse(tree) + "\n"
    return None


def wrapped(code: str, entry: str, variant: str, base_keys: list[str]) -> str:
    body = "\n".join(" " * 8 + line for line in BODIES[variant].format(entry=entry).splitlines())
    return code.rstrip() + "\n" + WRAPPER.format(key_source=KEY_SOURCE, base=sorted(set(base_keys)),
                                                 first=base_keys[0] if base_keys else None, entry=entry, body=body)


def _has_float(value) -> bool:
    if isinstance(value, float):
        return True
    return isinstance(value, (list, tuple)) and any(_has_float(v) for v in value)


def returns_floats(outputs: dict) -> bool:
    return any("v" in e and _has_float(codec.from_tree(e["v"])) for entries in outputs.values() for e in entries)


def variants_for(index: int, task: Task, spec: dict, outputs: dict) -> list[tuple[str, str]]:
    """(variant name, solution) for one task: the canonical solution, then one or two wrong variants."""
    reference = task.reference
    samples = [("canonical", reference)]
    base_inputs = dict(differential.phases(spec))["base"]
    base_keys = [_key(tuple(args)) for args in base_inputs]
    floats = returns_floats(outputs)
    wanted = 2 if index % 3 == 0 else 1
    # Tasks with float outputs try a float nudge first (within, then beyond the tolerance, by turns).
    first = [("float_close", "float_off")[index % 2]] if floats else []
    order = first + [VARIANTS[(index * 5 + step * (1 + index % 2)) % len(VARIANTS)] for step in range(len(VARIANTS))]
    for name in order:
        if len(samples) > wanted:
            break
        if any(name == have for have, _ in samples) or (name in FLOAT_ONLY and not floats):
            continue
        code = off_by_one(reference, task.entry_point) if name == "off_by_one" else \
            wrapped(reference, task.entry_point, name, base_keys)
        if code is None:
            continue
        if task.prompt and spec["dataset"] == "humaneval" and not code.startswith(task.prompt):
            code = task.prompt + "\n" + code  # as codeladder would run it (the prompt's helpers first)
        samples.append((name, code))
    return samples


def build(name: str, limit: int | None, folder: Path, only: set[str] | None = None) -> tuple[Path, Path, list[dict]]:
    """The samples file (EvalPlus format) and the override data file (EvalPlus's own JSONL rows)."""
    bench = get_benchmark(name)
    tasks = [(i, t) for i, t in enumerate(bench.load()[:limit]) if not only or t.task_id in only]
    outputs = bench.expected_outputs(show=False)
    rows = []
    for index, task in tasks:
        for sample_index, (variant, code) in enumerate(variants_for(index, task, bench.spec(task),
                                                                    outputs[task.task_id])):
            rows.append({"task_id": task.task_id, "sample_index": sample_index, "variant": variant,
                         "solution": code})
    samples = folder / "samples.jsonl"
    with open(samples, "w") as f:
        for row in rows:
            f.write(json.dumps({"task_id": row["task_id"], "solution": row["solution"]}) + "\n")
    keep = {t.task_id for _, t in tasks}
    data = folder / f"{name}-override.jsonl"  # plain text: EvalPlus keys its ground-truth cache on the md5
    with gzip.open(bench.data_path(), "rt") as src, open(data, "w") as out:
        for line in src:
            if json.loads(line)["task_id"] in keep:
                out.write(line.rstrip("\n") + "\n")
    return samples, data, rows


_CODELADDER = """
import sys
from codeladder.evaluate import EvalParams, evaluate
bench, samples, out, workers = sys.argv[1:5]
evaluate(EvalParams(benchmark=bench, samples=samples, output=out, workers=int(workers), overwrite=True))
"""

_GROUND_TRUTH = """
import sys, time
from evalplus.evaluate import get_groundtruth
from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS
from evalplus.data import get_human_eval_plus, get_human_eval_plus_hash, get_mbpp_plus, get_mbpp_plus_hash
started = time.perf_counter()
if sys.argv[1] == "humaneval":
    get_groundtruth(get_human_eval_plus(), get_human_eval_plus_hash(), [])
else:
    get_groundtruth(get_mbpp_plus(), get_mbpp_plus_hash(), MBPP_OUTPUT_NOT_NONE_TASKS)
print(f"{time.perf_counter() - started:.1f}")
"""


def timed(command: list[str], env: dict, log: Path, result: Path | None = None) -> tuple[float, float]:
    """Seconds until the process exits, and until ``result`` holds complete JSON (the same when None)."""
    started = time.perf_counter()
    written = None
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        while process.poll() is None:
            if result is not None and written is None and result.exists():
                try:
                    json.loads(result.read_text())
                    written = time.perf_counter() - started
                except ValueError:
                    pass
            time.sleep(0.05)
    seconds = time.perf_counter() - started
    if process.returncode:
        sys.exit(f"{' '.join(command[:4])} ... failed ({process.returncode}); see {log}")
    return seconds, written or seconds


def evalplus_env(name: str, data: Path, cache: Path) -> dict:
    env = dict(os.environ, XDG_CACHE_HOME=str(cache), TOKENIZERS_PARALLELISM="false")
    env[DATASETS[name][1]] = str(data)
    env.pop("PYTHONPATH", None)
    return env


def verdicts_codeladder(run: Path) -> dict[tuple[str, int], dict]:
    rows = [json.loads(line) for line in open(run / "results.jsonl")]
    return {(r["task_id"], r["sample_index"]): r for r in rows}


def verdicts_evalplus(samples: Path) -> dict[tuple[str, int], dict]:
    results = json.load(open(str(samples).replace(".jsonl", "_eval_results.json")))
    return {(task_id, index): r for task_id, rows in results["eval"].items() for index, r in enumerate(rows)}


def short(value, width: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width] + " ..."


def compare(name: str, rows: list[dict], ours: dict, theirs: dict) -> tuple[int, int, list[str]]:
    same_base = same_plus = 0
    lines = []
    for row in rows:
        key = (row["task_id"], row["sample_index"])
        cl, ep = ours[key], theirs[key]
        cl_base, cl_plus = bool(cl.get("base_passed")), cl["status"] == "passed"
        ep_base = ep["base_status"] == "pass"
        ep_plus = ep_base and ep["plus_status"] == "pass"
        same_base += cl_base == ep_base
        same_plus += cl_plus == ep_plus
        if (cl_base, cl_plus) != (ep_base, ep_plus):
            fails = ep["base_fail_tests"] or ep["plus_fail_tests"]
            lines.append(
                f"  {row['task_id']} #{row['sample_index']} ({row['variant']}): "
                f"codeladder base={'pass' if cl_base else 'FAIL'} plus={'pass' if cl_plus else 'FAIL'} "
                f"[{cl['status']}, phase {cl.get('failed_phase', '-')}, checker {cl.get('checker')}]; "
                f"evalplus base={ep['base_status']} plus={ep['plus_status']}\n"
                f"      codeladder: {short(cl.get('error') or '')}\n"
                f"      evalplus failing input: {short(fails)}")
    return same_base, same_plus, lines


def run_one(name: str, args, tmp: Path) -> None:
    dataset, _ = DATASETS[name]
    folder = tmp / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    only = {t.strip() for t in args.tasks.split(",")} if args.tasks else None
    samples, data, rows = build(name, args.limit, folder, only)
    if not rows:
        return
    tasks = len({r["task_id"] for r in rows})
    env = evalplus_env(name, data, tmp / "evalplus-cache")
    started = time.perf_counter()
    gt = subprocess.run([args.evalplus_python, "-c", _GROUND_TRUTH, dataset], capture_output=True, text=True, env=env)
    if gt.returncode:
        sys.exit(f"EvalPlus's ground truth failed:\n{gt.stderr[-3000:]}")
    ground = time.perf_counter() - started

    load = os.getloadavg()
    ours, _ = timed([sys.executable, "-c", _CODELADDER, name, str(samples), str(folder / "run"), str(args.workers)],
                    dict(os.environ), folder / "codeladder.log")
    exited, theirs = timed([args.evalplus_python, "-m", "evalplus.evaluate", "--dataset", dataset, "--samples",
                            str(samples), "--parallel", str(args.workers)], env, folder / "evalplus.log",
                           Path(str(samples).replace(".jsonl", "_eval_results.json")))
    same_base, same_plus, lines = compare(name, rows, verdicts_codeladder(folder / "run"), verdicts_evalplus(samples))
    total = len(rows)
    kinds = Counter(r["variant"] for r in rows)
    print(f"{name}: {total} samples on {tasks} tasks, workers {args.workers} "
          f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})")
    print(f"  base verdicts equal : {same_base}/{total}")
    print(f"  plus verdicts equal : {same_plus}/{total}  (base + extra, EvalPlus's pass@1 criterion)")
    print(f"  codeladder          : {ours:7.1f} s")
    print(f"  evalplus {args.evalplus_version:<10} : {theirs:7.1f} s  to its results file; the process exits at "
          f"{exited:.1f} s (its stall watchdog sleeps in 20 s steps); ground truth computed or loaded "
          f"beforehand: {ground:.1f} s, not counted")
    print(f"  evalplus/codeladder : {theirs / ours:5.2f}x  (load average before / after: {load[0]:.1f} / "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"  disagreements       : {len(lines)}")
    for line in lines:
        print(line)
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evalplus-python", default="/tmp/epv/bin/python",
                        help="the interpreter of the venv where evalplus is installed")
    parser.add_argument("--benchmarks", default="humaneval-plus,mbpp-plus")
    parser.add_argument("--limit", type=int, default=None, help="only the first N tasks of each benchmark")
    parser.add_argument("--tasks", default=None, help="only these task ids (comma-separated; same samples as a full run)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tmp", default="/tmp/evalplus_agreement", help="samples, override data, runs, caches")
    args = parser.parse_args()
    version = subprocess.run([args.evalplus_python, "-c", "import evalplus; print(evalplus.__version__)"],
                             capture_output=True, text=True)
    if version.returncode:
        sys.exit(f"{args.evalplus_python}: cannot import evalplus ({version.stderr.strip()[-300:]})")
    args.evalplus_version = version.stdout.strip()
    tmp = Path(args.tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    for name in args.benchmarks.split(","):
        run_one(name.strip(), args, tmp)


if __name__ == "__main__":
    main()
