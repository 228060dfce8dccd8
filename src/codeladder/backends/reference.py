"""``reference``: answers every request with the benchmark's canonical solution (a sanity run)."""

from __future__ import annotations

from codeladder.backends.base import Completion, GenerationParams, Request


class ReferenceBackend:
    name = "reference"

    def __init__(self, solutions: dict[str, str]):
        self.solutions = solutions

    def describe(self) -> dict:
        return {"backend": self.name, "model": "reference solutions", "device": "none", "dtype": "none"}

    def uses_chat(self, mode: str) -> bool:
        return False

    def generate(self, requests: list[Request], params: GenerationParams) -> list[Completion]:
        return [Completion(text=self.solutions[r.key]) for r in requests]
