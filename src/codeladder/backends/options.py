"""The generation options, declared once: every verb that generates (``eval``, ``run``, ``distill``'s teacher)
takes these fields rather than declaring its own, so a flag reads, checks and defaults the same everywhere
(``run`` answers shorter by default: :func:`codeladder.params.with_default`)."""

from __future__ import annotations

from codeladder.params import option

MODES = ("auto", "chat", "completion")

GENERATION = {
    "mode": option("auto", "chat, completion, or auto (chat when the model has a chat template)", choices=MODES),
    "temperature": option(0.0, "sampling temperature; 0 is greedy", ge=0),
    "top_p": option(1.0, "nucleus sampling: keep the smallest token set with this much probability", gt=0, le=1),
    "top_k": option(0, "keep only the k most likely tokens; 0 is off", ge=0),
    "seed": option(0, "sampling seed (sample i of a prompt uses seed + i where the engine allows)", ge=0),
    "max_new_tokens": option(512, "tokens to generate per answer at most", ge=1),
}

__all__ = ["GENERATION", "MODES"]
