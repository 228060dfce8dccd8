"""Prompt-strategy registry (one file per strategy) and code extraction."""

from __future__ import annotations

from codeladder.errors import LadderError
from codeladder.prompts.base import Prompt, Strategy
from codeladder.prompts.cgo import CGO
from codeladder.prompts.extract import extract_code
from codeladder.prompts.few_shot import few_shot
from codeladder.prompts.scot import SCOT
from codeladder.prompts.standard import STANDARD

REGISTRY = {
    "standard": lambda shots: STANDARD,
    "default": lambda shots: STANDARD,
    "few-shot": few_shot,
    "scot": lambda shots: SCOT,
    "cgo": lambda shots: CGO,
}


def get_strategy(name: str, shots: int = 1) -> Strategy:
    if name not in REGISTRY:
        raise LadderError(f"unknown prompt strategy {name!r}; choose one of: {', '.join(REGISTRY)}")
    return REGISTRY[name](shots)


__all__ = ["Prompt", "Strategy", "REGISTRY", "get_strategy", "extract_code"]
