"""``ladder run``: prompts through any backend, the model loaded once; one JSON row per prompt."""

from __future__ import annotations

from pathlib import Path

from codeladder.backends import GenerationParams, Request, create_backend, infer_backend
from codeladder.errors import LadderError
from codeladder.prompts.base import Prompt
from codeladder.runs import read_input_jsonl


def read_batch(path: str | Path) -> list[Prompt]:
    """JSONL: ``{"prompt": text}`` for completion, or ``{"messages": [...]}`` for chat."""
    prompts = []
    for number, row in read_input_jsonl(path, "--batch-jsonl"):
        if "messages" in row:
            messages = row["messages"]
            if not (isinstance(messages, list) and messages and all(
                    isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                    for m in messages)):
                raise LadderError(f"{path}:{number}: 'messages' must be a non-empty list of "
                                  '{"role": str, "content": str}')
            prompts.append(Prompt(text="", messages=messages))
        elif "prompt" in row:
            if not isinstance(row["prompt"], str):
                raise LadderError(f"{path}:{number}: 'prompt' must be a string")
            prompts.append(Prompt(text=row["prompt"], messages=[{"role": "user", "content": row["prompt"]}]))
        else:
            raise LadderError(f"{path}:{number}: needs a 'prompt' or a 'messages' field")
    if not prompts:
        raise LadderError(f"--batch-jsonl {path}: holds no prompts")
    return prompts


def run_prompts(model: str, prompts: list[Prompt], backend: str | None = None, params: GenerationParams | None = None,
                **options) -> list[dict]:
    params = params or GenerationParams()
    engine = create_backend(backend or infer_backend(model, options.get("base_url")), model, **options)
    try:
        info = engine.describe()
        rows = []
        for index, prompt in enumerate(prompts):
            (completion,) = engine.generate([Request(str(index), prompt)], params)
            rows.append({"index": index, "text": completion.text, "prompt_tokens": completion.prompt_tokens,
                         "completion_tokens": completion.completion_tokens, "latency_s": round(completion.seconds, 4),
                         "tok_s": round(completion.completion_tokens / completion.seconds, 2) if completion.seconds else None,
                         "backend": info["backend"], "device": info["device"], "chat": completion.chat})
        return rows
    finally:
        close = getattr(engine, "close", None)
        if close:
            close()
