"""``ladder finetune``: the ``train`` registry (``ladder ls train``) and the verb.

Each method is one registry entry whose factory (``"module:function"``, so listing never imports torch or
TRL) takes a :class:`~codeladder.transforms.finetune.config.Job` and returns the finished trainer:
``lora``/``qlora``/``full`` are TRL's SFTTrainer (:mod:`.sft`), ``dpo`` TRL's DPOTrainer (:mod:`.dpo`).
Guards (:mod:`.guards`), data (:mod:`.data`), outputs and report are shared by all of them.
"""

from __future__ import annotations

from codeladder.registry import new_registry
from codeladder.transforms.finetune.params import FinetuneParams

TRAIN = new_registry("train")
_HERE = "codeladder.transforms.finetune"
TRAIN.add("lora", "LoRA adapter on the frozen base (PEFT), SFT on prompt/completion or chat rows (TRL)",
          f"{_HERE}.sft:train_sft", reference="https://arxiv.org/abs/2106.09685", params=FinetuneParams)
TRAIN.add("qlora", "LoRA on a bitsandbytes NF4 4-bit base (works on CPU too), SFT (TRL)",
          f"{_HERE}.sft:train_sft", reference="https://arxiv.org/abs/2305.14314", params=FinetuneParams)
TRAIN.add("full", "every weight trained, SFT (TRL); writes OUT/merged/ only",
          f"{_HERE}.sft:train_sft", reference="https://huggingface.co/docs/trl/sft_trainer", params=FinetuneParams)
TRAIN.add("dpo", "direct preference optimisation with a LoRA; the adapter-disabled base is the reference (TRL)",
          f"{_HERE}.dpo:train_dpo", reference="https://arxiv.org/abs/2305.18290", params=FinetuneParams)


def finetune_verb(params: FinetuneParams) -> dict:
    from codeladder.transforms.finetune.run import finetune

    return finetune(params, show_progress=True)


def __getattr__(name: str):
    """The runner (it imports torch and TRL) is loaded on first use, not when the registry is listed."""
    if name == "finetune":
        from codeladder.transforms.finetune.run import finetune

        return finetune
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["TRAIN", "FinetuneParams", "finetune_verb", "finetune"]
