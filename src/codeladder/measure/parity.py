"""``ladder parity A B``: do two backends, dtypes or files of one model compute the same thing?

Per position of each prompt (teacher-forced with A's tokens): cosine of the logit vectors, KL
divergence KL(A || B) of the next-token distributions, top-1 agreement; then greedy continuations
from both, compared token by token (``greedy_agreement``: equal tokens at equal positions) and by their
shared beginning (``greedy_prefix_agreement``: the share of prompts whose continuations agree on their first
``prefix_tokens`` tokens; ``first_token_agreement`` likewise for the first token). Two files of one model in
different quantizations diverge somewhere in a long greedy continuation by rounding alone; whether they start
alike is the comparison that says they compute the same model. A report with no compared position is an
error, never a pass.
A and B are any two engines that can tokenize, score logits and decode greedily (``Engine``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar, Optional

import numpy as np

from codeladder.backends import infer_backend, open_engine, require_capability
from codeladder.backends.base import Engine, require
from codeladder.errors import LadderError
from codeladder.params import VerbParams, option

SCORING_CTX = 2048  # tokens a llama.cpp scoring context holds unless a prompt needs more


@dataclass
class ParityReport:
    a: str
    b: str
    prompts: int
    positions: int
    cosine_min: float
    cosine_mean: float
    kl_mean: float
    kl_max: float
    top1_agreement: float
    greedy_agreement: float
    greedy_tokens: int
    first_token_agreement: float
    greedy_prefix_agreement: float
    prefix_tokens: int
    greedy_prefix_mean: float  # mean length of the shared beginning, in tokens
    tokenizer_agreement: float
    min_cosine: float
    passed: bool
    per_prompt: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def compare_logits(a: np.ndarray, b: np.ndarray) -> dict:
    if a.shape != b.shape or a.size == 0:
        raise LadderError(f"logit shapes differ or are empty: {a.shape} vs {b.shape}; do A and B share a vocabulary?")
    cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + 1e-30)
    la, lb = _log_softmax(a), _log_softmax(b)
    kl = (np.exp(la) * (la - lb)).sum(-1)
    return {"cosine": cos, "kl": kl, "top1": a.argmax(-1) == b.argmax(-1)}


def check_parity_flags(greedy_tokens: int, min_cosine: float) -> None:
    require(greedy_tokens >= 0, "--greedy-tokens", greedy_tokens, "must be 0 (skip) or more")
    require(-1 <= min_cosine <= 1, "--min-cosine", min_cosine, "a cosine, between -1 and 1")


def label(engine: Engine) -> str:
    info = engine.describe()
    return f"{info['backend']}:{info['model']} ({info['dtype']}, {info['device']})"


def shared_prefix(a: list[int], b: list[int]) -> int:
    """How many tokens two continuations share from their start."""
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def parity(a: Engine, b: Engine, prompts: list[str], greedy_tokens: int = 32,
           min_cosine: float = 0.999, prefix_tokens: int = 8) -> ParityReport:
    check_parity_flags(greedy_tokens, min_cosine)
    prefixes = []
    cosines, kls, top1 = [], [], []
    greedy_same = greedy_total = tokenizer_same = 0
    per_prompt = []
    for text in prompts:
        ids = a.tokenize(text)
        if not ids:
            continue
        tokenizer_same += int(b.tokenize(text) == ids)
        result = compare_logits(a.logits(ids), b.logits(ids))
        cosines.append(result["cosine"])
        kls.append(result["kl"])
        top1.append(result["top1"])
        ga, gb = a.greedy(ids, greedy_tokens), b.greedy(ids, greedy_tokens)
        same = sum(x == y for x, y in zip(ga, gb))
        greedy_same += same
        greedy_total += max(len(ga), len(gb))
        prefixes.append(shared_prefix(ga, gb))
        per_prompt.append({"tokens": len(ids), "cosine_min": float(result["cosine"].min()),
                           "greedy_agreement": same / max(1, len(ga), len(gb)), "greedy_prefix": prefixes[-1]})
    if not cosines:
        raise LadderError("parity compared 0 positions: the prompts tokenized to nothing")
    cos, kl, t1 = np.concatenate(cosines), np.concatenate(kls), np.concatenate(top1)
    return ParityReport(
        a=label(a), b=label(b), prompts=len(per_prompt), positions=int(cos.size), cosine_min=float(cos.min()),
        cosine_mean=float(cos.mean()), kl_mean=float(kl.mean()), kl_max=float(kl.max()),
        top1_agreement=float(t1.mean()), greedy_agreement=greedy_same / max(1, greedy_total),
        greedy_tokens=greedy_total,
        first_token_agreement=sum(n >= min(1, greedy_tokens) for n in prefixes) / len(prefixes),
        greedy_prefix_agreement=sum(n >= min(prefix_tokens, greedy_tokens) for n in prefixes) / len(prefixes),
        prefix_tokens=min(prefix_tokens, greedy_tokens), greedy_prefix_mean=sum(prefixes) / len(prefixes),
        tokenizer_agreement=tokenizer_same / len(per_prompt), min_cosine=min_cosine,
        passed=bool(cos.min() >= min_cosine), per_prompt=per_prompt)


def default_prompts(count: int = 8) -> list[str]:
    from codeladder.benchmarks import get_benchmark

    return [t.prompt for t in get_benchmark("humaneval").load()[:count]]


def read_prompts(path) -> list[str]:
    """JSONL with a ``prompt`` (or ``text``) field per line."""
    from codeladder.runs import read_input_jsonl

    prompts = []
    for number, row in read_input_jsonl(path, "--prompts"):
        if not isinstance(row.get("prompt", row.get("text")), str):
            raise LadderError(f"{path}:{number}: expected a 'prompt' field holding text")
        prompts.append(row.get("prompt", row.get("text")))
    if not prompts:
        raise LadderError(f"--prompts {path}: holds no prompts")
    return prompts


def open_scoring(model: str, dtype: str, backend: str | None = None, **options) -> Engine:
    """An engine that keeps every position's logits; ``dtype`` applies where the backend takes one; ``options``
    are the backend's own (e.g. ``threads=1`` for llama.cpp on a busy machine)."""
    return open_engine(model, backend, defaults={"dtype": dtype, "logits_all": True, "n_ctx": SCORING_CTX},
                       **options)


def compare_models(a: str, b: str, prompts_file=None, a_dtype: str = "float32", b_dtype: str = "float32",
                   greedy_tokens: int = 32, min_cosine: float = 0.999, *, a_backend: str | None = None,
                   b_backend: str | None = None, prefix_tokens: int = 8) -> ParityReport:
    """``ladder parity``: flags, prompts and both backends' capabilities checked first, then both models
    opened, compared and closed. A backend left ``None`` is inferred from its model."""
    check_parity_flags(greedy_tokens, min_cosine)
    texts = read_prompts(prompts_file) if prompts_file else default_prompts()
    for model, backend in ((a, a_backend), (b, b_backend)):
        for capability in ("logits", "tokenize", "greedy"):
            require_capability(backend or infer_backend(model), capability)
    with open_scoring(a, a_dtype, a_backend) as first, open_scoring(b, b_dtype, b_backend) as second:
        return parity(first, second, texts, greedy_tokens, min_cosine, prefix_tokens)


class ParityParams(VerbParams):
    """Logit cosine, KL, top-1 and greedy agreement between two backends, dtypes or files of one model."""

    verb: ClassVar[str] = "parity"
    a: str = option(..., "model folder or .gguf file", argument=True)
    b: str = option(..., "model folder or .gguf file", argument=True)
    prompts: Optional[Path] = option(None, 'JSONL of {"prompt": ...} (default: 8 HumanEval prompts)')
    a_dtype: str = option("float32", "dtype for A where its backend takes one")
    b_dtype: str = option("float32", "dtype for B where its backend takes one")
    greedy_tokens: int = option(32, "greedy tokens compared per prompt", ge=0)
    min_cosine: float = option(0.999, "pass threshold on the minimum cosine", ge=-1, le=1)
    prefix_tokens: int = option(8, "greedy_prefix_agreement: the share of prompts whose greedy continuations agree "
                                   "on their first N tokens", ge=1)


def parity_verb(params: ParityParams) -> ParityReport:
    return compare_models(params.a, params.b, params.prompts, params.a_dtype, params.b_dtype, params.greedy_tokens,
                          params.min_cosine, prefix_tokens=params.prefix_tokens)
