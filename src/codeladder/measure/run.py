"""``ladder run``: prompts through any backend, the model loaded once; one JSON row per prompt."""

from __future__ import annotations

import json

from pathlib import Path
from typing import Any, ClassVar, Optional

from pydantic import model_validator

from codeladder.backends import GenerationParams, Prompt, Request, backend_options, infer_backend, open_engine
from codeladder.backends.options import GENERATION
from codeladder.errors import LadderError
from codeladder.prompts.messages import prompt_of
from codeladder.params import OUTPUT, VerbParams, option, with_default
from codeladder.runs import check_output_file, read_input_jsonl, write_text_atomic


class RunParams(VerbParams):
    """Generate for one prompt or a JSONL batch; one JSON row per prompt (text, tokens, tok/s, latency)."""

    verb: ClassVar[str] = "run"
    model: str = option(..., "model folder, .gguf file, or the served model's name with --base-url", argument=True)
    prompt: Optional[str] = option(None, "one prompt")
    batch_jsonl: Optional[Path] = option(None, 'JSONL of {"prompt": ...} or {"messages": [...]}')
    backend: Optional[str] = option(None, "engine (default: inferred from the model)", choices="backend")
    mode: str = GENERATION["mode"]
    max_new_tokens: int = with_default(GENERATION["max_new_tokens"], 128)
    temperature: float = GENERATION["temperature"]
    seed: int = GENERATION["seed"]
    output: Optional[Path] = option(None, "write the JSONL here (default: stdout)", flags=OUTPUT)
    backend_options: dict[str, Any] = option({}, "the backend's own options (its params class validates them)")

    @model_validator(mode="after")
    def _one_source(self) -> "RunParams":
        if (self.prompt is None) == (self.batch_jsonl is None):
            raise LadderError("give exactly one of --prompt TEXT or --batch-jsonl FILE")
        return self


def run_verb(params: RunParams) -> list[dict]:
    """``ladder run``: every input checked before the model loads; the output written atomically."""
    if params.output:
        check_output_file(params.output, "-o")
    generation = GenerationParams(max_new_tokens=params.max_new_tokens, temperature=params.temperature,
                                  seed=params.seed, mode=params.mode)
    backend_options(params.backend or infer_backend(params.model, params.backend_options.get("base_url")),
                    params.backend_options)
    prompts = read_batch(params.batch_jsonl) if params.batch_jsonl else [
        Prompt(text=params.prompt, messages=[{"role": "user", "content": params.prompt}])]
    rows = run_prompts(params.model, prompts, params.backend, generation, **params.backend_options)
    if params.output:
        write_text_atomic(params.output, "".join(json.dumps(row) + "\n" for row in rows))
    return rows


def read_batch(path: str | Path) -> list[Prompt]:
    """JSONL: ``{"prompt": text}`` for completion, or ``{"messages": [...]}`` for chat."""
    prompts = [prompt_of(row, f"{path}:{number}", allow_empty=True)
               for number, row in read_input_jsonl(path, "--batch-jsonl")]
    if not prompts:
        raise LadderError(f"--batch-jsonl {path}: holds no prompts")
    return prompts


def _rate(tokens: int, seconds: float) -> float | None:
    return round(tokens / seconds, 2) if seconds else None


def run_prompts(model: str, prompts: list[Prompt], backend: str | None = None, params: GenerationParams | None = None,
                **options) -> list[dict]:
    """``options``: the backend's own (``None`` = not given), validated by its params class."""
    params = params or GenerationParams()
    if (options.get("replicas") or 1) != 1:
        raise LadderError("--replicas: ladder run answers one prompt at a time (it times each); use ladder eval or "
                          "ladder distill to generate side by side")
    with open_engine(model, backend, **options) as engine:
        info = engine.describe()
        rows = []
        for index, prompt in enumerate(prompts):
            (completion,) = engine.generate([Request(str(index), prompt)], params)
            rows.append({"index": index, "text": completion.text, "prompt_tokens": completion.prompt_tokens,
                         "completion_tokens": completion.completion_tokens, "latency_s": round(completion.seconds, 4),
                         "tok_s": _rate(completion.completion_tokens, completion.seconds),
                         "backend": info["backend"], "device": info["device"], "chat": completion.chat})
        return rows
