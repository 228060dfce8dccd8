"""Training rows as the data verbs read them: prompt/completion, chat ``messages``, preference pairs
(prompt/chosen/rejected), or plain ``text``; each row's texts by field name, checked with one clear line per
mistake (file, line, field). Hand-written: the shapes are TRL's dataset formats, which TRL checks only when a
trainer starts, without naming the line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from codeladder.errors import LadderError
from codeladder.prompts.messages import check_messages

SHAPES = "'messages', 'prompt'+'completion', 'prompt'+'chosen'+'rejected', or 'text'"


@dataclass(frozen=True)
class Row:
    line: int  # 0-based line of the file
    texts: dict[str, str]  # field path ("prompt", "messages[2].content") -> text
    source: str  # the line as it was, for --drop

    def answers(self) -> dict[str, str]:
        """The texts a model is trained to write: completion, chosen, rejected, text, assistant messages."""
        row = json.loads(self.source)
        roles = {f"{name}[{i}].content": m.get("role") for name in ("messages", "prompt", "completion", "chosen",
                                                                   "rejected", "text")
                 if isinstance(row.get(name), list) for i, m in enumerate(row[name])}
        return {field: text for field, text in self.texts.items()
                if roles.get(field, "assistant" if not field.startswith("prompt") else "user") == "assistant"}


def _messages(value: object, where: str, name: str) -> dict[str, str]:
    return {f"{name}[{number}].content": m["content"]
            for number, m in enumerate(check_messages(value, where, name))}


def _text_or_messages(row: dict, name: str, where: str) -> dict[str, str]:
    value = row[name]
    if isinstance(value, str):
        return {name: value}
    if isinstance(value, list):
        return _messages(value, where, name)
    raise LadderError(f"{where}: field {name!r} must be a string or a list of messages, not {type(value).__name__}")


def row_texts(row: dict, where: str) -> dict[str, str]:
    """A row's texts by field, in one of the known shapes; anything else is one line naming the field."""
    if "messages" in row:
        return _messages(row["messages"], where, "messages")
    if "prompt" in row and ("chosen" in row or "rejected" in row):
        missing = [name for name in ("chosen", "rejected") if name not in row]
        if missing:
            raise LadderError(f"{where}: a preference row needs field {missing[0]!r} beside 'prompt'")
        return {k: v for name in ("prompt", "chosen", "rejected") for k, v in _text_or_messages(row, name,
                                                                                                where).items()}
    if "prompt" in row and "completion" in row:
        return {**_text_or_messages(row, "prompt", where), **_text_or_messages(row, "completion", where)}
    if "text" in row:
        return _text_or_messages(row, "text", where)
    if "prompt" in row:
        raise LadderError(f"{where}: a row with 'prompt' needs 'completion' (or 'chosen' and 'rejected')")
    raise LadderError(f"{where}: unknown row shape (fields {', '.join(sorted(row)) or 'none'}); expected {SHAPES}")


def read_rows(path: str | Path, flag: str = "F") -> list[Row]:
    """Every non-empty line of a JSONL training file, checked; a bad line is one error naming file and line, and a
    file without a row is an error (a verb must not report an empty file clean)."""
    path = Path(path)
    if not path.is_file():
        raise LadderError(f"{flag} {path}: no such file")
    rows = []
    for number, raw in enumerate(path.read_bytes().splitlines()):
        where = f"{path}:{number + 1}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise LadderError(f"{where}: not UTF-8 text; expected one JSON object per line") from None
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise LadderError(f"{where}: not valid JSON; each line must be one JSON object") from None
        if not isinstance(row, dict):
            raise LadderError(f"{where}: expected a JSON object, not {type(row).__name__}")
        rows.append(Row(number, row_texts(row, where), line))
    if not rows:
        raise LadderError(f"{flag} {path}: holds no rows (empty, or blank lines only); nothing to check, so nothing "
                          "can be called clean. Give a JSONL file with one row per line")
    return rows


__all__ = ["Row", "read_rows", "row_texts", "SHAPES"]
