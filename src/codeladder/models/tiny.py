"""Tiny models for tests and demos, built offline in seconds: nothing is downloaded.

A byte-level BPE tokenizer is trained on the standard library's own Python files (so code,
whitespace included, round-trips), and a random-init Qwen2 or Llama model is saved next to it
as a normal Hugging Face folder with a ChatML chat template.
"""

from __future__ import annotations

import json
import sysconfig
from dataclasses import asdict, dataclass
from pathlib import Path

from codeladder.errors import LadderError

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Qwen2's pre-tokenizer split, so llama.cpp ("qwen2" pre-tokenizer) and transformers agree on every token.
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
               r"|\s+(?!\S)|\s+")
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class TinySpec:
    arch: str = "qwen2"
    seed: int = 0
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    intermediate: int | None = None
    vocab: int = 4096
    max_positions: int = 2048
    pad_vocab_to: int | None = None  # embedding rows beyond the tokenizer, as real models have (Qwen2.5: 151936)
    dtype: str = "float32"
    tie_embeddings: bool = False  # Qwen2.5-Coder-0.5B/1.5B tie them

    def parameter_count(self) -> int:
        head_dim = self.hidden // self.heads
        inter = self.intermediate or 2 * self.hidden
        attn = self.hidden * head_dim * (self.heads * 2 + self.kv_heads * 2)
        if self.arch == "qwen2":  # q/k/v biases
            attn += head_dim * (self.heads + 2 * self.kv_heads)
        mlp = 3 * self.hidden * inter
        rows = max(self.vocab, self.pad_vocab_to or 0)
        return rows * self.hidden * (1 if self.tie_embeddings else 2) + self.layers * (attn + mlp + 2 * self.hidden) + self.hidden


def python_source_files(limit: int = 400) -> list[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in stdlib.glob("*.py") if p.stat().st_size < 200_000)
    if not files:
        raise LadderError(f"{stdlib}: no Python source files to train the tokenizer on")
    return [str(p) for p in files[:limit]]


def build_tokenizer(vocab: int = 4096):
    """A byte-level BPE trained on Python source, wrapped as a transformers fast tokenizer."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
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

    common = dict(vocab_size=max(len(tokenizer), spec.pad_vocab_to or 0), hidden_size=spec.hidden, num_hidden_layers=spec.layers,
                  num_attention_heads=spec.heads, num_key_value_heads=spec.kv_heads,
                  intermediate_size=spec.intermediate or 2 * spec.hidden, max_position_embeddings=spec.max_positions,
                  eos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
                  pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"), tie_word_embeddings=spec.tie_embeddings)
    if spec.arch == "qwen2":
        return Qwen2Config(**common)
    return LlamaConfig(**common, bos_token_id=None)


MIN_VOCAB = 256 + len(SPECIAL_TOKENS)  # the byte alphabet and the special tokens


def validate_spec(spec: TinySpec) -> None:
    """Every size in range, and consistent, before anything is built."""
    if spec.arch not in ("qwen2", "llama"):
        raise LadderError(f"--arch {spec.arch}: choose qwen2 or llama")
    if spec.dtype not in ("float32", "bfloat16", "float16"):
        raise LadderError(f"--dtype {spec.dtype}: choose float32, bfloat16 or float16")
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
    model = AutoModelForCausalLM.from_config(config).to(getattr(torch, spec.dtype))
    model.config.architectures = [type(model).__name__]
    model.config.dtype = spec.dtype
    generation = GenerationConfig(eos_token_id=[config.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")],
                                  pad_token_id=config.pad_token_id)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        generation.save_pretrained(tmp)
        with CheckpointWriter(out_dir, tokenizer_source=Path(tmp), config=json.loads(model.config.to_json_string()),
                              origin="ladder tiny") as writer:
            for name, tensor in model.state_dict().items():
                if not (name == "lm_head.weight" and spec.tie_embeddings):
                    writer.add(name, tensor)
            return writer.finish("tiny", asdict(spec))
