"""``reflexion``: generate; run the answer on the examples the prompt itself shows; when one fails, show the model
that example with what its code did and ask again, up to ``--reflexion-rounds`` times. The last answer is scored
as usual, on the hidden tests, which never reach the model.

The first turn is ``standard``'s. The loop that runs the examples lives in :mod:`codeladder.measure.reflect`;
this file is the data: the templates (their hash is the strategy's ``template_hash``, with the round count) and
the follow-up prompt. After Shinn et al., with the verbal feedback of the paper's programming setting taken from
the failing visible example itself rather than a generated self-reflection.
"""

from __future__ import annotations

from dataclasses import dataclass

from codeladder.backends.base import Prompt
from codeladder.prompts.base import FENCE, Strategy
from codeladder.prompts.standard import STANDARD

FEEDBACK = ("Your code fails this example from the task:\n\n{example}\n\n{outcome}\n\nFind the mistake and fix it. "
            "Return the complete corrected code, with any imports it needs, in a single {fence}python code block.")
NOT_RUN = ("Your code did not run: {error}\n\nFix it. Return the complete corrected code, with any imports it needs, "
           "in a single {fence}python code block.")


@dataclass(frozen=True)
class Reflexion(Strategy):
    rounds: int = 2
    feedback_request: str = FEEDBACK
    not_run_request: str = NOT_RUN

    def exemplar_texts(self) -> list[str]:
        return [self.feedback_request, self.not_run_request, f"rounds={self.rounds}"]

    def feedback(self, failure: dict) -> str:
        """The next user turn for a failed visible example (``example``, and ``expected``/``got`` or ``error``),
        or for code that never reached the examples (``error`` alone)."""
        if "example" not in failure:
            return self.not_run_request.format(error=failure.get("error", "it stopped"), fence=FENCE)
        if "error" in failure:
            outcome = f"It raised {failure['error']}"
        else:
            expected = f"Expected: {failure['expected']}\n" if failure.get("expected") is not None else ""
            outcome = f"{expected}Your code gave: {failure.get('got')}"
        return self.feedback_request.format(example=failure["example"], outcome=outcome, fence=FENCE)

    def follow_up(self, prompt: Prompt, answer: str, failure: dict) -> Prompt:
        """The conversation so far, the model's answer, and the feedback as the next user turn."""
        messages = [*prompt.messages, {"role": "assistant", "content": answer},
                    {"role": "user", "content": self.feedback(failure)}]
        return Prompt(text=prompt.text, messages=messages)


def reflexion(shots: int = 1, rounds: int = 2) -> Reflexion:
    return Reflexion(name="reflexion", version=1, system=STANDARD.system, function_request=STANDARD.function_request,
                     description_request=STANDARD.description_request, rounds=rounds)


__all__ = ["Reflexion", "reflexion", "FEEDBACK", "NOT_RUN"]
