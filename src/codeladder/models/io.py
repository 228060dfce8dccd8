"""``ladder import`` and ``ladder export --format safetensors``: every model written through the one writer.

HF folders are streamed tensor by tensor (any dtype in, ``--dtype`` out). GGUF files are
dequantized by transformers' GGUF loader; the tokenizer is rebuilt from the GGUF metadata
itself (tokens, merges, token types, the pre-tokenizer llama.cpp uses, special ids, chat
template), because transformers assumes one pre-tokenizer per architecture. Each writes a
``report.json`` (:class:`ConvertReport`); a GGUF's sidecar lineage, when it has one, is continued.
``--dtype auto`` keeps what is stored (:func:`codeladder.models.arch.resolve_dtype`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Optional

from pydantic import BeforeValidator

from codeladder.errors import LadderError
from codeladder.models.arch import (AUTO, DTYPE_ALIASES, DTYPES, byte_level_pre_tokenizer, parse_dtype, resolve_dtype,
                                    stored_items, torch_dtype)
from codeladder.models.checkpoint import CheckpointWriter, now
from codeladder.models.integrity import require_gguf_file, require_model_folder
from codeladder.models.lazy import weight_files
from codeladder.params import OUTPUT, VerbParams, iso_day, option


@dataclass
class ConvertReport:
    """What ``import`` and ``export --format safetensors`` wrote (``report.json``)."""

    source: str
    output: str
    input_format: str  # safetensors or gguf
    dtype: str  # auto keeps each tensor's stored dtype
    tensors: int = 0


def is_hub_id(source: str) -> bool:
    return not Path(source).exists() and source.count("/") == 1 and not source.startswith((".", "/"))


def convert_folder(source: Path, out: Path, dtype: str = "auto", stage: str = "import",
                   params: dict | None = None, training_cutoff: str | None = None) -> Path:
    """Stream an HF folder's tensors into a new checkpoint, converting floating tensors to ``dtype``."""
    from safetensors import safe_open

    dtype = parse_dtype(dtype)
    target = None if dtype == AUTO else torch_dtype(dtype)
    config = require_model_folder(source, "input")
    if target is not None:
        config["dtype"] = dtype
        config.pop("torch_dtype", None)
    report = ConvertReport(str(source), str(out), "safetensors", dtype)
    started = now()
    with CheckpointWriter(out, tokenizer_source=source, config=config, lineage_source=source,
                          inputs=[source], training_cutoff=training_cutoff) as writer:
        for path in weight_files(source):
            try:
                with safe_open(str(path), framework="pt") as f:
                    for name in f.keys():
                        tensor = f.get_tensor(name)
                        writer.add(name, tensor.to(target) if target is not None and tensor.is_floating_point()
                                   else tensor)
                        report.tensors += 1
            except Exception as exc:  # safetensors raises plain errors on truncated or corrupt files
                raise LadderError(f"{path}: cannot read the weights ({exc}); the file is truncated or corrupt"
                                  ) from None
        return writer.finish(stage, {"dtype": dtype, **(params or {})}, started_at=started, report=report)


def _gguf_field(reader, key: str, default=None):
    field = reader.fields.get(key)
    if field is None:
        return default
    values = [field.parts[i] for i in field.data]
    if field.types and field.types[0].name == "STRING":
        strings = [bytes(v).decode("utf-8", "replace") for v in values]
        return strings if field.types[0] != field.types[-1] or len(field.types) > 1 else strings[0]
    if field.types and field.types[0].name == "ARRAY":
        if field.types[-1].name == "STRING":
            return [bytes(v).decode("utf-8", "replace") for v in values]
        return [int(v[0]) for v in values]
    return values[0][0].item()


def tokenizer_from_gguf(path: Path):
    """Rebuild a transformers fast tokenizer from a GGUF file's ``tokenizer.ggml.*`` metadata."""
    import gguf
    from tokenizers import AddedToken, Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    try:
        reader = gguf.GGUFReader(str(path))
    except Exception as exc:  # gguf raises plain errors on truncated or corrupt files
        raise LadderError(f"{path}: cannot read this GGUF file ({str(exc).splitlines()[0][:160]}); it is truncated "
                          "or corrupt: export or download it again") from None
    if _gguf_field(reader, "tokenizer.ggml.model") != "gpt2":
        raise LadderError(f"{path}: only byte-level BPE (tokenizer.ggml.model = gpt2) tokenizers can be rebuilt")
    tokens = _gguf_field(reader, "tokenizer.ggml.tokens")
    types = _gguf_field(reader, "tokenizer.ggml.token_type", [1] * len(tokens))
    merges = [tuple(m.split(" ", 1)) for m in _gguf_field(reader, "tokenizer.ggml.merges", [])]
    pre = _gguf_field(reader, "tokenizer.ggml.pre", "gpt2")
    core = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges, ignore_merges=False))
    core.pre_tokenizer = byte_level_pre_tokenizer(pre)
    core.decoder = decoders.ByteLevel()
    control = [AddedToken(t, special=True, normalized=False) for t, kind in zip(tokens, types)
               if kind == gguf.TokenType.CONTROL]
    user = [AddedToken(t, special=False, normalized=False) for t, kind in zip(tokens, types)
            if kind == gguf.TokenType.USER_DEFINED]
    core.add_special_tokens(control)
    core.add_tokens(user)

    def token(key: str) -> str | None:
        index = _gguf_field(reader, f"tokenizer.ggml.{key}_token_id")
        return tokens[index] if index is not None and index < len(tokens) else None

    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token=token("eos"), bos_token=token("bos"),
                                        pad_token=token("padding") or token("eos"))
    template = _gguf_field(reader, "tokenizer.chat_template")
    if template:
        tokenizer.chat_template = template
    return tokenizer


def import_gguf(path: Path, out: Path, dtype: str = "float32", training_cutoff: str | None = None) -> Path:
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    name = resolve_dtype(dtype)  # a GGUF stores no torch dtype: auto is float32
    target = torch_dtype(name)
    require_gguf_file(path, "input")
    report = ConvertReport(str(path), str(out), "gguf", name)
    started = now()
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer_from_gguf(path).save_pretrained(tmp)
        with CheckpointWriter(out, tokenizer_source=Path(tmp), lineage_source=path, inputs=[path],
                              training_cutoff=training_cutoff) as writer:
            try:
                model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=target)
            except Exception as exc:
                raise LadderError(f"{path}: cannot load this GGUF file ({str(exc).splitlines()[0][:200]})") from None
            config = model.config.to_dict()
            config["dtype"] = name
            config.pop("torch_dtype", None)
            config["vocab_size"] = model.get_input_embeddings().weight.shape[0]
            config["architectures"] = [type(model).__name__]  # from_pretrained(gguf_file=...) leaves it None
            config.pop("quantization_config", None)  # it says "gguf": the folder holds dequantized weights
            writer.config = config
            for tensor_name, tensor in stored_items(model.state_dict().items(), config):
                writer.add(tensor_name, tensor.to(target))
                report.tensors += 1
            writer.finish("import", {"dtype": name, "format": "gguf"}, started_at=started, report=report)
    return out


def _download(repo_id: str) -> Path:
    """A hub id, fetched only when the hub answers; offline it is one clear error."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model",
                                                               "*.jinja"]))
    except Exception as exc:  # huggingface_hub raises several types for "offline"
        reason = str(exc).splitlines()[0][:160]
        raise LadderError(f"{repo_id}: looks like a hub id, and the hub cannot be reached ({reason}); "
                          "download the folder elsewhere and pass its path") from None


class ImportParams(VerbParams):
    """Import a model into a checked folder with lineage (GGUF is dequantized; its tokenizer rebuilt)."""

    verb: ClassVar[str] = "import"
    source: str = option(..., "a Hugging Face model folder, a .gguf file, or a hub id (when the hub answers)",
                         argument=True)
    output: Path = option(..., "model folder to write", flags=OUTPUT)
    dtype: str = option("auto", "auto (keep what is stored), float32, float16 or bfloat16",
                        choices=(AUTO, *DTYPES, *DTYPE_ALIASES))
    training_cutoff: Annotated[Optional[str], BeforeValidator(iso_day)] = option(
        None, "YYYY-MM-DD: the newest data these weights saw, as their makers state it; recorded in the lineage "
              "for `ladder eval livecodebench --after-cutoff` (stages made from this model carry it)")


def import_verb(params: ImportParams) -> Path:
    return import_model(params.source, params.output, params.dtype, params.training_cutoff)


def import_model(source: str, out: str | Path, dtype: str = "auto", training_cutoff: str | None = None) -> Path:
    """HF folder (any dtype) or GGUF file -> a checked, complete model folder with lineage."""
    out = Path(out)
    path = Path(source)
    if is_hub_id(source):
        path = _download(source)
    if not path.exists():
        raise LadderError(f"{source}: no such file or folder")
    if path.is_file() and path.suffix == ".gguf":
        return import_gguf(path, out, dtype, training_cutoff)
    if path.is_dir():
        return convert_folder(path, out, dtype, training_cutoff=training_cutoff)
    raise LadderError(f"{source}: expected a Hugging Face model folder or a .gguf file")
