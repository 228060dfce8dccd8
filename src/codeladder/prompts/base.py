"""A prompt strategy is data: templates plus a version; its hash goes into every result."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from codeladder.backends.base import Prompt  # the leaf type engines take (re-exported here)
from codeladder.benchmarks.base import Task

FENCE = "```"


@dataclass(frozen=True)
class Strategy:
    name: str
    version: int
    system: str
    function_request: str  # chat, for a signature to complete; {prompt} {entry_point}
    description_request: str  # chat, for a task in words; {instruction} {entry_point} {tests}
    completion_header: str = ""  # completion mode: text put before the task's own prompt

    @property
    def template_hash(self) -> str:
        parts = [self.name, str(self.version), self.system, self.function_request, self.description_request,
                 self.completion_header, *self.exemplar_texts()]
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]

    def exemplar_texts(self) -> list[str]:
        return []

    def completion_text(self, task: Task) -> str:
        return self.completion_header + task.prompt

    def user_message(self, task: Task) -> str:
        if task.style == "function":
            return self.function_request.format(prompt=task.prompt.strip(), entry_point=task.entry_point, fence=FENCE)
        tests = "\n".join(task.tests)
        return self.description_request.format(instruction=task.instruction.strip(), entry_point=task.entry_point,
                                               tests=tests, fence=FENCE)

    def build(self, task: Task) -> Prompt:
        messages = [{"role": "system", "content": self.system}] if self.system else []
        messages.append({"role": "user", "content": self.user_message(task)})
        return Prompt(text=self.completion_text(task), messages=messages)
