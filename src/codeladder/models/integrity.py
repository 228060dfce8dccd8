"""A model folder's integrity, checked before anything loads it: headers only, no weights read.

transformers fills tensors a checkpoint lacks with random values and ignores ones it does not
expect, so a folder whose weights do not match its config would be evaluated, merged or exported
as if it were fine. Every verb that loads a model calls :func:`require_model_folder` first: it
checks ``config.json`` (valid JSON, a supported and consistent ``model_type``/``architectures``),
the tokenizer files (present, parseable, ids within the embedding), and every safetensors file
(header, size, tensor names and shapes against the config), and raises one :class:`LadderError`
line naming the file and the fix.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from codeladder.errors import LadderError
from codeladder.models.arch import ARCHITECTURES, LM_HEAD, head_is_stored, require_arch, tied_head
# Extra tensors bitsandbytes stores beside a quantized weight.
QUANT_STATE_MARKERS = (".absmax", ".quant_map", ".quant_state", ".nested_absmax", ".nested_quant_map", ".SCB",
                       ".weight_format")
IGNORED_SUFFIXES = (".rotary_emb.inv_freq",)  # buffers older checkpoints store; transformers recomputes them
TOKENIZER_MARKERS = ("tokenizer.json", "tokenizer.model", "vocab.json")
JSON_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                        "vocab.json")
POSITIVE_FIELDS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size", "intermediate_size")
TensorHeaders = dict[str, tuple[tuple[int, ...], str]]


def read_json_file(path: Path, fix: str) -> object:
    """A JSON file's content, or one line naming the file and ``fix``."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LadderError(f"{path}: missing; {fix}") from None
    except OSError as exc:
        raise LadderError(f"{path}: cannot read it ({exc.strerror or exc}); {fix}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise LadderError(f"{path}: not valid JSON ({str(exc).splitlines()[0][:120]}); {fix}") from None


def read_config(folder: Path) -> dict:
    """``config.json``, checked for what every loader relies on (defaults resolved as transformers does)."""
    path = folder / "config.json"
    if not path.is_file():
        raise LadderError(f"{folder}: not a model folder (no config.json); pass a folder written by "
                          "save_pretrained or `ladder import`")
    config = read_json_file(path, "restore it from the model's source")
    if not isinstance(config, dict):
        raise LadderError(f"{path}: expected a JSON object; restore it from the model's source")
    model_type = config.get("model_type")
    expected = require_arch(model_type, "load", f"{path}: model_type").hf_class
    architectures = config.get("architectures")
    if architectures is not None and architectures != [expected]:
        raise LadderError(f"{path}: architectures {architectures!r} do not match model_type {model_type!r} "
                          f"(expected [{expected!r}]); fix the config to describe these weights")
    _require_positive(path, config)
    _require_positive(path, full_config(folder, config))
    return config


def _require_positive(path: Path, config: dict) -> None:
    for name in POSITIVE_FIELDS:
        value = config.get(name, 1)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise LadderError(f"{path}: {name} = {value!r}; expected a positive integer")


def full_config(folder: Path, config: dict) -> dict:
    """``config`` (read from ``folder``) with transformers' defaults for what ``config.json`` leaves out
    (transformers saves only the values that differ from them)."""
    return _resolved(folder / "config.json", json.dumps(config, sort_keys=True))


@lru_cache(maxsize=32)
def _resolved(path: Path, config_text: str) -> dict:
    from transformers import CONFIG_MAPPING

    config = json.loads(config_text)
    try:
        full = CONFIG_MAPPING[config["model_type"]].from_dict(config).to_dict()
    except Exception as exc:  # transformers raises many types for an inconsistent config
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = (lines[-1] if lines else type(exc).__name__)[:200]  # the last line says what is wrong
        raise LadderError(f"{path}: transformers rejects it ({reason}); restore it from the model's source") from None
    return full


def _max_token_id(tokenizer: dict) -> int:
    vocab = (tokenizer.get("model") or {}).get("vocab")
    ids = [i for i in vocab.values() if isinstance(i, int)] if isinstance(vocab, dict) else []
    ids += [t.get("id") for t in tokenizer.get("added_tokens") or []
            if isinstance(t, dict) and isinstance(t.get("id"), int)]
    return max(ids, default=-1)


def require_tokenizer(folder: Path, vocab_size: int | None = None) -> None:
    """Tokenizer files present and parseable; with ``vocab_size``, every id within the embedding."""
    fix = "copy the tokenizer files of the model it was made from into it"
    if not any((folder / name).is_file() for name in TOKENIZER_MARKERS):
        raise LadderError(f"{folder}: no tokenizer (none of {', '.join(TOKENIZER_MARKERS)}); {fix}"
                          " (merge: --tokenizer-source DIR)")
    for name in JSON_TOKENIZER_FILES:
        if (folder / name).exists() and not isinstance(read_json_file(folder / name, fix), dict):
            raise LadderError(f"{folder / name}: expected a JSON object; {fix}")
    if (folder / "tokenizer.model").is_file() and (folder / "tokenizer.model").stat().st_size == 0:
        raise LadderError(f"{folder / 'tokenizer.model'}: empty; {fix}")
    if not (folder / "tokenizer.json").is_file():
        return
    tokenizer = read_json_file(folder / "tokenizer.json", fix)
    if not isinstance(tokenizer.get("model"), dict) or "type" not in tokenizer["model"]:
        raise LadderError(f"{folder / 'tokenizer.json'}: has no tokenizer model (a 'model' with a 'type'); {fix}")
    highest = _max_token_id(tokenizer)
    if vocab_size is not None and highest >= vocab_size:
        raise LadderError(f"{folder / 'tokenizer.json'}: token id {highest} does not fit the embedding's {vocab_size} "
                          "rows (config.json vocab_size): the tokenizer belongs to another model")


def stored_tensors(folder: Path) -> TensorHeaders:
    """Name -> (shape, safetensors dtype) over every weight file, from the headers (sizes checked)."""
    from codeladder.models.lazy import read_header, weight_files

    return {name: (info.shape, info.dtype) for path in weight_files(folder)
            for name, info in read_header(path).items()}


def _layer_shapes(config: dict, layer: int) -> dict[str, tuple[int, ...]]:
    arch, hidden = ARCHITECTURES[config["model_type"]], config["hidden_size"]
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or hidden // heads
    inter = config["intermediate_size"]
    prefix = f"model.layers.{layer}."
    attention_bias = arch.optional_attention_bias and bool(config.get("attention_bias"))
    qkv_bias = arch.qkv_bias or attention_bias  # Qwen2: q/k/v always have a bias, o_proj never
    mlp_bias = arch.optional_mlp_bias and bool(config.get("mlp_bias"))
    outputs = {"q_proj": heads * head_dim, "k_proj": kv_heads * head_dim, "v_proj": kv_heads * head_dim}
    shapes = {f"{prefix}input_layernorm.weight": (hidden,), f"{prefix}post_attention_layernorm.weight": (hidden,),
              f"{prefix}self_attn.o_proj.weight": (hidden, heads * head_dim)}
    for name, rows in outputs.items():
        shapes[f"{prefix}self_attn.{name}.weight"] = (rows, hidden)
        if qkv_bias:
            shapes[f"{prefix}self_attn.{name}.bias"] = (rows,)
    if attention_bias:
        shapes[f"{prefix}self_attn.o_proj.bias"] = (hidden,)
    if arch.qk_norm:
        shapes.update({f"{prefix}self_attn.{norm}.weight": (head_dim,) for norm in ("q_norm", "k_norm")})
    for name, shape in (("gate_proj", (inter, hidden)), ("up_proj", (inter, hidden)), ("down_proj", (hidden, inter))):
        shapes[f"{prefix}mlp.{name}.weight"] = shape
        if mlp_bias:
            shapes[f"{prefix}mlp.{name}.bias"] = shape[:1]
    return shapes


def expected_tensors(folder: Path, config: dict) -> tuple[dict[str, tuple[int, ...]], bool]:
    """The tensors (name -> shape) the config's model has, and whether lm_head is tied to the embedding.
    Written out for the supported (Llama-layout) architectures, so no model code is imported;
    tests compare it with transformers' own model built on the meta device."""
    full = full_config(folder, config)
    hidden, vocab = full["hidden_size"], full["vocab_size"]
    shapes = {"model.embed_tokens.weight": (vocab, hidden)}
    for layer in range(full["num_hidden_layers"]):
        shapes.update(_layer_shapes(full, layer))
    shapes.update({"model.norm.weight": (hidden,), LM_HEAD: (vocab, hidden)})
    return shapes, tied_head(full)


def tensor_problems(expected: dict[str, tuple[int, ...]], stored: TensorHeaders, tied: bool,
                    quantized: bool) -> list[str]:
    """What differs between the config's tensors and the stored ones (empty when they match)."""
    kept = {n: v for n, v in stored.items() if not n.endswith(IGNORED_SUFFIXES)
            and not (quantized and any(m in n for m in QUANT_STATE_MARKERS))}
    packed = {n for n, (_, dtype) in kept.items() if quantized and dtype in ("U8", "I8")}
    missing = [n for n in expected if n not in kept and head_is_stored(n, tied)]
    unexpected = [n for n in kept if n not in expected]
    wrong = [f"{n} {kept[n][0]} != {s}" for n, s in expected.items()
             if n in kept and n not in packed and kept[n][0] != s]
    return (([f"missing {len(missing)} tensor(s), e.g. {missing[:3]}"] if missing else [])
            + ([f"unexpected {len(unexpected)} tensor(s), e.g. {unexpected[:3]}"] if unexpected else [])
            + ([f"wrong shape {wrong[:2]}"] if wrong else []))


def require_weights(folder: Path, config: dict) -> TensorHeaders:
    stored = stored_tensors(folder)
    expected, tied = expected_tensors(folder, config)
    problems = tensor_problems(expected, stored, tied, config.get("quantization_config") is not None)
    if problems:
        raise LadderError(f"{folder}: the weights do not match config.json ({'; '.join(problems)}); loading would "
                          "fill the gaps with random values: restore the missing shards or the model's own config")
    return stored


def require_model_folder(path: str | Path, role: str = "model", tokenizer: bool = True) -> dict:
    """Check a model folder before loading it (config, tokenizer unless ``tokenizer=False``, weights);
    returns its config. ``role`` names it in the message (e.g. ``--draft``)."""
    folder = Path(path)
    if not folder.exists():
        raise LadderError(f"{role} {folder}: no such model folder")
    if not folder.is_dir():
        hint = " (a .gguf file goes to the llamacpp backend)" if folder.suffix == ".gguf" else ""
        raise LadderError(f"{role} {folder}: is a file, not a model folder{hint}")
    config = read_config(folder)
    if tokenizer:
        require_tokenizer(folder, full_config(folder, config)["vocab_size"])
    require_weights(folder, config)
    return config


def require_gguf_file(path: str | Path, role: str = "model") -> Path:
    """A GGUF file: present, a file, starting with the GGUF magic."""
    from codeladder.models.output import GGUF_MAGIC

    path = Path(path)
    if not path.is_file():
        raise LadderError(f"{role} {path}: no such GGUF file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        raise LadderError(f"{path}: not a GGUF file ({'empty' if not magic else 'wrong magic'}); "
                          "export it again or download it again")
    return path
