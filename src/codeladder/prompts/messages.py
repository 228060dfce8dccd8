"""Chat messages and prompt rows as users write them in JSONL: the one check of ``[{"role", "content"}, ...]``
(training rows, preference pairs, prompt batches) and the one reading of a ``{"prompt": str}`` or
``{"messages": [...]}`` row into a :class:`~codeladder.backends.base.Prompt` (``ladder run --batch-jsonl``,
``ladder distill --prompts``)."""

from __future__ import annotations

from codeladder.backends.base import Prompt
from codeladder.errors import LadderError

ROLES = ("system", "user", "assistant", "tool")


def check_messages(value: object, where: str, name: str = "messages", roles: tuple[str, ...] | None = ROLES,
                   keep_keys: bool = False) -> list[dict]:
    """``value`` as a non-empty list of ``{"role": one of roles (any string with None), "content": str}`` (other
    keys dropped unless ``keep_keys``), or one line naming the field at fault."""
    if not isinstance(value, list) or not value:
        raise LadderError(f"{where}: field {name!r} must be a non-empty list of {{role, content}} messages")
    for number, message in enumerate(value):
        field = f"{name}[{number}]"
        role = message.get("role") if isinstance(message, dict) else None
        if not isinstance(role, str) or (roles is not None and role not in roles):
            wanted = f"one of {', '.join(roles)}" if roles is not None else "a string"
            got = f"its role is {role!r}" if isinstance(message, dict) else f"not {type(message).__name__}"
            raise LadderError(f"{where}: field {field!r} must be {{\"role\": {wanted}, \"content\": a string}} "
                              f"({got})")
        if not isinstance(message.get("content"), str):
            raise LadderError(f"{where}: field {field + '.content'!r} must be a string")
    return [dict(m) if keep_keys else {"role": m["role"], "content": m["content"]} for m in value]


def prompt_of(row: dict, where: str, allow_empty: bool = False) -> Prompt:
    """A prompt row: ``messages`` (sent as they are in chat mode, any role a chat template knows, other keys such
    as ``name`` kept; ``prompt``, when also given, in completion mode) or a ``prompt`` string (one user turn in
    chat mode; non-empty unless ``allow_empty``)."""
    if "messages" in row:
        text = row.get("prompt")
        messages = check_messages(row["messages"], where, roles=None, keep_keys=True)
        return Prompt(text=text if isinstance(text, str) else "", messages=messages)
    if isinstance(row.get("prompt"), str) and (allow_empty or row["prompt"].strip()):
        return Prompt(text=row["prompt"], messages=[{"role": "user", "content": row["prompt"]}])
    raise LadderError(f"{where}: needs a non-empty 'prompt' string or 'messages' (a list of "
                      '{"role": str, "content": str})')


__all__ = ["ROLES", "check_messages", "prompt_of"]
