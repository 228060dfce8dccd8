"""The examples a task's prompt itself shows: what ``--rerank`` and ``--strategy reflexion`` may run, and nothing
else (never the hidden tests).

* function-style prompts (HumanEval): doctest ``>>>`` lines with the value printed below them, and lines written
  as ``name(literal args) <sep> value`` (``==``, ``=``, ``=>``, ``==>``, ``->``, ``➞``, ``returns``, ``should
  return``), as about a third of HumanEval's docstrings write their examples; calls whose arguments are not
  literals (``is_happy(a)``) are left out, as they would not run;
* description-style prompts (MBPP): the first listed assertion, which the prompt shows.

Hand-written: doctest's parser covers only the ``>>>`` form, and no library reads the others.
"""

from __future__ import annotations

import ast
import doctest
import re

from codeladder.benchmarks.base import Task

_SEPARATOR = re.compile(r"\s*(?:==>|=>|==|=|➞|->|→|should return|returns)\s*(.+?)\s*\.?\s*$")


def _call_end(line: str, start: int) -> int | None:
    """Index just after the parenthesised argument list that opens at ``line[start]``."""
    depth = 0
    for index in range(start, len(line)):
        if line[index] in "([{":
            depth += 1
        elif line[index] in ")]}":
            depth -= 1
            if depth == 0:
                return index + 1
    return None


def _literal(text: str) -> bool:
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return False
    return True


def _literal_call(source: str, name: str) -> str | None:
    """``source`` unparsed when it is ``name(...)`` with literal arguments only, else None."""
    try:
        node = ast.parse(source, mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name):
        return None
    arguments = [*node.args, *(k.value for k in node.keywords)]
    return ast.unparse(node) if all(_literal(ast.unparse(a)) for a in arguments) else None


def _doctest_examples(prompt: str) -> list[tuple[str, str | None]]:
    found = []
    for example in doctest.DocTestParser().get_examples(prompt):
        try:
            source = ast.unparse(ast.parse(example.source.strip(), mode="eval"))  # drops comments
        except SyntaxError:
            continue
        want = "\n".join(line for line in example.want.splitlines() if line.strip() not in ('"""', "'''"))
        if not want.strip() and isinstance(ast.parse(source, mode="eval").body, ast.Compare):
            want = "True"  # ">>> f(x) == y" with nothing printed below it
        found.append((source, want.strip() or None))
    return found


def _written_examples(task: Task) -> list[tuple[str, str | None]]:
    found = []
    for line in task.prompt.splitlines():
        text = line.strip()
        if not text.startswith(task.entry_point + "("):
            continue
        end = _call_end(text, len(task.entry_point))
        match = _SEPARATOR.match(text[end:]) if end else None
        call = _literal_call(text[:end], task.entry_point) if match else None
        if call and _literal(match.group(1)):
            found.append((call, match.group(1)))
    return found


def prompt_examples(task: Task) -> list[tuple[str, str | None]]:
    """(expression, expected value as the prompt writes it, or None) pairs the prompt itself shows."""
    if task.style == "function":
        return _doctest_examples(task.prompt) or _written_examples(task)
    for test in task.tests[:1]:  # the one example a description-style prompt shows first
        tree = ast.parse(test.strip())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == task.entry_point:
                return [(ast.unparse(node), None)]
    return []


def expectation(want: str) -> str:
    """A condition on ``__raw``/``__value``/``__text`` (the value, its repr, its str) in a program that ran the
    example: equal to the literal shown (numbers within 1e-6 relative), else the same text."""
    try:
        value = ast.literal_eval(want)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return f"{want!r} in (__value, __text)"
    if isinstance(value, float):
        return f"(isinstance(__raw, (int, float)) and abs(__raw - {value!r}) <= 1e-6 * max(1.0, abs({value!r})))"
    return f"__raw == {value!r}"


def first_assertion(task: Task) -> str | None:
    """The first assertion a description-style prompt lists, as written."""
    return task.tests[0].strip() if task.style == "description" and task.tests else None


__all__ = ["prompt_examples", "first_assertion", "expectation"]
