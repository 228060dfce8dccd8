"""Architecture facts, written once: which architectures each capability supports, the tied-``lm_head``
rule, the pre-tokenizer regexes, and the one dtype parser.

Hand-written on purpose: these are facts about other projects (transformers' class names and defaults,
llama.cpp's architecture and pre-tokenizer names) that no import can give us without loading torch or
llama.cpp, and every module that reads, writes, checks or exports a model must agree on them. A new
architecture is one row in :data:`ARCHITECTURES`; a capability that does not support it says so there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from codeladder.errors import LadderError

LM_HEAD = "lm_head.weight"
TIE_KEY = "tie_word_embeddings"


@dataclass(frozen=True)
class Arch:
    """One architecture: its transformers class, and what each capability does with it."""

    model_type: str
    hf_class: str  # config.json "architectures" must be [hf_class]
    gguf: str | None = None  # llama.cpp's architecture (gguf.MODEL_ARCH member) or None: GGUF export refuses it
    rotary_permute: bool = False  # llama.cpp's llama architecture wants q/k rows in its rotary layout
    tiny: bool = False  # `ladder tiny --arch` builds it
    qkv_bias: bool = False  # q/k/v always carry a bias (Qwen2), whatever attention_bias says
    optional_attention_bias: bool = False  # config "attention_bias" adds q/k/v/o biases
    optional_mlp_bias: bool = False  # config "mlp_bias" adds MLP biases
    qk_norm: bool = False  # per-head RMSNorm on q and k (Qwen3)


# Every architecture codeladder loads (integrity, check, import, merge, prune, quantize, eval). Mistral
# loads everywhere but is not exported to GGUF: llama.cpp converts it as "llama", and no test of ours has
# compared its logits there yet.
ARCHITECTURES: dict[str, Arch] = {a.model_type: a for a in (
    Arch("qwen2", "Qwen2ForCausalLM", gguf="QWEN2", tiny=True, qkv_bias=True),
    Arch("llama", "LlamaForCausalLM", gguf="LLAMA", rotary_permute=True, tiny=True, optional_attention_bias=True,
         optional_mlp_bias=True),
    Arch("qwen3", "Qwen3ForCausalLM", gguf="QWEN3", optional_attention_bias=True, qk_norm=True),
    Arch("mistral", "MistralForCausalLM"),
)}
CAPABILITIES = {"load": lambda a: True, "gguf": lambda a: a.gguf is not None, "tiny": lambda a: a.tiny}


def supported(capability: str = "load") -> list[str]:
    """The model types a capability (``load``, ``gguf``, ``tiny``) supports."""
    return [name for name, arch in ARCHITECTURES.items() if CAPABILITIES[capability](arch)]


def require_arch(model_type: object, capability: str = "load", where: str = "model_type") -> Arch:
    """The architecture, or one line naming what this capability supports."""
    arch = ARCHITECTURES.get(model_type) if isinstance(model_type, str) else None
    if arch is None or not CAPABILITIES[capability](arch):
        verb = {"load": "is not supported; codeladder loads", "gguf": "cannot be exported to GGUF; supported:",
                "tiny": "cannot be built by ladder tiny; choose"}[capability]
        raise LadderError(f"{where} {model_type!r} {verb} {', '.join(supported(capability))}")
    return arch


# --- the tied lm_head rule -------------------------------------------------------------------------------

def tied_head(config: dict) -> bool:
    """Whether ``lm_head`` shares the embedding's weights (transformers' default for every supported
    architecture is untied)."""
    return bool(config.get(TIE_KEY, False))


def head_is_stored(name: str, config: dict | bool) -> bool:
    """False for the one tensor a tied model does not store: ``lm_head.weight``. ``config`` is the
    model's config, or already whether its head is tied."""
    tied = config if isinstance(config, bool) else tied_head(config)
    return not (name == LM_HEAD and tied)


def stored_items(items: Iterable[tuple[str, object]], config: dict) -> Iterator[tuple[str, object]]:
    """(name, tensor) pairs of a state dict without the tied ``lm_head`` copy."""
    return ((name, tensor) for name, tensor in items if head_is_stored(name, config))


# --- pre-tokenizers --------------------------------------------------------------------------------------

# The split regexes of the byte-level BPE pre-tokenizers llama.cpp knows by name (``tokenizer.ggml.pre``), each
# a sequence of isolating splits applied in order, as llama.cpp's ``llama-vocab.cpp`` lists them.
# ``llama-bpe`` first: Qwen2's regex differs only in ``\p{N}`` (one digit) where Llama 3 has ``\p{N}{1,3}``.
# ``smollm`` (= ``starcoder``): every digit on its own, then GPT-2's regex (HF: ``Digits`` + ``ByteLevel``).
GPT2_REGEX = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
PRE_TOKENIZERS = {
    "llama-bpe": (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+",),
    "qwen2": (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
              r"|\s+(?!\S)|\s+",),
    "smollm": (r"\p{N}", GPT2_REGEX),
    "starcoder": (r"\p{N}", GPT2_REGEX),
    "gpt2": (GPT2_REGEX,),
}
DEFAULT_PRE_TOKENIZER = "gpt2"  # llama.cpp's byte-level default when no regex is recognised


def byte_level_pre_tokenizer(name: str):
    """The ``tokenizers`` pre-tokenizer that splits as llama.cpp's ``name`` does (unknown names: GPT-2's)."""
    from tokenizers import Regex, pre_tokenizers

    splits = [pre_tokenizers.Split(Regex(regex), behavior="isolated")
              for regex in PRE_TOKENIZERS.get(name, PRE_TOKENIZERS[DEFAULT_PRE_TOKENIZER])]
    return pre_tokenizers.Sequence([*splits, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])


def _digits_then_gpt2(pre: dict) -> bool:
    """HF's spelling of ``smollm``/``starcoder``: single digits split, then GPT-2's byte-level regex."""
    steps = pre.get("pretokenizers") or []
    kinds = [(step.get("type"), step.get("individual_digits"), step.get("use_regex")) for step in steps]
    return kinds[:1] == [("Digits", True, None)] and ("ByteLevel", None, True) in kinds[1:]


def detect_pre_tokenizer(tokenizer_json: dict) -> str:
    """llama.cpp's pre-tokenizer name for a ``tokenizer.json`` (its regexes recognised)."""
    import json

    pre = tokenizer_json.get("pre_tokenizer") or {}
    text = json.dumps(pre)
    if _digits_then_gpt2(pre) or all(json.dumps(r)[1:-1] in text for r in PRE_TOKENIZERS["smollm"]):
        return "smollm"
    for name in ("llama-bpe", "qwen2"):
        signature = PRE_TOKENIZERS[name][0].split("| ?")[0]  # up to the digits rule, where they differ
        if json.dumps(signature)[1:-1] in text:
            return name
    return DEFAULT_PRE_TOKENIZER


# --- dtypes ----------------------------------------------------------------------------------------------

DTYPES = ("float32", "float16", "bfloat16")
DTYPE_ALIASES = {"fp32": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16"}
AUTO = "auto"


def parse_dtype(name: str, flag: str = "--dtype", allow_auto: bool = True) -> str:
    """A dtype name (aliases accepted) -> its canonical name, or ``auto``; anything else is one line."""
    canonical = DTYPE_ALIASES.get(name, name)
    if canonical in DTYPES or (allow_auto and canonical == AUTO):
        return canonical
    choices = (*DTYPES, *((AUTO,) if allow_auto else ()))
    raise LadderError(f"{flag} {name}: choose one of {', '.join(choices)}")


def resolve_dtype(name: str, stored: str | None = None, device: str | None = None, flag: str = "--dtype") -> str:
    """The one meaning of ``auto``: the dtype the weights are stored in, computed where the device can.

    ``stored`` is the checkpoint's floating dtype (None when it has none, e.g. a quantized GGUF: float32).
    ``device`` is None when nothing is computed (import, export: the stored dtype is kept); on a CPU,
    half-precision weights are computed in float32 (CPU half matmuls are slow and lose precision)."""
    chosen = parse_dtype(name, flag)
    if chosen != AUTO:
        return chosen
    kept = stored if stored in DTYPES else "float32"
    if device is not None and not str(device).startswith(("cuda", "mps")):
        return "float32"
    return kept


def torch_dtype(name: str):
    """The torch dtype of a canonical name (imports torch only here)."""
    import torch

    return getattr(torch, parse_dtype(name, allow_auto=False))


__all__ = ["Arch", "ARCHITECTURES", "supported", "require_arch", "LM_HEAD", "TIE_KEY", "tied_head",
           "head_is_stored", "stored_items", "PRE_TOKENIZERS", "byte_level_pre_tokenizer", "detect_pre_tokenizer",
           "DTYPES", "parse_dtype",
           "resolve_dtype", "torch_dtype"]
