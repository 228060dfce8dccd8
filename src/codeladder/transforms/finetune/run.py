"""``ladder finetune``: check the inputs, run the method's trainer (:mod:`.sft` or :mod:`.dpo`, picked from the
``train`` registry), write the outputs and ``train_report.json``. Everything that can be refused is refused
before the model is loaded; a crash leaves ``OUT/checkpoints`` for ``--resume``, removed after success.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from codeladder.errors import LadderError
from codeladder.models.integrity import require_model_folder
from codeladder.models.lineage import file_sha256
from codeladder.transforms.finetune import report as reports
from codeladder.transforms.finetune.config import (Job, check_packing, last_checkpoint, quiet_libraries, resolve_bf16,
                                                   resolve_device)
from codeladder.transforms.finetune.data import read_rows, split_rows
from codeladder.transforms.finetune.outputs import (ADAPTER, MERGED, check_outputs, merge_lora, now, save_adapter,
                                                    save_full)
from codeladder.transforms.finetune.params import ADAPTER_METHODS, FinetuneParams
from codeladder.transforms.finetune.verdict import judge_training


def check_paths(params: FinetuneParams) -> None:
    require_model_folder(params.base, "base")
    out, base = Path(params.output).resolve(), Path(params.base).resolve()
    if out == base or base in out.parents or out in base.parents:
        raise LadderError(f"-o {params.output}: must not be the base model folder, lie inside it or hold it")
    if out.exists() and not out.is_dir():
        raise LadderError(f"-o {params.output}: exists and is not a folder")
    if params.merge and params.method == "full":
        raise LadderError("--merge: --method full writes OUT/merged/ by itself; drop --merge")
    check_outputs(params)  # OUT/adapter, OUT/merged: refused now, not after the training


def prepare(params: FinetuneParams, show: bool) -> Job:
    """Every input checked; the rows read and split; device and precision settled."""
    rows = read_rows(params.data, preference=params.method == "dpo")
    train, val = split_rows(rows.rows, params.val_split, params.seed)
    job = Job(params, rows, train, val, "cpu", False, file_sha256(params.data), show=show)
    if last_checkpoint(job) and not params.resume:
        raise LadderError(f"-o {params.output}: holds checkpoints of an unfinished run ({job.checkpoints}); pass "
                          "--resume to continue it, or choose another -o")
    check_paths(params)  # reads the base's config through transformers
    job.device = resolve_device(params.device)  # the first torch import: everything above is refused faster
    job.bf16 = resolve_bf16(params.precision, job.device)
    check_packing(params, job.device)
    if rows.contaminated:
        job.findings.warnings.append(f"{params.data} is marked contaminated (pairs mined from a benchmark's test "
                                     "split): results on that benchmark are not a fair measure")
    return job


def build_report(job: Job, trainer, outputs: dict) -> dict:
    history = trainer.state.log_history
    epochs, losses = reports.epoch_table(history), reports.step_losses(history)
    report = {"method": job.params.method, "base": str(job.params.base), "data": str(job.params.data),
              "data_sha256": job.data_sha256, "contaminated": job.rows.contaminated,
              "rows": {"train": len(job.train_rows), "val": len(job.val_rows)},
              "hyperparameters": job.hyperparameters(), "device": job.device, "bf16": job.bf16,
              "steps": trainer.state.global_step, "max_steps": trainer.state.max_steps,
              "train_runtime_s": next((e["train_runtime"] for e in history if "train_runtime" in e), None),
              "epochs": epochs, "step_losses": losses,
              **judge_training(losses, [e["val_loss"] for e in epochs if e["val_loss"] is not None]),
              "guards": job.findings.as_dict(), "outputs": outputs, **job.report_extra}
    if job.params.method == "dpo":
        report["dpo"] = {"beta": job.params.beta, "loss_type": job.params.loss_type,
                         "reference": "the base with the adapter disabled (no second model)",
                         "steps": reports.dpo_steps(history)}
    return report


def write_outputs(job: Job, trainer, started: str) -> dict:
    outputs: dict = {}
    if job.params.method in ADAPTER_METHODS:
        adapter = save_adapter(job, trainer.model, started)
        outputs["adapter"] = str(adapter)
        if job.params.merge:
            outputs["merge"] = merge_lora(job, adapter)
            outputs["merged"] = str(job.out / MERGED)
    else:
        summary = {"epochs": reports.epoch_table(trainer.state.log_history), "steps": trainer.state.global_step}
        outputs["merged"] = str(save_full(job, trainer.model, started, summary))
    return outputs


def finetune(params: FinetuneParams, show_progress: bool = False, *, stage: str = "finetune",
             stage_extra: dict | None = None, train: Callable | None = None, callbacks: list | None = None) -> dict:
    """Run ``ladder finetune``; returns the report written to ``OUT/train_report.json``.

    ``ladder distill`` calls this too: ``stage`` and ``stage_extra`` name its lineage stage and add the teacher
    to it; ``train`` (a ``Job -> trainer`` function) replaces the method's trainer (the logit-distillation one);
    ``callbacks`` go to the trainer beside the meter and the alerts (``ladder tune``'s pruning reporter).
    """
    from codeladder.registry import registry
    from codeladder.transforms.finetune.stopper import alerts_of

    job = prepare(params, show_progress)
    job.stage, job.stage_extra, job.callbacks = stage, dict(stage_extra or {}), list(callbacks or [])
    quiet_libraries()
    started = now()
    resumed_from = last_checkpoint(job) if params.resume else None
    trainer = (train or registry("train").get(params.method, "--method").create)(job)
    if params.method == "dpo":
        from codeladder.transforms.finetune.guards import judge_dpo

        job.findings.dpo = judge_dpo(reports.dpo_steps(trainer.state.log_history))
    alerts = alerts_of(trainer)
    fired = alerts.fired if alerts else None
    kept = not fired or alerts.restore(trainer.model)
    if fired:
        job.stage_extra["stopped_by_alert"] = fired
    outputs = write_outputs(job, trainer, started) if kept else {}
    report = {**build_report(job, trainer, outputs), "resumed_from": resumed_from, "alert": fired}
    reports.write_report(job.out, report)
    shutil.rmtree(job.checkpoints, ignore_errors=True)
    if fired:
        written = [str(outputs[k]) for k in ("adapter", "merged") if k in outputs]
        raise TrainingStopped(alerts.message(", ".join(written)), report)
    reports.say(f"verdict: {report['verdict']} ({report['verdict_reason']})", show_progress)
    return report


class TrainingStopped(LadderError):
    """A ``--stop-if`` rule (or a non-finite loss) stopped the run; its outputs and report are written, with the
    last good weights. The report rides along for a caller that wants it (a recipe, ``ladder tune``)."""

    def __init__(self, message: str, report: dict):
        super().__init__(message)
        self.report = report


__all__ = ["finetune", "prepare", "TrainingStopped", "ADAPTER", "MERGED"]
