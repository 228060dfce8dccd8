"""``--method dpo``: direct preference optimisation on TRL's ``DPOTrainer`` with a LoRA adapter.

TRL does the work: the prompt/chosen/rejected tokenization (through the chat template for conversational
rows), the DPO losses (``--loss-type``, ``--beta``) and the per-step ``rewards/margins`` and
``rewards/accuracies`` metrics. With a ``peft_config`` and ``ref_model=None`` TRL uses the base with the
adapter disabled as the reference, so no second model is held in memory. Hand-written: the target check
and adapted-module count (:mod:`.guards`), and, after training, the check that the policy moved off the
reference at all (a loss stuck at ln 2 with zero margins is an error).
"""

from __future__ import annotations

from codeladder.transforms.finetune import guards
from codeladder.transforms.finetune.config import (Job, load_model, lora_config,
                                                   training_arguments)
from codeladder.transforms.finetune.data import dpo_record, prepared_rows, to_dataset
from codeladder.transforms.finetune.meter import quiet_trainer
from codeladder.transforms.finetune.stopper import training_callbacks
from codeladder.transforms.finetune.report import say


def build_trainer(job: Job):
    from trl import DPOConfig, DPOTrainer

    params = job.params
    tokenizer, chat, train, val = prepared_rows(job, dpo_record)
    model = load_model(job)
    peft_config, expected = lora_config(model, params)
    args = DPOConfig(**training_arguments(job), beta=params.beta, loss_type=[params.loss_type])
    trainer = DPOTrainer(model=model, ref_model=None, args=args, train_dataset=to_dataset(train),
                         eval_dataset=to_dataset(val), processing_class=tokenizer, peft_config=peft_config,
                         callbacks=training_callbacks(job))
    quiet_trainer(trainer)
    job.findings.adapter = guards.count_adapted(trainer.model, expected)
    say(f"adapter: {job.findings.adapter['modules']} modules adapted; reference = the base, adapter disabled",
        job.show)
    return trainer


def train_dpo(job: Job):
    from codeladder.transforms.finetune.sft import train_built

    return train_built(job, build_trainer(job))


__all__ = ["build_trainer", "train_dpo"]
