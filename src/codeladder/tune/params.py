"""``ladder tune`` parameters: one typed class is the library call and the CLI.

Optuna-free and torch-free, so ``ladder tune --help`` starts fast. The training settings a trial does not search
(batch size, length, device, alerts, ...) are finetune's own fields, shared here, not declared again.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Optional

from codeladder.errors import LadderError
from codeladder.params import OUTPUT, VerbParams, option
from codeladder.transforms.finetune.params import FinetuneParams

METHODS = ("lora", "qlora", "dpo")
OBJECTIVES = ("val_loss", "pass@1")
PRUNERS = ("halving", "hyperband", "none")
_FINETUNE = FinetuneParams.model_fields
# the finetune settings a study fixes for all its trials (searched ones come from the space)
FIXED = ("batch_size", "grad_accum", "max_length", "max_steps", "schedule", "template", "precision", "device",
         "val_split", "loss_type", "stop_if")


class TuneParams(VerbParams):
    """Search LoRA, QLoRA or DPO hyperparameters with Optuna (TPE; successive halving or Hyperband on the
    validation loss). The study lives in a database: it resumes after a crash, and several workers share it."""

    verb: ClassVar[str] = "tune"
    base: Path = option(..., "base model folder", argument=True)
    data: Path = option(..., "JSONL training rows (prompt/completion or messages; dpo: prompt/chosen/rejected)")
    method: str = option("lora", "training method of every trial", choices=METHODS)
    budget: int = option(20, "trials to finish (complete or pruned; a failed or killed trial does not count)", ge=1)
    output: Path = option(..., "study folder: study.db, trials/, study.json, best.yaml", flags=OUTPUT)
    storage: Optional[str] = option(None, "SQLAlchemy URL of the study (default sqlite:///STUDY/study.db); workers "
                                          "given the same URL work one study together")
    study_name: str = option("ladder-tune", "the study's name in the storage")
    space: Optional[Path] = option(None, "YAML search space (default: rank, alpha_ratio, lr, dropout, epochs; "
                                         "dpo: beta too); see docs/tune.md")
    objective: str = option("val_loss", "val_loss (minimised) or pass@1 on --eval-benchmark (maximised)",
                            choices=OBJECTIVES)
    eval_benchmark: Optional[str] = option(None, "--objective pass@1: a benchmark's non-test split, e.g. mbpp-train",
                                           choices="benchmark")
    eval_limit: Optional[int] = option(None, "--objective pass@1: only the first N tasks", ge=1)
    pruner: str = option("halving", "stop poor trials early on their validation loss (val_loss objective)",
                         choices=PRUNERS)
    eval_every: int = option(0, "validation loss every N optimizer steps for the pruner (0: every epoch)", ge=0)
    scout: bool = option(False, "short trials: one epoch on --scout-share of the training rows")
    scout_share: float = option(0.25, "--scout: the share of training rows each trial sees", gt=0, le=1)
    from_scout: Optional[Path] = option(None, "a scout study folder: run its best --top trials again in full")
    top: int = option(3, "--from-scout: how many of the scout's best trials to run", ge=1)
    seed: int = option(0, "seed of the sampler, the split and every trial's training", ge=0)
    batch_size: int = _FINETUNE["batch_size"]
    grad_accum: int = _FINETUNE["grad_accum"]
    max_length: int = _FINETUNE["max_length"]
    max_steps: Optional[int] = _FINETUNE["max_steps"]
    schedule: str = _FINETUNE["schedule"]
    template: str = _FINETUNE["template"]
    precision: str = _FINETUNE["precision"]
    device: str = _FINETUNE["device"]
    val_split: float = _FINETUNE["val_split"]
    loss_type: str = _FINETUNE["loss_type"]
    stop_if: _FINETUNE["stop_if"].annotation = _FINETUNE["stop_if"]

    def checked(self) -> "TuneParams":
        """What can be refused before a study is opened, refused in one line."""
        if self.objective == "val_loss" and self.val_split <= 0:
            raise LadderError("--val-split 0: the val_loss objective needs held-out rows; give --val-split > 0")
        if self.objective == "pass@1" and not self.eval_benchmark:
            raise LadderError("--objective pass@1: name the split to score with --eval-benchmark (e.g. mbpp-train)")
        if self.scout and self.from_scout:
            raise LadderError("--scout and --from-scout exclude each other: scout first, then run its best in full")
        return self

    def fixed(self) -> dict:
        return {name: getattr(self, name) for name in FIXED}

    def storage_url(self) -> str:
        """Where the study lives: --storage, or a SQLite file in the study folder."""
        return self.storage or f"sqlite:///{(Path(self.output) / 'study.db').resolve()}"


__all__ = ["TuneParams", "METHODS", "OBJECTIVES", "PRUNERS", "FIXED"]
