"""Training data for ``ladder finetune``: read and validate the JSONL, split off validation rows, and shape
the rows the way TRL's trainers take them.

Hand-written because TRL accepts whatever columns it is given and fails deep inside ``datasets.map`` (or,
worse, trains on the wrong thing) when a row is malformed: here every bad row is one :class:`LadderError`
naming the file, the line and the field. The chat template itself is TRL's (``apply_chat_template``):
a ``messages`` row becomes a conversational prompt (every turn before the last) and completion (the last,
assistant turn), so TRL's completion-only loss supervises exactly the final assistant answer.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from codeladder.errors import LadderError
from codeladder.prompts.messages import check_messages

SFT_SHAPES = "a 'prompt' and 'completion' string, or 'messages' (a list of {role, content})"
DPO_SHAPES = ("'prompt', 'chosen' and 'rejected', each a string, or TRL's conversational rows (a list of "
              "{role, content} each, chosen/rejected ending in an assistant turn)")


@dataclass
class Rows:
    """Validated rows, each with its 1-based ``line`` in the file."""

    path: Path
    kind: str  # "prompt_completion", "messages", "preference" or "preference_chat" (conversational pairs)
    rows: list[dict]
    contaminated: bool = False  # a row or the file's metadata says it came from a benchmark's test split
    notes: list[str] = field(default_factory=list)


def _where(path: Path, line: int) -> str:
    return f"{path} line {line}"


def _string(path: Path, line: int, row: dict, name: str, allow_empty: bool = False) -> str:
    value = row.get(name)
    if not isinstance(value, str):
        got = "missing" if name not in row else f"a {type(value).__name__}"
        raise LadderError(f"{_where(path, line)}: field '{name}' must be a string (it is {got})")
    if not allow_empty and not value.strip():
        raise LadderError(f"{_where(path, line)}: field '{name}' is empty")
    return value


def _turns(path: Path, line: int, value: object, name: str) -> list[dict]:
    """A list of ``{role, content}`` turns (field ``name``), validated."""
    return check_messages(value, _where(path, line), name)


def _answer_turns(path: Path, line: int, row: dict, name: str) -> list[dict]:
    turns = _turns(path, line, row.get(name), name)
    if turns[-1]["role"] != "assistant" or not turns[-1]["content"].strip():
        raise LadderError(f"{_where(path, line)}: field '{name}[{len(turns) - 1}]' must be a non-empty "
                          "assistant turn (the answer the loss is taken on)")
    return turns


def _messages(path: Path, line: int, row: dict) -> list[dict]:
    messages = row["messages"]
    if not isinstance(messages, list) or len(messages) < 2:
        raise LadderError(f"{_where(path, line)}: field 'messages' must be a list of at least 2 turns "
                          "(a prompt and the assistant's answer)")
    return _answer_turns(path, line, row, "messages")


def _parse_line(path: Path, line: int, text: str) -> dict:
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LadderError(f"{_where(path, line)}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(row, dict):
        raise LadderError(f"{_where(path, line)}: expected a JSON object, got {type(row).__name__}")
    return row


def _sft_row(path: Path, line: int, row: dict) -> tuple[str, dict]:
    if "messages" in row:
        return "messages", {"messages": _messages(path, line, row), "line": line}
    if "prompt" in row or "completion" in row:
        return "prompt_completion", {"prompt": _string(path, line, row, "prompt", allow_empty=True),
                                     "completion": _string(path, line, row, "completion"), "line": line}
    raise LadderError(f"{_where(path, line)}: no training fields; each row needs {SFT_SHAPES}")


def _dpo_row(path: Path, line: int, row: dict) -> tuple[str, dict]:
    """String rows, or TRL's conversational rows (``ladder data pairs`` on a chat run): ``prompt`` a list of
    turns, ``chosen``/``rejected`` each a list ending in the assistant's answer. TRL templates the latter."""
    if isinstance(row.get("prompt"), list):
        values = {"prompt": _turns(path, line, row["prompt"], "prompt"),
                  **{name: _answer_turns(path, line, row, name) for name in ("chosen", "rejected")}}
        kind = "preference_chat"
    else:
        values = {name: _string(path, line, row, name) for name in ("prompt", "chosen", "rejected")}
        kind = "preference"
    if values["chosen"] == values["rejected"]:
        raise LadderError(f"{_where(path, line)}: fields 'chosen' and 'rejected' are identical")
    return kind, {**values, "line": line}


def _metadata_contaminated(path: Path) -> bool:
    """``F.jsonl.meta.json`` or ``F.meta.json`` beside the data, as ``ladder data pairs`` may write it."""
    for sidecar in (path.with_name(path.name + ".meta.json"), path.with_suffix(".meta.json")):
        try:
            meta = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict) and meta.get("contaminated"):
            return True
    return False


def read_rows(path: str | Path, preference: bool = False) -> Rows:
    """Every row of ``path`` validated; one line naming the first bad one."""
    path = Path(path)
    if not path.is_file():
        raise LadderError(f"--data {path}: no such file")
    parse = _dpo_row if preference else _sft_row
    kinds, rows, contaminated = set(), [], _metadata_contaminated(path)
    with open(path, encoding="utf-8", errors="replace") as f:
        for line, text in enumerate(f, start=1):
            if not text.strip():
                continue
            raw = _parse_line(path, line, text)
            kind, row = parse(path, line, raw)
            contaminated = contaminated or bool(raw.get("contaminated"))
            if kinds and kind not in kinds:
                raise LadderError(f"{_where(path, line)}: a '{kind}' row in a file of '{kinds.pop()}' rows; "
                                  "use one shape per file")
            kinds.add(kind)
            rows.append(row)
    if not rows:
        raise LadderError(f"--data {path}: no rows; each line needs {DPO_SHAPES if preference else SFT_SHAPES}")
    return Rows(path, kinds.pop(), rows, contaminated)


def split_rows(rows: list[dict], share: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, validation): a seeded shuffle, ``share`` of the rows held out (at least one when asked)."""
    if share <= 0 or len(rows) < 2:
        return list(rows), []
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    held = min(len(rows) - 1, max(1, round(len(rows) * share)))
    chosen = set(order[:held])
    return [r for i, r in enumerate(rows) if i not in chosen], [r for i, r in enumerate(rows) if i in chosen]


def use_chat(template: str, tokenizer, kind: str, path: Path) -> bool:
    """Whether rows go through the model's chat template (``--template``), refusing what cannot work."""
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if template == "chat" and not has_template:
        raise LadderError("--template chat: the base model's tokenizer has no chat template; use --template raw "
                          "with prompt/completion rows")
    if kind in ("messages", "preference_chat") and (template == "raw" or not has_template):
        why = "--template raw" if template == "raw" else "the base model has no chat template"
        shape = "'messages'" if kind == "messages" else "conversational preference"
        raise LadderError(f"--data {path}: {shape} rows need a chat template ({why}); give "
                          f"{'prompt/completion' if kind == 'messages' else 'string prompt/chosen/rejected'} rows")
    return template == "chat" or (template == "auto" and has_template) or kind == "preference_chat"


def sft_record(row: dict, chat: bool) -> dict:
    """A row as TRL's SFTTrainer takes it: conversational or plain prompt/completion, plus its line."""
    if "messages" in row:
        return {"prompt": row["messages"][:-1], "completion": row["messages"][-1:], "line": row["line"]}
    if chat:
        return {"prompt": [{"role": "user", "content": row["prompt"]}],
                "completion": [{"role": "assistant", "content": row["completion"]}], "line": row["line"]}
    return {"prompt": row["prompt"], "completion": row["completion"], "line": row["line"]}


def dpo_record(row: dict, chat: bool) -> dict:
    """A preference row as TRL's DPOTrainer takes it (conversational rows pass as they are)."""
    if chat and isinstance(row["prompt"], str):
        return {"prompt": [{"role": "user", "content": row["prompt"]}],
                "chosen": [{"role": "assistant", "content": row["chosen"]}],
                "rejected": [{"role": "assistant", "content": row["rejected"]}], "line": row["line"]}
    return {key: row[key] for key in ("prompt", "chosen", "rejected", "line")}


def to_dataset(records: list[dict]):
    """A ``datasets.Dataset`` (None for no rows)."""
    if not records:
        return None
    from datasets import Dataset

    return Dataset.from_list(records)


def load_tokenizer(base: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(base))


def prepared_rows(job, record) -> tuple:
    """(tokenizer, chat, train, val): the run's rows as ``record`` prepares them (chat template or not), checked
    for double templating before any model loads. One place for SFT, DPO and logit distillation."""
    from codeladder.transforms.finetune import guards

    tokenizer = load_tokenizer(job.params.base)
    chat = use_chat(job.params.template, tokenizer, job.rows.kind, job.rows.path)
    train = [record(row, chat) for row in job.train_rows]
    val = [record(row, chat) for row in job.val_rows]
    guards.check_templating(train + val, tokenizer, chat)
    return tokenizer, chat, train, val


__all__ = ["Rows", "read_rows", "split_rows", "use_chat", "sft_record", "dpo_record", "to_dataset", "load_tokenizer",
           "prepared_rows"]
