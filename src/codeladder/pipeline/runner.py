"""Run a recipe into a run folder, stage by stage; resume one after a crash or ``kill -9``.

``RUN_DIR`` holds ``recipe.yaml`` (the recipe as it was started), ``lineage.json`` (:mod:`.record`, rewritten
atomically before and after every stage) and one folder per stage named after it. A stage's params are built
from its config, its inputs (earlier stages' recorded outputs, or paths) and its output in ``RUN_DIR/NAME``,
validated by the verb's params class, and run by the verb's own library function.

Resume skips a finished stage while its config, its inputs' sha256 and its outputs' sha256 are what lineage
recorded (so a stage rerun upstream reruns everything it feeds), and reruns the unfinished one: model writers
publish atomically (a killed one leaves only a staging sibling, removed on the next write), ``eval`` continues
its run folder (finished samples are never redone), ``finetune`` continues from its last checkpoint.

A failed gate stops the run (status ``gate_failed``) and the result says which number missed which bound.

Test hook: ``CODELADDER_CRASH_AT=stage:NAME`` dies like ``kill -9`` as stage NAME starts (after lineage says
``running``), ``CODELADDER_CRASH_AT=NAME:POINT`` at the writer's crash point POINT while stage NAME runs.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from codeladder.errors import LadderError
from codeladder.models.output import crash_point
from codeladder.pipeline import memory
from codeladder.pipeline.gates import metrics, read_results
from codeladder.pipeline.order import check_order
from codeladder.pipeline.record import RECIPE_COPY, RunRecord, describe_path, new_document, now, sha256_path
from codeladder.pipeline.schema import Recipe, Stage, parse_recipe, stage_values

CRASH = "CODELADDER_CRASH_AT"
TRAIN_VERBS = ("finetune", "dpo")


def preflight(recipe: Recipe, allow_order: bool) -> list[str]:
    """Everything that can stop a run before it starts; returns the order warnings."""
    for stage in recipe.stages:
        where = f"{recipe.path}:{stage.line}: stage {stage.name!r} ({stage.verb})"
        if stage.entry is None:
            raise LadderError(f"{where}: verb {stage.verb!r} is not in this version of codeladder yet; the recipe "
                              "can be planned but not run")
        for key, value in stage.inputs.items():
            for ref in value if isinstance(value, list) else [value]:
                if ref.kind == "path" and not ref.path.exists():
                    raise LadderError(f"{where}: inputs.{key}: {ref.path} does not exist")
    return check_order(recipe, allow_order)


def _inputs(stage: Stage, values: dict) -> dict:
    found = {}
    for key, value in stage.inputs.items():
        refs, paths = (value, values[key]) if isinstance(value, list) else ([value], [values[key]])
        described = [describe_path(Path(p), ref.describe()) if ref.kind != "remote" else {"ref": ref.describe()}
                     for ref, p in zip(refs, paths)]
        found[key] = described if isinstance(value, list) else described[0]
    return found


def _config(stage: Stage, params) -> dict:
    skip = {*stage.kind.inputs, stage.kind.output_field, "resume"}  # resume: how, not what, it trains
    return {k: v for k, v in params.model_dump(mode="json").items() if k not in skip}


def _stage_outputs(stage: Stage, values: dict) -> dict[str, Path]:
    return stage.kind.outputs(Path(values[stage.kind.output_field]), values)


def _why_stale(rec: dict, inputs: dict, config: dict) -> str | None:
    """Why a finished stage cannot be trusted any more; None when it can."""
    if rec["config"] != config:
        return "its config changed"
    if rec["inputs"] != inputs:
        return "an input changed"
    for name, out in rec["outputs"].items():
        if sha256_path(Path(out["path"])) != out["sha256"]:
            return f"its output {name} changed or is missing"
    return None


def _gates(stage: Stage, values: dict) -> list[dict]:
    folder = Path(values[stage.kind.output_field])
    results = read_results(folder) if folder.is_dir() else {}
    if not results:
        results = read_results(next(iter(_stage_outputs(stage, values).values()), folder))
    found = metrics(results)
    return [gate.check(found) for gate in stage.gates]


@contextmanager
def _crash_scope(name: str):
    """``CODELADDER_CRASH_AT=NAME:POINT`` arms the crash point POINT while stage NAME runs."""
    wanted = os.environ.get(CRASH, "")
    scoped = wanted.partition(":")[2] if wanted.startswith(f"{name}:") else None
    if scoped:
        os.environ[CRASH] = scoped
    try:
        yield
    finally:
        if scoped:
            os.environ[CRASH] = wanted


def _prepare(stage: Stage, rec: dict, values: dict) -> None:
    out = Path(values[stage.kind.output_field])
    if stage.kind.output_name(values):
        out.parent.mkdir(parents=True, exist_ok=True)
    if stage.verb in TRAIN_VERBS and rec["status"] != "pending" and (out / "checkpoints").is_dir():
        values["resume"] = True  # continue the killed training from its last checkpoint


def _run_stage(stage: Stage, rec: dict, record: RunRecord, values: dict, console: Console) -> None:
    _prepare(stage, rec, values)
    params = stage.entry.params(**values)
    rec.update(status="running", inputs=_inputs(stage, values), config=_config(stage, params), outputs={}, gates=[],
               started_at=now(), attempts=rec.get("attempts", 0) + 1)
    rec.pop("error", None)
    record.save()
    crash_point(f"stage:{stage.name}")
    memory.release()
    memory.reset_peak()
    started = time.monotonic()
    try:
        with _crash_scope(stage.name):
            verb = stage.entry.data.get("verb")  # a plug-in may still add a stage straight to the registry
            verb.call(params, show_progress=True) if verb else stage.entry.load()(params)
    except BaseException as exc:
        interrupted = isinstance(exc, (KeyboardInterrupt, SystemExit))
        rec.update(status="interrupted" if interrupted else "failed", seconds=round(time.monotonic() - started, 3),
                   error=f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}")
        record.save()
        if isinstance(exc, LadderError):
            raise LadderError(f"stage {stage.name!r} ({stage.verb}): {exc}; fix it, then "
                              f"`ladder recipe resume {record.run_dir}`") from None
        raise
    rec["seconds"] = round(time.monotonic() - started, 3)
    rec["peak_rss_mb"] = memory.peak_mb()  # this stage's peak resident memory (Linux), as the table reports it
    memory.release()
    rec["outputs"] = {name: describe_path(path) for name, path in _stage_outputs(stage, values).items()}
    rec["finished_at"] = now()


def _finish(stage: Stage, rec: dict, record: RunRecord, values: dict) -> str | None:
    """Evaluate the gates on the stage's result files; the message of the first that failed."""
    try:
        rec["gates"] = _gates(stage, values)
    except LadderError as exc:  # a gate names a number the results do not hold: the work itself is sound, so
        rec.update(status="gate_failed", error=str(exc))  # a fixed gate is re-judged on resume, not re-run
        record.save()
        raise LadderError(f"stage {stage.name!r} ({stage.verb}): {exc}; fix the gate in {record.run_dir}/"
                          f"{RECIPE_COPY}, then `ladder recipe resume {record.run_dir}` (the stage is not redone)"
                          ) from None
    failed = next((g for g in rec["gates"] if not g["passed"]), None)
    rec["status"] = "gate_failed" if failed else "done"
    record.save()
    if failed is None:
        return None
    gate = next(g for g in stage.gates if g.expr == failed["expr"])
    return (f"stage {stage.name!r} ({stage.verb}): gate {gate.expr!r} failed: {gate.metric} = {failed['value']:.6g}"
            f", which misses {gate.op} {gate.bound:g}")


def execute(recipe: Recipe, record: RunRecord, show: bool = True) -> dict:
    """Run (or resume) every stage in order; the lineage document, with ``stopped`` set when a gate failed."""
    console = Console(stderr=True, quiet=not show, highlight=False)
    outputs: dict[str, dict[str, Path]] = {}
    record.document.pop("stopped", None)
    for number, stage in enumerate(recipe.stages, 1):
        rec = record.stage(stage.name)
        values = stage_values(stage, record.run_dir, outputs)
        label = f"[{number}/{len(recipe.stages)}] {stage.name} ({stage.verb})"
        stale = "not finished" if rec["status"] not in ("done", "gate_failed") else _why_stale(
            rec, _inputs(stage, values), _config(stage, stage.entry.params(**values)))
        if stale is None:
            console.print(f"[dim]{label}: finished earlier, outputs verified; skipped[/]")
        else:
            if rec["status"] != "pending":
                console.print(f"[yellow]{label}: running again ({stale})[/]")
            console.rule(label)
            _run_stage(stage, rec, record, values, console)
        outputs[stage.name] = {name: Path(out["path"]) for name, out in rec["outputs"].items()}
        stopped = _finish(stage, rec, record, values)
        for gate in rec["gates"]:
            mark = "[green]pass[/]" if gate["passed"] else "[red]FAIL[/]"
            console.print(f"  gate {gate['expr']}: {gate['value']:.6g} {mark}")
        if stopped:
            record.document["stopped"] = stopped
            record.save()
            break
    return record.document


def start(recipe: Recipe, run_dir: Path, allow_order: bool = False, show: bool = True) -> dict:
    """``ladder recipe run``: a new run folder (refused if it holds anything), then every stage."""
    warnings = preflight(recipe, allow_order)
    run_dir = Path(run_dir).absolute()  # lineage records absolute paths: resume works from any folder
    if (run_dir / "lineage.json").exists():
        raise LadderError(f"-o {run_dir}: holds a recipe run already; continue it with `ladder recipe resume "
                          f"{run_dir}`, or choose another -o")
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise LadderError(f"-o {run_dir}: exists and is not an empty folder; choose a new one")
    document = new_document(recipe.name, recipe.path, recipe.base, recipe.sha256,
                            [(s.name, s.verb) for s in recipe.stages], {"allow_order": allow_order})
    document["warnings"] = warnings
    record = RunRecord(run_dir, document)
    record.lock()
    try:
        (run_dir / RECIPE_COPY).write_text(recipe.text)
        record.save()
        _warn(warnings, show)
        return execute(recipe, record, show)
    finally:
        record.unlock()


def resume(run_dir: Path, show: bool = True) -> dict:
    """``ladder recipe resume``: the run folder's own recipe copy, finished stages verified and skipped."""
    record = RunRecord.load(Path(run_dir).absolute())
    record.lock()
    try:
        source = record.document["recipe"]
        recipe = parse_recipe((record.run_dir / RECIPE_COPY).read_text(), record.run_dir / RECIPE_COPY,
                              base=Path(source["base"]))
        _warn(preflight(recipe, record.document.get("options", {}).get("allow_order", False)), show)
        return execute(recipe, record, show)
    finally:
        record.unlock()


def _warn(warnings: list[str], show: bool) -> None:
    console = Console(stderr=True, quiet=not show, highlight=False, soft_wrap=True)
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {warning}")


__all__ = ["start", "resume", "execute", "preflight"]
