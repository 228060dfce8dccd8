"""``reference``: answers every request with the benchmark's canonical solution (a sanity run).

The evaluator gives it the solutions (``open_engine(None, "reference", solutions={task_id: code})``); it
takes no model and no flags, so it is registered without a params class. Generation only.
"""

from __future__ import annotations

from codeladder.backends.base import Completion, Engine, GenerationParams, Request
from codeladder.errors import LadderError


class ReferenceEngine(Engine):
    name = "reference"

    def __init__(self, model: str | None = None, *, solutions: dict[str, str] | None = None):
        if model:
            raise LadderError("--backend reference takes no --model (it answers with the canonical solutions)")
        self.solutions = solutions or {}

    def describe(self) -> dict:
        return {"backend": self.name, "model": "reference solutions", "device": "none", "dtype": "none"}

    def uses_chat(self, mode: str) -> bool:
        return False

    def generate(self, requests: list[Request], params: GenerationParams) -> list[Completion]:
        return [Completion(text=self.solutions[r.key]) for r in requests]
