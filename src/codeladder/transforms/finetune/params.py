"""``ladder finetune`` parameters: one typed class is the library call, the CLI and the recipe stage.

Torch-free, so ``ladder finetune --help`` and ``ladder ls train`` start fast. Defaults that depend on the
method (the learning rate) are resolved by :meth:`FinetuneParams.resolved_lr`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar, Optional

from pydantic import BeforeValidator

from codeladder.params import OUTPUT, VerbParams, comma_words, option
from codeladder.transforms.finetune.alerts import alert_rules

SCHEDULES = ("cosine", "linear", "constant", "constant_with_warmup")
PRECISIONS = ("auto", "bf16", "fp32")
TEMPLATES = ("auto", "chat", "raw")
DPO_LOSSES = ("sigmoid", "ipo", "hinge", "robust", "apo_zero", "apo_down", "sigmoid_norm")
DEFAULT_LR = {"lora": 2e-4, "qlora": 2e-4, "full": 2e-5, "dpo": 5e-5}
ADAPTER_METHODS = ("lora", "qlora", "dpo")
STOP_IF_HELP = ("stop the run when a logged value crosses a line, e.g. \"loss > 10,grad_norm > 100\" (comma-"
                "separated; loss, grad_norm, learning_rate, val_loss; > >= < <=); a non-finite loss always stops it. "
                "The last good weights are kept, the rule is recorded in train_report.json, the exit is non-zero")


class FinetuneParams(VerbParams):
    """Fine-tune a model on prompt/completion or chat data (LoRA, QLoRA, full) or preference pairs (DPO),
    with guards that stop a run that would train on the wrong tokens."""

    verb: ClassVar[str] = "finetune"
    base: Path = option(..., "base model folder", argument=True)
    data: Path = option(..., "JSONL: prompt/completion or messages rows (dpo: prompt/chosen/rejected)")
    method: str = option("lora", "training method (see `ladder ls train`)", choices="train")
    output: Path = option(..., "folder to write adapter/, merged/ and train_report.json into", flags=OUTPUT)
    merge: bool = option(False, "also write OUT/merged/, the adapter folded into the base (LoRA methods)")
    resume: bool = option(False, "continue from the last checkpoint in OUT/checkpoints after a crash")
    rank: int = option(16, "LoRA rank r", ge=1, le=4096)
    alpha: float = option(32.0, "LoRA alpha (scale = alpha / r)", gt=0)
    dropout: float = option(0.05, "LoRA dropout", ge=0, lt=1)
    target_modules: Annotated[tuple[str, ...], BeforeValidator(comma_words)] = option(
        (), "LoRA targets, comma-separated module names (default: every linear projection of attention and MLP)")
    lr: Optional[float] = option(None, "learning rate (default: 2e-4 lora/qlora, 2e-5 full, 5e-5 dpo)", gt=0)
    schedule: str = option("cosine", "learning-rate schedule", choices=SCHEDULES)
    warmup_ratio: float = option(0.0, "share of steps spent warming the learning rate up", ge=0, lt=1)
    epochs: int = option(3, "epochs over the training rows", ge=1)
    max_steps: Optional[int] = option(None, "stop after this many optimizer steps (default: all epochs)", ge=1)
    max_length: int = option(1024, "tokens per row (longer rows are cut at the end)", ge=8)
    batch_size: int = option(4, "rows per device batch", ge=1)
    grad_accum: int = option(1, "gradient accumulation steps", ge=1, flags=("--grad-accum",))
    packing: bool = option(False, "pack rows into full sequences (refused unless a varlen/flash kernel runs)")
    completion_only: bool = option(True, "loss on completion/assistant tokens only")
    template: str = option("auto", "auto: the model's chat template where it has one; chat: required; raw: "
                                   "prompt + completion as plain text", choices=TEMPLATES)
    precision: str = option("auto", "auto: bf16 where the device has it, else fp32", choices=PRECISIONS)
    device: str = option("auto", "auto, cpu, cuda or cuda:N")
    val_split: float = option(0.1, "share of rows held out for the validation loss (0: none)", ge=0, lt=1)
    seed: int = option(0, "seed for the split, the init and the data order", ge=0)
    save_steps: int = option(50, "write a resumable checkpoint every N optimizer steps", ge=1)
    stop_if: Annotated[tuple[str, ...], BeforeValidator(alert_rules)] = option(
        (), STOP_IF_HELP, flags=("--stop-if",))
    beta: float = option(0.1, "dpo: beta (strength of the pull towards the reference)", gt=0)
    loss_type: str = option("sigmoid", "dpo: loss type", choices=DPO_LOSSES)

    def resolved_lr(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR.get(self.method, 2e-4)

    def hyperparameters(self) -> dict:
        """Every setting that shapes the training, as lineage and the report record them."""
        values = self.model_dump(mode="json", exclude={"output", "resume", "stop_if"})
        values["lr"] = self.resolved_lr()
        return values


__all__ = ["FinetuneParams", "SCHEDULES", "PRECISIONS", "TEMPLATES", "DPO_LOSSES", "DEFAULT_LR", "ADAPTER_METHODS",
           "STOP_IF_HELP"]
