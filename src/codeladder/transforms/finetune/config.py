"""What both trainers share: the device and precision a run uses, the base model and tokenizer loaded for
a method (QLoRA: bitsandbytes NF4 through transformers' ``BitsAndBytesConfig`` and PEFT's
``prepare_model_for_kbit_training``), the LoRA config, and the ``TrainingArguments`` fields TRL's
``SFTConfig``/``DPOConfig`` take.

Hand-written only the choices TRL leaves to the caller and gets wrong on CPU (FACTS: ``SFTConfig`` defaults
to bf16 and gradient checkpointing): bf16 only where the device has it, checkpointing off, transformers'
tqdm replaced by the project's progress, a checkpoint every ``--save-steps`` for ``--resume``.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from codeladder import quiet_library_noise
from codeladder.errors import LadderError
from codeladder.transforms.finetune.data import Rows, load_tokenizer
from codeladder.transforms.finetune.guards import Findings
from codeladder.transforms.finetune.params import FinetuneParams

quiet_library_noise()

CHECKPOINTS = "checkpoints"


@dataclass
class Job:
    """One run: its parameters, data and where it writes, shared by the SFT and DPO paths."""

    params: FinetuneParams
    rows: Rows
    train_rows: list[dict]
    val_rows: list[dict]
    device: str
    bf16: bool
    data_sha256: str
    show: bool = False
    findings: Findings = field(default_factory=Findings)
    stage: str = "finetune"  # the lineage stage the outputs record (``ladder distill``: "distill")
    stage_extra: dict = field(default_factory=dict)  # more lineage parameters (distill: the teacher, its gate)
    report_extra: dict = field(default_factory=dict)  # more report sections a trainer adds (distill: the KD loss)
    callbacks: list = field(default_factory=list)  # more trainer callbacks a caller adds (tune: its pruning reporter)

    @property
    def out(self) -> Path:
        return Path(self.params.output)

    def hyperparameters(self) -> dict:
        """The settings as the report and lineage record them, ``target_modules`` being the module names PEFT
        actually adapted (the guards' count), not the option's empty default."""
        return {**self.params.hyperparameters(),
                "target_modules": self.findings.adapter.get("targets") or list(self.params.target_modules)}

    @property
    def checkpoints(self) -> Path:
        return self.out / CHECKPOINTS


def resolve_device(device: str) -> str:
    """``auto`` -> cuda when there is one, else cpu; cuda asked on a machine without it is one line."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise LadderError(f"--device {device}: choose auto, cpu, cuda or cuda:N")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise LadderError(f"--device {device}: no CUDA device is visible (torch {torch.__version__})")
    if device.startswith("cuda:"):
        torch.cuda.set_device(int(device.split(":")[1]))
    return device


def resolve_bf16(precision: str, device: str) -> bool:
    import torch

    available = device.startswith("cuda") and torch.cuda.is_bf16_supported()
    if precision == "bf16" and device.startswith("cuda") and not available:
        raise LadderError(f"--precision bf16: {device} has no bf16 support; use --precision fp32")
    return precision == "bf16" or (precision == "auto" and available)


def check_packing(params: FinetuneParams, device: str) -> None:
    """Packing without a varlen kernel lets packed rows attend to each other (FACTS): refused."""
    if not params.packing:
        return
    import importlib.util

    if not device.startswith("cuda") or importlib.util.find_spec("flash_attn") is None:
        raise LadderError("--packing: packed rows are not isolated with sdpa/eager attention (the second row's logits "
                          "change by ~0.5); it needs a CUDA device with flash-attn installed. Train without --packing")


def load_model(job: Job):
    """The base model for the method: NF4 4-bit for qlora, fp32 weights otherwise (bf16 autocast where on)."""
    import torch
    from transformers import AutoModelForCausalLM

    method, device = job.params.method, job.device
    place = {"": device if device != "cuda" else 0}
    kwargs = {"attn_implementation": "flash_attention_2"} if job.params.packing else {}
    if method == "qlora":
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        if not _bnb_available():
            raise LadderError("--method qlora: bitsandbytes is not installed; pip install 'codeladder[quant]'")
        compute = torch.bfloat16 if job.bf16 else torch.float32
        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                   bnb_4bit_compute_dtype=compute, bnb_4bit_quant_storage=compute)
        model = AutoModelForCausalLM.from_pretrained(str(job.params.base), quantization_config=quant, device_map=place,
                                                     dtype=compute, **kwargs)
        return prepare_model_for_kbit_training(_no_cpu_inference_packing(model), use_gradient_checkpointing=False)
    dtype = torch.bfloat16 if job.bf16 and method != "full" else torch.float32
    return AutoModelForCausalLM.from_pretrained(str(job.params.base), dtype=dtype, device_map=place, **kwargs)


def _no_cpu_inference_packing(model):
    """bitsandbytes 0.50 repacks a 4-bit weight for its AVX512-BF16 inference kernel the first time a layer runs in
    eval mode without grad (our guards' and the validation loss's passes), and the training forward that follows
    then fails (``a view of a leaf Variable ... in-place operation`` in ``matmul_4bit``). Training never wants
    that layout: turn it off on every 4-bit layer."""
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False
    return model


def _bnb_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("bitsandbytes") is not None


def lora_config(model, params: FinetuneParams, task_type: str = "CAUSAL_LM"):
    """PEFT's ``LoraConfig`` for the asked (or default) targets, and how many modules each name matches."""
    from peft import LoraConfig

    from codeladder.transforms.finetune.guards import resolve_targets

    targets, counts = resolve_targets(model, params.target_modules)
    config = LoraConfig(r=params.rank, lora_alpha=params.alpha, lora_dropout=params.dropout, target_modules=targets,
                        bias="none", task_type=task_type)
    return config, counts


def training_arguments(job: Job) -> dict:
    """The ``TrainingArguments`` fields of a run (TRL's configs take them all)."""
    params = job.params
    return dict(
        output_dir=str(job.checkpoints), num_train_epochs=params.epochs, max_steps=params.max_steps or -1,
        per_device_train_batch_size=params.batch_size, per_device_eval_batch_size=params.batch_size,
        gradient_accumulation_steps=params.grad_accum, learning_rate=params.resolved_lr(),
        lr_scheduler_type=params.schedule, warmup_steps=params.warmup_ratio, seed=params.seed, data_seed=params.seed,
        logging_strategy="steps", logging_steps=1, logging_nan_inf_filter=False,  # a NaN is logged as one
        eval_strategy="epoch" if job.val_rows else "no",
        save_strategy="steps", save_steps=params.save_steps, save_total_limit=2, report_to="none", disable_tqdm=True,
        use_cpu=job.device == "cpu", bf16=job.bf16, fp16=False, gradient_checkpointing=False,
        dataloader_num_workers=0, max_length=params.max_length, dataset_num_proc=None)


def last_checkpoint(job: Job) -> str | None:
    """The newest *complete* ``checkpoint-N`` folder, or None. transformers writes a checkpoint in place and its
    ``trainer_state.json`` last, and its own ``get_last_checkpoint`` picks a folder a ``kill -9`` left half
    written; here such folders are removed and the newest complete one is taken."""
    if not job.checkpoints.is_dir():
        return None
    found = sorted((int(m.group(1)), p) for p in job.checkpoints.iterdir()
                   if p.is_dir() and (m := re.fullmatch(r"checkpoint-(\d+)", p.name)))
    for _, path in reversed(found):
        if _complete_state(path / "trainer_state.json"):
            return str(path)
        shutil.rmtree(path, ignore_errors=True)
    return None


def _complete_state(path: Path) -> bool:
    """A ``kill -9`` while transformers writes ``trainer_state.json`` leaves it empty or cut: only one that parses
    marks a complete checkpoint."""
    import json

    try:
        return isinstance(json.loads(path.read_text()), dict)
    except (OSError, ValueError):
        return False


def quiet_libraries() -> None:
    """datasets' and transformers' own progress bars and chatter off: the run shows its own progress."""
    import warnings

    import datasets
    from transformers.utils import logging as hf_logging

    datasets.disable_progress_bars()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
    warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*")


__all__ = ["Job", "CHECKPOINTS", "resolve_device", "resolve_bf16", "check_packing", "load_tokenizer", "load_model",
           "lora_config", "training_arguments", "last_checkpoint", "quiet_libraries"]
