"""Turn a model's raw text into the program to test.

Chat mode: drop reasoning blocks, prefer the fenced python block that defines the entry point
(checked with ``ast``), else the first block that parses, else the whole text; add the
prompt's imports the answer forgot. Completion mode: cut at stop sequences, put the prompt in
front, and if the result does not parse, drop trailing lines until it does.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from codeladder.backends.base import apply_stops
from codeladder.benchmarks.base import import_lines

_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_FENCE = re.compile(r"```[ \t]*([\w+.-]*)[^\n]*\n(.*?)(?:\n[ \t]*```|\Z)", re.S)
COMPLETION_STOPS = ("\nif __name__", "\nprint(", "\nassert ", "\n```", "\n# Test", "\n# Example", "<|endoftext|>",
                    "<|im_end|>", "</s>")


@dataclass(frozen=True)
class Extraction:
    code: str
    method: str  # how it was found: fenced-entry, fenced, text, completion, completion-trimmed


def strip_reasoning(text: str) -> str:
    text = _THINK.sub("", text)
    if "</think>" in text:  # the opening tag was part of the prompt
        text = text.rsplit("</think>", 1)[1]
    if "<think>" in text:  # reasoning that never ended: nothing after it is an answer
        text = text.split("<think>", 1)[0]
    return text


def parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def defines(code: str, name: str) -> bool:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name for n in ast.walk(tree))


def _trim_to_parse(code: str, keep: int = 0) -> str | None:
    """Drop trailing lines (never the first ``keep`` characters) until the code parses."""
    lines = code.split("\n")
    while lines and len("\n".join(lines)) > keep:
        candidate = "\n".join(lines)
        if parses(candidate):
            return candidate
        lines.pop()
    return None


def _with_prompt_imports(code: str, prompt: str) -> str:
    missing = [line for line in import_lines(prompt) if line not in code]
    return "\n".join(missing + [code]) if missing else code


def extract_completion(raw: str, prompt: str, stops: tuple[str, ...] = COMPLETION_STOPS) -> Extraction:
    body = apply_stops(strip_reasoning(raw), stops)
    program = prompt + body
    if parses(program):
        return Extraction(program, "completion")
    trimmed = _trim_to_parse(program, keep=len(prompt))
    return Extraction(trimmed if trimmed is not None else program, "completion-trimmed")


def extract_code(raw: str, entry_point: str, prompt: str = "") -> Extraction:
    """Chat-mode extraction: the program to test from a free-form answer."""
    text = strip_reasoning(raw)
    blocks = [body for lang, body in _FENCE.findall(text) if lang.lower() in ("", "python", "py", "python3")]
    chosen, method = None, "text"
    for body in blocks:
        if defines(body, entry_point):
            chosen, method = body, "fenced-entry"
            break
    if chosen is None:
        parsing = [b for b in blocks if parses(b)]
        if parsing or blocks:
            chosen, method = (parsing or blocks)[0], "fenced"
    if chosen is None:
        chosen = text.strip("\n")
        if not parses(chosen):
            chosen = _trim_to_parse(chosen) or chosen
    joined = prompt + chosen
    if prompt and not defines(chosen, entry_point) and defines(joined, entry_point) and parses(joined):
        return Extraction(prompt + chosen, method)  # the answer was the function body only
    if prompt:
        chosen = _with_prompt_imports(chosen, prompt)
    return Extraction(chosen, method)
