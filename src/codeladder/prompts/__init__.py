"""Prompt strategies (one file each, one registry entry each) and code extraction."""

from __future__ import annotations

import inspect

from codeladder.errors import LadderError
from codeladder.prompts.base import Prompt, Strategy
from codeladder.prompts.extract import extract_code
from codeladder.registry import new_registry

STRATEGIES = new_registry("strategy")
STRATEGIES.add("standard", "the task as given: a signature to complete, or the instruction with its tests",
               "codeladder.prompts.standard:STANDARD", aliases=("default",))
STRATEGIES.add("few-shot", "--shots N solved exemplars before the task (they teach the format, not the answer)",
               "codeladder.prompts.few_shot:few_shot", reference="https://arxiv.org/abs/2005.14165")
STRATEGIES.add("scot", "structured chain of thought: plan in sequence/branch/loop steps, then code",
               "codeladder.prompts.scot:SCOT", reference="https://arxiv.org/abs/2305.06599")
STRATEGIES.add("cot", "chain of thought: reason step by step, then code (CRUXEval: the paper's CoT prompt)",
               "codeladder.prompts.cot:COT", reference="https://arxiv.org/abs/2201.11903")
STRATEGIES.add("cgo", "chain of grounded objectives: decompose into small helper functions, then code",
               "codeladder.prompts.cgo:CGO", reference="https://arxiv.org/abs/2501.13978")
STRATEGIES.add("reflexion", "generate, run the prompt's own examples, show the model a failing one and regenerate "
               "(--reflexion-rounds R, default 2); chat mode", "codeladder.prompts.reflexion:reflexion",
               reference="https://arxiv.org/abs/2303.11366")


def get_strategy(name: str, shots: int = 1, rounds: int = 2) -> Strategy:
    """The strategy ``name``; a factory takes the options it names (``shots``, ``rounds``)."""
    made = STRATEGIES.get(name, "--strategy").load()
    if isinstance(made, Strategy):
        return made
    accepted = inspect.signature(made).parameters
    return made(**{key: value for key, value in {"shots": shots, "rounds": rounds}.items() if key in accepted})


def single_turn_strategy(name: str, shots: int = 1) -> Strategy:
    """A strategy whose prompt is answered in one turn (distill's teacher, SFT rows); a multi-turn one is refused,
    since only ``ladder eval`` runs its loop."""
    strategy = get_strategy(name, shots)
    if getattr(strategy, "rounds", 0):
        raise LadderError(f"--strategy {name}: a multi-turn strategy that only `ladder eval` runs; here a prompt is "
                          "answered in one turn: choose standard, few-shot, cot, scot or cgo")
    return strategy


__all__ = ["Prompt", "Strategy", "STRATEGIES", "get_strategy", "single_turn_strategy", "extract_code"]
