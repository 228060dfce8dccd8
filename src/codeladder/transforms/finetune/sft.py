"""Supervised fine-tuning (``--method lora|qlora|full``) on TRL's ``SFTTrainer``.

TRL does the work: the chat template (conversational prompt/completion rows), completion-only labels,
truncation, the collator, the training loop with checkpoints and resume (transformers' ``Trainer``), and
PEFT wraps the model from the ``LoraConfig`` we pass. Hand-written around it (see :mod:`.guards`): the target
check and adapted-module count, the label-mask, stop-token and first-step-loss checks run on the trainer's
*prepared* rows before the first step, and the outputs and report (:mod:`.outputs`, :mod:`.report`).
"""

from __future__ import annotations

from codeladder.transforms.finetune import guards
from codeladder.transforms.finetune.config import (Job, last_checkpoint, load_model, lora_config,
                                                   training_arguments)
from codeladder.transforms.finetune.data import sft_record, prepared_rows, to_dataset
from codeladder.transforms.finetune.meter import quiet_trainer
from codeladder.transforms.finetune.stopper import training_callbacks
from codeladder.transforms.finetune.report import say, show_label_mask


def build_trainer(job: Job):
    """The SFTTrainer of a run, its prepared rows checked by the guards (before any step)."""
    from trl import SFTConfig, SFTTrainer

    params = job.params
    tokenizer, chat, train, val = prepared_rows(job, sft_record)
    model = load_model(job)
    peft_config, expected = lora_config(model, params) if params.method != "full" else (None, None)
    args = SFTConfig(**training_arguments(job), packing=params.packing, completion_only_loss=params.completion_only)
    trainer = SFTTrainer(model=model, args=args, train_dataset=to_dataset(train), eval_dataset=to_dataset(val),
                         processing_class=tokenizer, peft_config=peft_config, callbacks=training_callbacks(job))
    quiet_trainer(trainer)
    run_guards(job, trainer, tokenizer, train, expected)
    return trainer


def run_guards(job: Job, trainer, tokenizer, records: list[dict], expected: dict | None, collator=None) -> None:
    """The guards on a built trainer; ``collator`` batches prepared rows for the first-step loss (default: the
    trainer's own)."""
    findings, show = job.findings, job.show
    if expected is not None:
        findings.adapter = guards.count_adapted(trainer.model, expected)
        say(f"adapter: {findings.adapter['modules']} modules adapted "
            f"({', '.join(f'{k} x{v}' for k, v in findings.adapter['by_name'].items())})", show)
    findings.label_mask = guards.check_label_mask(trainer.train_dataset, records, tokenizer,
                                                  job.params.completion_only)
    first = findings.label_mask["first_example"]
    show_label_mask(first, show)
    first.pop("pieces")
    if findings.label_mask["rows_dropped"]:
        findings.warnings.append(f"{findings.label_mask['rows_dropped']} row(s) lost every supervised token to "
                                 f"--max-length and were dropped (lines {findings.label_mask['dropped_lines']})")
    findings.stop_token = guards.check_stop_token(first, trainer.train_dataset, tokenizer, trainer.model)
    if findings.stop_token.get("pad_equals_eos"):
        findings.warnings.append(findings.stop_token["note"])
    loss = guards.first_loss(trainer.model, collator or trainer.data_collator, trainer.train_dataset,
                             job.params.batch_size)
    findings.first_loss = guards.judge_first_loss(loss, trainer.model.config.vocab_size,
                                                  guards.is_random_init(job.params.base))
    say(f"first-step loss {loss:.3f} nats/token (ln vocab = {findings.first_loss['ln_vocab']:.3f})", show)
    if findings.first_loss.get("message"):
        findings.warnings.append(findings.first_loss["message"])
    for warning in findings.warnings:
        say(f"warning: {warning}", show)


def train_built(job: Job, trainer):
    """Train a built trainer, from the last checkpoint with ``--resume``; returns it (its model and
    ``state.log_history`` hold the results)."""
    resume = last_checkpoint(job) if job.params.resume else None
    if resume:
        say(f"resuming from {resume}", job.show)
    trainer.train(resume_from_checkpoint=resume)
    return trainer


def train_sft(job: Job):
    return train_built(job, build_trainer(job))


__all__ = ["build_trainer", "run_guards", "train_built", "train_sft"]
