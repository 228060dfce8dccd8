"""``ladder distill --mode logits``: the student learns the teacher's next-token distributions on the kept teacher
answers, not only their tokens.

TRL does the work: ``trl.experimental.gkd.GKDTrainer`` (an ``SFTTrainer``) loads and prepares the teacher next
to the student, collates prompt and completion ids (``DataCollatorForChatML``), generates the student's own
answers for a ``--lmbda`` share of the steps (on-policy, GKD), and computes the generalized Jensen-Shannon
divergence (``--beta``: 0 forward KL, 1 reverse KL). ``trl.DistillationTrainer`` is on-policy only, so it does
not fit training on the teacher's filtered answers. Hand-written, because GKD lacks them:

- the loss: ``alpha * T^2 * D_beta(teacher_T || student_T) + (1 - alpha) * CE(answer)`` (Hinton et al.): GKD's own
  loss is the divergence alone and applies its ``temperature`` to sampling only;
- the refusal of a teacher/student pair that does not share a tokenizer (GKD compares vocabulary *sizes*;
  two tokenizers of one size with different ids would train on noise);
- the rows prepared by TRL's SFT preparation (so the label-mask, stop-token and first-step-loss guards of
  ``ladder finetune`` check them exactly as for SFT), and the KD and CE parts of the loss in the report.
"""

from __future__ import annotations

from pathlib import Path

from codeladder.errors import LadderError
from codeladder.transforms.finetune.config import Job, load_model, lora_config
from codeladder.transforms.finetune.config import training_arguments
from codeladder.transforms.finetune.data import sft_record, prepared_rows, to_dataset


def check_shared_tokenizer(teacher: str | Path, student: str | Path) -> dict:
    """The same token -> id map and the same number of logits, or one line saying how they differ."""
    from transformers import AutoConfig, AutoTokenizer

    from codeladder.models.integrity import require_model_folder

    require_model_folder(teacher, "--teacher")
    t_vocab = AutoTokenizer.from_pretrained(str(teacher)).get_vocab()
    s_vocab = AutoTokenizer.from_pretrained(str(student)).get_vocab()
    rows = [AutoConfig.from_pretrained(str(p)).get_text_config().vocab_size for p in (teacher, student)]
    differ = sum(1 for token, i in s_vocab.items() if t_vocab.get(token) != i) + len(set(t_vocab) - set(s_vocab))
    if differ or rows[0] != rows[1]:
        raise LadderError(f"--mode logits: the teacher and the student do not share a tokenizer ({len(t_vocab)} vs "
                          f"{len(s_vocab)} tokens, {differ} differ; {rows[0]} vs {rows[1]} logits), so their "
                          "next-token distributions cannot be compared id by id; use --mode sequence")
    return {"tokens": len(s_vocab), "logits": rows[1], "shared": True}


def _trainer_class():
    import torch
    from trl.experimental.gkd import GKDTrainer

    class LogitDistillTrainer(GKDTrainer):
        """GKD with the answers' cross-entropy mixed in (``alpha``) and the temperature applied to the loss."""

        def __init__(self, *args, alpha: float, kd_temperature: float, **kwargs):
            super().__init__(*args, **kwargs)
            self.alpha, self.kd_temperature = alpha, kd_temperature

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            out = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                        labels=inputs["labels"], num_items_in_batch=num_items_in_batch)
            self.teacher_model.eval()
            with torch.no_grad():
                teacher = self.teacher_model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
            t = self.kd_temperature
            kd = self.generalized_jsd_loss(out.logits[:, :-1, :], teacher.logits[:, :-1, :], inputs["labels"][:, 1:],
                                           beta=self.beta, temperature=t, num_items_in_batch=num_items_in_batch)
            kd = kd * t * t  # keeps the soft-target gradients on the scale of the hard ones (Hinton et al.)
            mode = "train" if model.training else "eval"
            self._metrics[mode]["kd_loss"].append(float(kd.detach()))  # SFTTrainer.log averages and logs these
            self._metrics[mode]["ce_loss"].append(float(out.loss.detach()))
            if mode == "train":
                self._total_train_tokens += int(inputs["attention_mask"].sum())
                self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
            loss = self.alpha * kd + (1 - self.alpha) * out.loss
            return (loss, out) if return_outputs else loss

    return LogitDistillTrainer


def _prepared_rows(collator):
    """TRL's ChatML collator takes tokenized rows with a ``completion_mask`` (where the answer starts); TRL's SFT
    preparation leaves ``labels`` instead, so the mask is rebuilt from them (and the raw prompt, which the
    collator would read first, is dropped)."""

    def collate(examples: list[dict]):
        return collator([{"input_ids": e["input_ids"], "prompt": "",
                          "completion_mask": [int(label != -100) for label in e["labels"]]} for e in examples])

    return collate


def _quiet_experimental() -> None:
    """GKD lives in ``trl.experimental`` (FACTS: the stable DistillationTrainer is on-policy only); its import
    warning says so on every run."""
    import os

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")


def build_trainer(job: Job, teacher: str | Path, alpha: float, temperature: float, lmbda: float, beta: float,
                  max_new_tokens: int):
    _quiet_experimental()
    import torch
    from transformers import AutoModelForCausalLM
    from trl.experimental.gkd import GKDConfig
    from trl.experimental.utils import DataCollatorForChatML
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from codeladder.transforms.finetune.meter import quiet_trainer
    from codeladder.transforms.finetune.stopper import training_callbacks
    from codeladder.transforms.finetune.sft import run_guards

    params = job.params
    tokenizer, chat, train, val = prepared_rows(job, sft_record)
    model = load_model(job)
    place = {"": job.device if job.device != "cuda" else 0}
    teacher_model = AutoModelForCausalLM.from_pretrained(str(teacher), device_map=place,
                                                         dtype=torch.bfloat16 if job.bf16 else torch.float32)
    peft_config, expected = lora_config(model, params) if params.method != "full" else (None, None)
    args = GKDConfig(**training_arguments(job), packing=False, completion_only_loss=True, temperature=temperature,
                     lmbda=lmbda, beta=beta, max_new_tokens=max_new_tokens, disable_dropout=False)
    cls = _trainer_class()
    collator = DataCollatorForChatML(tokenizer=tokenizer, max_length=params.max_length)
    trainer = cls(model=model, teacher_model=teacher_model, args=args, train_dataset=to_dataset(train),
                  eval_dataset=to_dataset(val), processing_class=tokenizer, peft_config=peft_config,
                  callbacks=training_callbacks(job), data_collator=_prepared_rows(collator), alpha=alpha,
                  kd_temperature=temperature)
    # GKD skips TRL's dataset preparation (its collator templates raw rows); prepared rows are what the guards
    # check, and what the collator then takes as they are.
    trainer.train_dataset = trainer._prepare_dataset(to_dataset(train), tokenizer, args, False, None, "train")
    if val:
        trainer.eval_dataset = trainer._prepare_dataset(to_dataset(val), tokenizer, args, False, None, "eval")
    quiet_trainer(trainer)
    run_guards(job, trainer, tokenizer, train, expected,
               collator=DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id))
    return trainer


def _rounded(value):
    return None if value is None else round(value, 5)


def kd_steps(history: list[dict]) -> list[dict]:
    return [{"step": e["step"], "loss": round(e["loss"], 5), "kd_loss": _rounded(e.get("kd_loss")),
             "ce_loss": _rounded(e.get("ce_loss"))}
            for e in history if "loss" in e and "train_runtime" not in e]


def logit_trainer(teacher: str | Path, alpha: float, temperature: float, lmbda: float, beta: float,
                  max_new_tokens: int):
    """A ``Job -> trainer`` function for :func:`codeladder.transforms.finetune.run.finetune`."""

    def train(job: Job):
        from codeladder.transforms.finetune.sft import train_built

        trainer = train_built(job, build_trainer(job, teacher, alpha, temperature, lmbda, beta, max_new_tokens))
        job.report_extra["distill_logits"] = {
            "teacher": str(teacher), "alpha": alpha, "temperature": temperature, "lmbda": lmbda, "beta": beta,
            "loss": "alpha * T^2 * generalized JSD(teacher_T, student_T; beta) + (1 - alpha) * cross-entropy",
            "steps": kd_steps(trainer.state.log_history)}
        return trainer

    return train


__all__ = ["check_shared_tokenizer", "build_trainer", "logit_trainer", "kd_steps"]
