"""Tiny models for tests and demos, built offline in seconds: nothing is downloaded.

A byte-level BPE tokenizer is trained on the standard library's own Python files (so code,
whitespace included, round-trips), and a random-init Qwen2 or Llama model is saved next to it
as a normal Hugging Face folder with a ChatML chat template.
"""

from __future__ import annotations

import json
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Optional

from pydantic import ConfigDict

from codeladder.errors import LadderError
from codeladder.models.arch import (ARCHITECTURES, DTYPES, TIE_KEY, byte_level_pre_tokenizer, parse_dtype, require_arch,
                                    stored_items, supported, torch_dtype)
from codeladder.params import VerbParams, option

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MIN_VOCAB = 256 + len(SPECIAL_TOKENS)  # the byte alphabet and the special tokens
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class TinySpec(VerbParams):
    """The shape of a tiny random-init model."""

    model_config = ConfigDict(frozen=True)
    arch: str = option("qwen2", "architecture", choices=tuple(supported("tiny")))
    seed: int = option(0, "random-init seed", ge=0)
    hidden: int = option(64, "hidden size", ge=1)
    layers: int = option(2, "transformer layers", ge=1)
    heads: int = option(4, "attention heads", ge=1)
    kv_heads: int = option(2, "key/value heads (grouped-query attention)", ge=1)
    intermediate: Optional[int] = option(None, "MLP size (default 2 x hidden)", ge=1)
    vocab: int = option(4096, "BPE vocabulary size (trained on Python source)", ge=MIN_VOCAB)
    max_positions: int = option(2048, "context length in the config", ge=2)
    pad_vocab_to: Optional[int] = option(None, "embedding rows beyond the tokenizer, as real models have "
                                               "(Qwen2.5: 151936)", ge=1)
    dtype: str = option("float32", "float32, bfloat16 or float16", choices=DTYPES)
    tie_embeddings: bool = option(False, "share the embedding and lm_head (Qwen2.5-Coder-0.5B/1.5B do)")

    def parameter_count(self) -> int:
        head_dim = self.hidden // self.heads
        inter = self.intermediate or 2 * self.hidden
        attn = self.hidden * head_dim * (self.heads * 2 + self.kv_heads * 2)
        if ARCHITECTURES[self.arch].qkv_bias:
            attn += head_dim * (self.heads + 2 * self.kv_heads)
        mlp = 3 * self.hidden * inter
        rows = max(self.vocab, self.pad_vocab_to or 0)
        embeddings = rows * self.hidden * (1 if self.tie_embeddings else 2)
        return embeddings + self.layers * (attn + mlp + 2 * self.hidden) + self.hidden


def python_source_files(limit: int = 400) -> list[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in stdlib.glob("*.py") if p.stat().st_size < 200_000)
    if not files:
        raise LadderError(f"{stdlib}: no Python source files to train the tokenizer on")
    return [str(p) for p in files[:limit]]


def build_tokenizer(vocab: int = 4096):
    """A byte-level BPE trained on Python source, wrapped as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    # Qwen2's split, so llama.cpp ("qwen2" pre-tokenizer) and transformers agree on every token.
    core.pre_tokenizer = byte_level_pre_tokenizer("qwen2")
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    core.train(python_source_files(), trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                        bos_token=None, unk_token=None)
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def build_config(spec: TinySpec, tokenizer):
    from transformers import LlamaConfig, Qwen2Config

    common = dict(vocab_size=max(len(tokenizer), spec.pad_vocab_to or 0), hidden_size=spec.hidden,
                  num_hidden_layers=spec.layers,
                  num_attention_heads=spec.heads, num_key_value_heads=spec.kv_heads,
                  intermediate_size=spec.intermediate or 2 * spec.hidden, max_position_embeddings=spec.max_positions,
                  eos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
                  pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"), **{TIE_KEY: spec.tie_embeddings})
    if spec.arch == "qwen2":
        return Qwen2Config(**common)
    return LlamaConfig(**common, bos_token_id=None)


@dataclass
class TinyReport:
    """What ``ladder tiny`` built (``report.json``)."""

    output: str
    arch: str
    parameters: int


def validate_spec(spec: TinySpec) -> None:
    """Every size in range, and consistent, before anything is built."""
    require_arch(spec.arch, "tiny", "--arch")
    parse_dtype(spec.dtype, allow_auto=False)
    sizes = {"--hidden": spec.hidden, "--layers": spec.layers, "--heads": spec.heads, "--kv-heads": spec.kv_heads,
             "--intermediate": spec.intermediate, "--pad-vocab-to": spec.pad_vocab_to}
    for flag, value in sizes.items():
        if value is not None and value < 1:
            raise LadderError(f"{flag} {value}: must be at least 1")
    if spec.vocab < MIN_VOCAB:
        raise LadderError(f"--vocab {spec.vocab}: must be at least {MIN_VOCAB} (256 bytes + the special tokens)")
    if spec.max_positions < 2:
        raise LadderError(f"max_positions {spec.max_positions}: must be at least 2")
    if spec.hidden % spec.heads or spec.heads % spec.kv_heads or (spec.hidden // spec.heads) % 2:
        raise LadderError(f"--hidden {spec.hidden} / --heads {spec.heads} / --kv-heads {spec.kv_heads}: hidden must "
                          "divide by heads into an even head size, and heads by kv-heads")


class TinyParams(TinySpec):
    """Build a tiny random-init model with a BPE tokenizer trained on Python source, offline, in seconds."""

    verb: ClassVar[str] = "tiny"
    output: Path = option(..., "folder to write the model into", argument=True)


def tiny(params: TinyParams) -> Path:
    """``ladder tiny``: the model folder written."""
    return build_tiny_model(params.output, TinySpec(**params.model_dump(exclude={"output"})))


def build_tiny_model(out_dir: str | Path, spec: TinySpec = TinySpec()) -> Path:
    """A random-init model and its tokenizer, written through the checkpoint writer (lineage: ``tiny``)."""
    import tempfile

    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig
    from transformers.utils import logging as hf_logging

    from codeladder.models.checkpoint import CheckpointWriter

    hf_logging.disable_progress_bar()
    validate_spec(spec)
    tokenizer = build_tokenizer(spec.vocab)
    config = build_config(spec, tokenizer)
    torch.manual_seed(spec.seed)
    dtype = parse_dtype(spec.dtype, allow_auto=False)
    model = AutoModelForCausalLM.from_config(config).to(torch_dtype(dtype))
    model.config.architectures = [type(model).__name__]
    model.config.dtype = dtype
    generation = GenerationConfig(eos_token_id=[config.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")],
                                  pad_token_id=config.pad_token_id)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        generation.save_pretrained(tmp)
        with CheckpointWriter(out_dir, tokenizer_source=Path(tmp), config=json.loads(model.config.to_json_string()),
                              origin="ladder tiny") as writer:
            for name, tensor in stored_items(model.state_dict().items(), config.to_dict()):
                writer.add(name, tensor)
            return writer.finish("tiny", spec.model_dump(), report=TinyReport(str(out_dir), spec.arch,
                                                                         spec.parameter_count()))
