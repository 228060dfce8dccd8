"""``ladder tune``: an Optuna study of finetune trials that resumes and can be shared.

Optuna does the search (TPE), the pruning (successive halving, Hyperband) and the storage (any SQLAlchemy URL;
SQLite by default). Hand-written around it, because Optuna leaves it to the caller:

* **the budget counts finished trials** (complete or pruned): a worker asks for a new trial only while
  finished + running < budget, so two workers on one study stop at the budget, not past it;
* **a killed trial is failed on resume, never counted and never repeated**: each trial records its host and
  process id; a worker starting on the same host fails every RUNNING trial whose process is gone (at once), and
  the storage's heartbeat fails those of other machines after its grace period;
* **the study's inputs are fixed**: base, data, method, objective and space are recorded on creation; a resume
  or a second worker with other inputs is refused in one line;
* outputs: ``study.json`` (every trial, its objective and the reported validation losses, the best, parameter
  importances) and ``best.yaml`` (a recipe with one finetune stage of the winning settings), written atomically
  after every trial.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from pathlib import Path

from codeladder.errors import LadderError
from codeladder.runs import pid_alive, write_text_atomic
from codeladder.tune.outputs import write_outputs
from codeladder.tune.params import TuneParams
from codeladder.tune.space import read_space, scout_space
from codeladder.tune.trial import run_trial

HEARTBEAT_S, GRACE_S = 30, 120
MAX_FAILURES_IN_A_ROW = 3


def _optuna():
    try:
        import optuna
    except ImportError:
        raise LadderError("ladder tune needs Optuna: pip install 'codeladder[tune]'") from None
    import warnings

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a failed trial's reason goes into study.json instead
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def _inputs(params: TuneParams, space: dict) -> dict:
    return {"base": str(Path(params.base).resolve()), "data": str(Path(params.data).resolve()),
            "method": params.method, "objective": params.objective, "eval_benchmark": params.eval_benchmark,
            "eval_limit": params.eval_limit, "scout": params.scout, "scout_share": params.scout_share,
            "space": space, "fixed": params.fixed() | {"stop_if": list(params.stop_if)}}


def _check_inputs(params: TuneParams) -> None:
    from codeladder.models.integrity import require_model_folder
    from codeladder.transforms.finetune.data import read_rows

    require_model_folder(params.base, "base")
    read_rows(params.data, preference=params.method == "dpo")  # one line for a bad row, before any trial
    if params.eval_benchmark:
        from codeladder.benchmarks import get_benchmark

        if get_benchmark(params.eval_benchmark).split == "test":
            raise LadderError(f"--eval-benchmark {params.eval_benchmark}: a test split; tuning on it fits the "
                              "hyperparameters to the problems the model is scored on. Use a training split "
                              "(mbpp-train)")


def scout_data(params: TuneParams, study_dir: Path) -> Path:
    """--scout: a seeded share of the rows, written once into the study folder."""
    import random

    target = study_dir / "scout_data.jsonl"
    if not target.exists():
        lines = [line for line in Path(params.data).read_text(encoding="utf-8").splitlines() if line.strip()]
        keep = sorted(random.Random(params.seed).sample(range(len(lines)), max(2, round(len(lines) *
                                                                                       params.scout_share))))
        write_text_atomic(target, "".join(lines[i] + "\n" for i in keep if i < len(lines)))
    return target


def _pruner(optuna, params: TuneParams):
    if params.pruner == "none" or params.objective != "val_loss":
        return optuna.pruners.NopPruner()
    if params.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.SuccessiveHalvingPruner()


@contextlib.contextmanager
def _creation_lock(params: TuneParams):
    """Workers that start together must not both create the database schema and the study (Optuna's first
    ``alembic_version`` row is inserted by whoever comes first; the other fails on the unique key): one at a time
    on this machine, by a lock file in the study folder."""
    with open(Path(params.output) / ".study.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _storage(optuna, url: str):
    """The RDB storage; a schema another machine is creating at this moment is waited for and read again."""
    from sqlalchemy.exc import SQLAlchemyError

    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None  # workers wait for the lock
    for attempt in range(5):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_S,
                                              grace_period=GRACE_S)
        except SQLAlchemyError as exc:
            if attempt == 4:
                reason = " ".join(str(exc).split())[:200]
                raise LadderError(f"--storage: the study's database cannot be opened ({reason})") from None
            time.sleep(1 + attempt)


def open_study(params: TuneParams, space: dict):
    with _creation_lock(params):
        return _open_study(params, space)


def _open_study(params: TuneParams, space: dict):
    optuna = _optuna()
    storage = _storage(optuna, params.storage_url())
    direction = "minimize" if params.objective == "val_loss" else "maximize"
    probe = optuna.load_study(study_name=params.study_name, storage=storage) if params.study_name in \
        [s.study_name for s in optuna.get_all_study_summaries(storage)] else None
    inputs = _inputs(params, space)
    if probe is not None and probe.user_attrs.get("inputs") != json.loads(json.dumps(inputs)):
        raise LadderError(f"-o {params.output}: study {params.study_name!r} was made with other inputs (base, "
                          "data, method, objective, space or fixed settings); use its own, or another -o/--study-name")
    count = len(probe.trials) if probe is not None else 0
    sampler = optuna.samplers.TPESampler(seed=params.seed + count + 7919 * _worker_index(probe))
    study = optuna.create_study(study_name=params.study_name, storage=storage, sampler=sampler,
                                pruner=_pruner(optuna, params), direction=direction, load_if_exists=True)
    if probe is None:
        study.set_user_attr("inputs", inputs)
    return study


def _worker_index(study) -> int:
    """How many of this study's trials run now: a second worker's sampler starts from another seed."""
    if study is None:
        return 0
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


def fail_dead_trials(study) -> list[int]:
    """RUNNING trials of this host whose process is gone (a ``kill -9``): failed now, not counted."""
    from optuna.trial import TrialState

    host, failed = socket.gethostname(), []
    storage = study._storage  # the RDBStorage this module opened  # noqa: SLF001
    study_id = storage.get_study_id_from_name(study.study_name)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = trial.user_attrs.get("pid")
        if trial.user_attrs.get("host") == host and isinstance(pid, int) and pid != os.getpid() and not pid_alive(pid):
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
            storage.set_trial_user_attr(trial_id, "failed_because", "its process was gone when the study resumed")
            storage.set_trial_state_values(trial_id, TrialState.FAIL)
            failed.append(trial.number)
    return failed


def _counts(study) -> tuple[int, int]:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    finished = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    return finished, sum(t.state == TrialState.RUNNING for t in trials)


def enqueue_from_scout(study, params: TuneParams) -> int:
    """--from-scout: the scout's best --top complete trials, queued once (their settings, all epochs searched)."""
    scout = Path(params.from_scout) / "study.json"
    try:
        trials = json.loads(scout.read_text())["trials"]
    except (OSError, ValueError, KeyError):
        raise LadderError(f"--from-scout {params.from_scout}: no study.json of a `ladder tune --scout` study") from None
    done = [t for t in trials if t["state"] == "COMPLETE" and t["value"] is not None]
    if not done:
        raise LadderError(f"--from-scout {params.from_scout}: no complete trial to run in full")
    if study.user_attrs.get("from_scout"):
        return 0
    reverse = study.direction.name == "MAXIMIZE"
    best = sorted(done, key=lambda t: t["value"], reverse=reverse)[:params.top]
    for trial in best:
        study.enqueue_trial({k: v for k, v in trial["params"].items() if k != "epochs"}, skip_if_exists=True)
    study.set_user_attr("from_scout", {"study": str(params.from_scout), "trials": [t["number"] for t in best]})
    return len(best)


def tune(params: TuneParams, show_progress: bool = False) -> dict:
    """Run (or resume, or join) the study until ``budget`` trials finished; returns what study.json holds."""
    params.checked()
    _check_inputs(params)
    study_dir = Path(params.output)
    _one_study_per_folder(study_dir, params.study_name)
    study_dir.mkdir(parents=True, exist_ok=True)
    space = read_space(params.space, params.method)
    data = Path(params.data)
    if params.scout:
        space, data = scout_space(space), scout_data(params, study_dir)
    optuna = _optuna()
    study = open_study(params, space)
    failed_now = fail_dead_trials(study)
    budget = min(params.budget, params.top) if params.from_scout else params.budget
    if params.from_scout:
        enqueue_from_scout(study, params)

    def objective(trial) -> float:
        mine.append(trial.number)
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        try:
            _within_budget(study, trial, budget)
            return run_trial(trial, params, space, data, study_dir, show_progress)
        except LadderError as exc:  # an alert that fired, a trial that could not train: failed, not counted
            trial.set_user_attr("error", str(exc))
            raise

    failures, mine = 0, []
    while True:
        optuna.storages.fail_stale_trials(study)  # other machines' trials whose heartbeat stopped
        finished, running = _counts(study)
        if finished + running >= budget:
            break
        study.optimize(objective, n_trials=1, catch=(LadderError,), gc_after_trial=True)
        last = study.trials[mine[-1]] if mine else None
        failures = failures + 1 if last is not None and last.state.name == "FAIL" else 0
        write_outputs(study, params, study_dir)
        if failures >= MAX_FAILURES_IN_A_ROW:
            raise LadderError(f"{failures} trials in a row failed (last: {_fail_reason(last)}); see "
                              f"{study_dir}/study.json and the trials' train_report.json")
    result = write_outputs(study, params, study_dir)
    return {**result, "failed_on_resume": failed_now}


def _one_study_per_folder(study_dir: Path, name: str) -> None:
    """Trial folders are named by trial number: two studies in one folder would overwrite each other's."""
    try:
        held = json.loads((study_dir / "study.json").read_text()).get("study")
    except (OSError, ValueError):
        return
    if held and held != name:
        raise LadderError(f"-o {study_dir}: holds study {held!r}; give study {name!r} a folder of its own")


def _within_budget(study, trial, budget: int) -> None:
    """Two workers may both see room for one more trial; the later of the two gives way (failed, not run)."""
    from optuna.trial import TrialState

    finished, running = _counts(study)
    newest = max(t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
    if finished + running > budget and trial.number == newest:
        raise LadderError("over the budget: another worker took the last trial")


def _fail_reason(trial) -> str:
    return str(trial.user_attrs.get("error") or trial.system_attrs.get("fail_reason") or "no reason recorded")


__all__ = ["tune", "open_study", "fail_dead_trials", "enqueue_from_scout"]
