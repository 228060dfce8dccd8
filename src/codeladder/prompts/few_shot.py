"""``few-shot``: N solved exemplars (trivial by default: they teach the format, not the answer)."""

from __future__ import annotations

from dataclasses import dataclass

from codeladder.benchmarks.base import Task
from codeladder.prompts.base import FENCE, Prompt, Strategy
from codeladder.prompts.standard import STANDARD

# (signature prompt, description, test, solution)
EXEMPLARS = [
    ('def add(a: int, b: int) -> int:\n    """Return the sum of a and b.\n    >>> add(2, 3)\n    5\n    """\n',
     "Write a function to add two numbers.", "assert add(2, 3) == 5",
     "def add(a: int, b: int) -> int:\n    return a + b\n"),
    ('def is_even(n: int) -> bool:\n    """Return True when n is even.\n    >>> is_even(4)\n    True\n    """\n',
     "Write a function to check whether a number is even.", "assert is_even(4) == True",
     "def is_even(n: int) -> bool:\n    return n % 2 == 0\n"),
    ('def reverse_string(s: str) -> str:\n    """Return s reversed.\n'
     '    >>> reverse_string(\'abc\')\n    \'cba\'\n    """\n',
     "Write a function to reverse a string.", "assert reverse_string('abc') == 'cba'",
     "def reverse_string(s: str) -> str:\n    return s[::-1]\n"),
    ('def largest(xs: list) -> int:\n    """Return the largest element of a non-empty list.\n'
     '    >>> largest([1, 5, 2])\n    5\n    """\n',
     "Write a function to find the largest element of a list.", "assert largest([1, 5, 2]) == 5",
     "def largest(xs: list) -> int:\n    return max(xs)\n"),
]


@dataclass(frozen=True)
class FewShot(Strategy):
    shots: int = 1

    def exemplar_texts(self) -> list[str]:
        return ["|".join(e) for e in EXEMPLARS[: self.shots]]

    def _exemplar_turns(self, task: Task) -> list[dict]:
        turns = []
        for signature, description, test, solution in EXEMPLARS[: self.shots]:
            shot = Task(task_id="exemplar", prompt=signature, instruction=description, entry_point="",
                        reference=solution, tests=(test,), style=task.style)
            turns.append({"role": "user", "content": self.user_message(shot)})
            turns.append({"role": "assistant", "content": f"{FENCE}python\n{solution}{FENCE}"})
        return turns

    def completion_text(self, task: Task) -> str:
        shots = []
        for signature, description, test, solution in EXEMPLARS[: self.shots]:
            if task.style == "function":
                shots.append(signature + solution.split("\n", 1)[1])
            else:
                shots.append(f'"""\n{description}\n{test}\n"""\n{solution}')
        return "\n\n".join(shots) + "\n\n" + task.prompt

    def build(self, task: Task) -> Prompt:
        standard = super().build(task)
        head = [m for m in standard.messages if m["role"] == "system"]
        messages = head + self._exemplar_turns(task) + standard.messages[len(head):]
        return Prompt(text=self.completion_text(task), messages=messages)


def few_shot(shots: int = 1) -> FewShot:
    if not 0 <= shots <= len(EXEMPLARS):
        from codeladder.errors import LadderError
        raise LadderError(f"--shots {shots}: choose 0 to {len(EXEMPLARS)}")
    return FewShot(name="few-shot", version=1, system=STANDARD.system, function_request=STANDARD.function_request,
                   description_request=STANDARD.description_request, shots=shots)
