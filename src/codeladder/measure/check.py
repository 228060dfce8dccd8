"""``ladder check DIR``: a staged integrity report of a model folder.

Stages run in order; each says pass/fail with a reason, and a stage whose prerequisite failed
is reported as skipped (failed). Nothing here raises: a corrupt or truncated file is a failed
stage with one line of detail. The forward and generate stages run through the hf engine
(``HFEngine``), the same loader eval and parity use, so a folder that passes here loads there.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from codeladder.backends.hf import HFEngine, HFOptions
from codeladder.errors import LadderError
from codeladder.models.lazy import weight_files
from codeladder.params import VerbParams, option
from codeladder.models.integrity import (expected_tensors, read_config, require_tokenizer, stored_tensors,
                                         tensor_problems)

ROUND_TRIP_SAMPLES = (
    "def add(a, b):\n    return a + b\n",
    "class Box:\n\tdef __init__(self):\n\t\tself.items = []  # tabs\n\n\n    \n",
    "if x:\n        y = {'k': [1, 2, 3]}\r\n    else:\n  z = f\"{y!r:>10}\"   \n",
)


@dataclass
class Stage:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class CheckReport:
    path: str
    stages: list[Stage] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.stages)

    def as_dict(self) -> dict:
        return {"ok": self.ok, "path": self.path, "stages": [asdict(s) for s in self.stages]}


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"


def check_model(folder: str | Path, generate_tokens: int = 8) -> CheckReport:
    import torch
    from safetensors import safe_open
    from transformers import AutoConfig, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    folder = Path(folder)
    report = CheckReport(str(folder))
    add = report.stages.append

    try:
        raw_config = read_config(folder)
        config = AutoConfig.from_pretrained(folder)
        add(Stage("config", True, f"{config.model_type}, {config.num_hidden_layers} layers, "
                                  f"hidden {config.hidden_size}, vocab {config.vocab_size}"))
    except Exception as exc:
        add(Stage("config", False, _one_line(exc)))
        return report

    tokenizer = None
    try:
        require_tokenizer(folder, config.vocab_size)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        broken = [s for s in ROUND_TRIP_SAMPLES
                  if tokenizer.decode(tokenizer(s, add_special_tokens=False)["input_ids"]) != s]
        if broken:
            raise ValueError(f"does not round-trip {broken[0]!r}")
        if len(tokenizer) > config.vocab_size:
            raise ValueError(f"tokenizer has {len(tokenizer)} tokens, the embedding only {config.vocab_size}")
        add(Stage("tokenizer", True, f"{len(tokenizer)} tokens, round-trips code"))
    except Exception as exc:
        add(Stage("tokenizer", False, _one_line(exc)))

    try:
        headers = stored_tensors(folder)
        expected, tied = expected_tensors(folder, raw_config)
        quantized = getattr(config, "quantization_config", None) is not None
        problems = tensor_problems(expected, headers, tied, quantized)
        if problems:
            raise ValueError("; ".join(problems))
        packed = [n for n, (_, dtype) in headers.items() if quantized and dtype in ("U8", "I8") and n in expected]
        dtypes = sorted({d for _, d in headers.values()})
        note = f" ({len(packed)} quantized)" if packed else ""
        matched = sum(n in expected for n in headers)
        add(Stage("tensors", True, f"{matched} tensors match {config.model_type}{note}; dtypes {', '.join(dtypes)}"))
    except Exception as exc:
        add(Stage("tensors", False, _one_line(exc)))
        return report

    try:
        bad = []
        for path in weight_files(folder):
            with safe_open(str(path), framework="pt") as f:
                for name in f.keys():
                    tensor = f.get_tensor(name)
                    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                        bad.append(name)
        if bad:
            raise ValueError(f"NaN/Inf in {len(bad)} tensor(s), e.g. {bad[0]}")
        add(Stage("finite", True, "no NaN or Inf"))
    except Exception as exc:
        add(Stage("finite", False, _one_line(exc)))
        return report

    try:
        add(Stage("tied_embeddings", True, "tied" if tied else "untied (lm_head stored)"))
        engine = HFEngine(folder, HFOptions(device="cpu", dtype="float32"), tokenizer=tokenizer is not None)
        model = engine.model
        if tied and not torch.equal(model.get_input_embeddings().weight, model.get_output_embeddings().weight):
            raise ValueError("tie_word_embeddings is set but lm_head differs from the embedding")
        ids = engine.tokenize("def main():\n    return 1\n") if tokenizer is not None else [1, 2, 3, 4]
        logits = engine.logits(ids)
        if not bool(np.isfinite(logits).all()):
            raise ValueError("logits contain NaN or Inf")
        add(Stage("forward", True, f"logits {(1, *logits.shape)}, finite, |max| {np.abs(logits).max():.3g}"))
    except Exception as exc:
        add(Stage("forward", False, _one_line(exc)))
        return report

    try:
        produced = len(engine.greedy(ids, generate_tokens))
        if produced < 1:
            raise ValueError("generated no tokens")
        add(Stage("generate", True, f"{produced} greedy tokens"))
    except Exception as exc:
        add(Stage("generate", False, _one_line(exc)))
    return report


def report_json(report: CheckReport) -> str:
    return json.dumps(report.as_dict(), indent=2)


class CheckParams(VerbParams):
    """Staged integrity check: config, tokenizer, tensors, finite weights, forward pass, generation."""

    verb: ClassVar[str] = "check"
    folder: Path = option(..., "model folder", argument=True)


def check_verb(params: CheckParams) -> CheckReport:
    if not params.folder.is_dir():
        raise LadderError(f"{params.folder}: no such model folder")
    return check_model(params.folder)
