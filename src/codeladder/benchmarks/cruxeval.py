"""CRUXEval (Gu et al., 2024): 800 short functions ``f``; predict the output for an input (``cruxeval-o``) or an
input that gives an output (``cruxeval-i``).

A prediction is judged by execution, never by string comparison, split as every benchmark here is: the candidate
process runs the row's code and evaluates the prediction (``cruxeval-o``: the output expression; ``cruxeval-i``:
the call ``f(...)``) and sends the value as plain data (:mod:`codeladder.sandbox.codec`); the trusted checker
compares it with ``==`` to the row's output, a literal it evaluates itself and never sends. That is the official
``assert output == prediction``, evaluated where the prediction cannot reach the answer. Upstream's rules kept: an
output prediction that calls ``f`` does not count (upstream skips strings holding ``f(<input>)``); an input
prediction must be a call of ``f``. Stricter than upstream: the arguments of that call may not name the row's own
module-level names, ``_``-names or the reflective builtins (``globals``, ``setattr``, ``exec``...), so they cannot
rebind ``f`` or what it reads before it runs (upstream evaluates any expression); the dataset's own inputs,
lambdas and method calls included, all pass this rule.

Prompts are the paper's (``facebookresearch/cruxeval`` ``prompts.py``, MIT): direct by default, chain of thought
with ``--strategy cot``. The answer is read from the last ``[ANSWER]`` block, else the last assertion, else the
text, as upstream's post-processing does. Hand-written: upstream's scorer runs predictions in its own process
with ``exec`` and its package downloads the data.
"""

from __future__ import annotations

import ast
import dataclasses
from typing import ClassVar

from codeladder.benchmarks.base import Benchmark, Task, TestProgram

RUNNER = "codeladder.benchmarks.cruxeval:check"
ANSWER = "__ladder_answer__"
_REFLECTIVE = frozenset({"globals", "locals", "vars", "exec", "eval", "compile", "setattr", "delattr", "getattr",
                         "__import__", "open", "breakpoint", "input", "memoryview", "type", "object", "super",
                         "classmethod", "staticmethod", "property", "help", "exit", "quit"})
_OUTPUT_INTRO = ("You are given a Python function and an assertion containing an input to the function. Complete the "
                 "assertion with a literal (no unsimplified expressions, no function calls) containing the output "
                 "when executing the provided code on the given input, even if the function is incorrect or "
                 "incomplete. Do NOT output any extra information. ")
_OUTPUT_DIRECT = (_OUTPUT_INTRO + "Provide the full assertion with the correct output in [ANSWER] and [/ANSWER] "
                  "tags, following the examples.\n\n"
                  "[PYTHON]\ndef f(n):\n    return n\nassert f(17) == ??\n[/PYTHON]\n[ANSWER]\nassert f(17) == 17\n"
                  "[/ANSWER]\n\n[PYTHON]\ndef f(s):\n    return s + \"a\"\nassert f(\"x9j\") == ??\n[/PYTHON]\n"
                  "[ANSWER]\nassert f(\"x9j\") == \"x9ja\"\n[/ANSWER]\n\n"
                  "[PYTHON]\n{code}\nassert f({input}) == ??\n[/PYTHON]\n[ANSWER]\n")
_OUTPUT_COT = (_OUTPUT_INTRO + "Execute the program step by step before arriving at an answer, and provide the full "
               "assertion with the correct output in [ANSWER] and [/ANSWER] tags, following the examples.\n\n"
               "[PYTHON]\ndef f(s):\n    s = s + s\n    return \"b\" + s + \"a\"\nassert f(\"hi\") == ??\n[/PYTHON]\n"
               "[THOUGHT]\nLet's execute the code step by step:\n\n"
               "1. The function f is defined, which takes a single argument s.\n"
               "2. The function is called with the argument \"hi\", so within the function, s is initially \"hi\".\n"
               "3. Inside the function, s is concatenated with itself, so s becomes \"hihi\".\n"
               "4. The function then returns a new string that starts with \"b\", followed by the value of s (which "
               "is now \"hihi\"), and ends with \"a\".\n"
               "5. The return value of the function is therefore \"bhihia\".\n[/THOUGHT]\n[ANSWER]\n"
               "assert f(\"hi\") == \"bhihia\"\n[/ANSWER]\n\n[PYTHON]\n{code}\nassert f({input}) == ??\n[/PYTHON]\n"
               "[THOUGHT]\n")
_INPUT_DIRECT = ("You will be given a function f and an output in the form f(??) == output. Find any input such that "
                 "executing f on the input leads to the given output. There may be multiple answers, but you should "
                 "only output one. In [ANSWER] and [/ANSWER] tags, complete the assertion with one such input that "
                 "will produce the output when executing the function.\n\n"
                 "[PYTHON]\ndef f(my_list):\n    count = 0\n    for i in my_list:\n        if len(i) % 2 == 0:\n"
                 "            count += 1\n    return count\nassert f(??) == 3\n[/PYTHON]\n[ANSWER]\n"
                 "assert f([\"mq\", \"px\", \"zy\"]) == 3\n[/ANSWER]\n\n"
                 "[PYTHON]\ndef f(s1, s2):\n    return s1 + s2\nassert f(??) == \"banana\"\n[/PYTHON]\n[ANSWER]\n"
                 "assert f(\"ba\", \"nana\") == \"banana\"\n[/ANSWER]\n\n"
                 "[PYTHON]\n{code}\nassert f(??) == {output}\n[/PYTHON]\n[ANSWER]\n")
_INPUT_COT = ("You will be given a function f and an output in the form f(??) == output. Your task is to find any "
              "input such that executing f on the input leads to the given output. There may be multiple answers, "
              "but only output one. First, think step by step. You MUST surround the answer with [ANSWER] and "
              "[/ANSWER] tags. Express your answer as a passing assertion containing the input and the given "
              "output.\n\n[PYTHON]\ndef f(x):\n    return x + 1\nassert f(??) == 17\n[/PYTHON]\n[THOUGHT]\n"
              "To find an input such that executing f on the input leads to the given output, we can work backwards "
              "from the given assertion. We know that f(??) == 17. \n\nSince the function f(x) returns x + 1, for "
              "f(??) to be equal to 17, the value of ?? should be 16. \n[/THOUGHT]\n[ANSWER]\nassert f(16) == 17\n"
              "[/ANSWER]\n\n[PYTHON]\n{code}\nassert f(??) == {output}\n[/PYTHON]\n[THOUGHT]\n")


def _expression(text: str) -> ast.expr | None:
    try:
        return ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _last_assertion(text: str) -> ast.Compare | None:
    """The last ``assert A == B`` in the text (it may span lines), by AST."""
    start = len(text)
    while (start := text.rfind("assert", 0, start)) >= 0:
        lines = text[start:].split("\n")
        while lines:
            try:
                tree = ast.parse("\n".join(lines))
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                lines.pop()
                continue
            node = tree.body[0] if tree.body else None
            if isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare) and \
                    isinstance(node.test.ops[0], ast.Eq) and len(node.test.ops) == 1:
                return node.test
            break
    return None


def _module_names(code: str) -> set[str]:
    """The names the row's code binds at module level (``f``, and the constants of a few rows)."""
    names = set()
    for node in ast.parse(code).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:
            names.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    return names


def _calls_f(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "f" for n in ast.walk(node))


class _CruxEval(Benchmark):
    data_file = "cruxeval.jsonl.gz"
    sha256 = "9062d79f77f2c1c74e7c2aced32d8bcdd381d871d053ef91507bd3b1cb29bb32"
    source = "CRUXEval (facebookresearch/cruxeval, MIT)"
    default_timeout_s = 5.0  # upstream: 3 s a prediction
    completion_stops = ("[/ANSWER]", "<|endoftext|>", "<|im_end|>", "</s>")
    side: ClassVar[str]  # "output" or "input": what the model predicts

    def _rows_to_tasks(self, rows: list[dict]) -> list[Task]:
        tasks = []
        for row in rows:
            task = Task(task_id=row["id"], prompt="", instruction="", entry_point="f", style="prediction",
                        reference=row["output"] if self.side == "output" else f"f({row['input']})",
                        data={k: row[k] for k in ("code", "input", "output")})
            prompt = self._prompt(task, cot=False)
            tasks.append(dataclasses.replace(task, prompt=prompt, instruction=prompt))
        return tasks

    def _prompt(self, task: Task, cot: bool) -> str:
        template = {("output", False): _OUTPUT_DIRECT, ("output", True): _OUTPUT_COT,
                    ("input", False): _INPUT_DIRECT, ("input", True): _INPUT_COT}[self.side, cot]
        return template.format(**task.data)

    def own_prompt(self, task: Task, strategy: str) -> tuple[str, str]:
        text = self._prompt(task, cot=strategy == "cot")
        return text, text

    def answer(self, raw: str) -> tuple[str, str]:
        """(the prediction, how it was found): inside the last ``[ANSWER]`` block when there is one, the last
        assertion's output (``-o``) or call (``-i``), else that block's whole text (upstream's ``==`` split)."""
        from codeladder.prompts.extract import strip_reasoning  # lazily: benchmarks import nothing of prompts

        text, method = strip_reasoning(raw), "text"
        if "[ANSWER]" in text:
            text, method = text.rsplit("[ANSWER]", 1)[1], "answer-tag"
        text = text.split("[/ANSWER]", 1)[0].replace("```python", "").replace("```", "")
        compare = _last_assertion(text)
        if compare is not None:
            side = compare.comparators[0] if self.side == "output" else compare.left
            return ast.unparse(side), "assertion" if method == "text" else method
        if "==" in text:
            left, _, right = text.partition("==")
            text = right if self.side == "output" else left.split("assert", 1)[-1]
        return text.strip(), method

    def extract(self, task: Task, raw: str, chat: bool) -> tuple[str, str]:
        return self.answer(raw)

    def solution_from_completion(self, task: Task, completion: str) -> str:
        return self.answer(completion)[0]

    def refusal(self, task: Task, node: ast.expr) -> str | None:
        raise NotImplementedError

    def test_program(self, task: Task, solution: str) -> TestProgram:
        """The row's code plus ``__ladder_answer__`` returning the prediction for the candidate; the output
        literal for the checker alone. A prediction that does not parse or breaks the rules never runs."""
        node = _expression(solution)
        code = task.data["code"]
        spec = {"kind": "runner", "runner": RUNNER, "expected": task.data["output"], "side": self.side}
        if node is None:
            spec["refused"] = ["syntax_error", f"the prediction is not a Python expression: {solution[:200]!r}"]
        elif (why := self.refusal(task, node)) is not None:
            spec["refused"] = ["failed", why]
        else:
            code = f"{code}\n\ndef {ANSWER}():\n    return ({ast.unparse(node)})\n"
        return TestProgram(code, checker=spec)


class CruxEvalOutput(_CruxEval):
    name = "cruxeval-o"
    side = "output"

    def refusal(self, task: Task, node: ast.expr) -> str | None:
        return "the output prediction calls f (upstream does not count it)" if _calls_f(node) else None


class CruxEvalInput(_CruxEval):
    name = "cruxeval-i"
    side = "input"

    def refusal(self, task: Task, node: ast.expr) -> str | None:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "f"):
            return "the input prediction must be a call f(...)"
        own, arguments = _module_names(task.data["code"]), [*node.args, *node.keywords]
        handled = {id(n.func if isinstance(n, ast.Call) else n.value) for a in arguments for n in ast.walk(a)
                   if isinstance(n, (ast.Call, ast.Attribute))}  # called, or its attributes taken
        for sub in (n for a in arguments for n in ast.walk(a)):
            name = sub.id if isinstance(sub, ast.Name) else sub.attr if isinstance(sub, ast.Attribute) else None
            if name is not None and (name in _REFLECTIVE or name.startswith("_") or
                                     (isinstance(sub, ast.Name) and name in own and id(sub) in handled)):
                return f"the arguments of f may not use {name!r} that way (it could change f before f runs)"
        return None


def check(session, spec: dict) -> dict:
    """The trusted side: the prediction's value as plain data, compared with ``==`` to the row's output."""
    if spec.get("refused"):
        status, detail = spec["refused"]
        return {"status": status, "detail": detail}
    expected = ast.literal_eval(spec["expected"])
    try:
        value = session.call(ANSWER, ()).value
    except Exception as exc:  # noqa: BLE001 - what the prediction raised, rebuilt as data
        return {"status": "failed", "detail": f"the prediction raised {type(exc).__name__}: {str(exc)[:300]}"}
    try:
        same = bool(expected == value)
    except Exception:  # noqa: BLE001
        same = False
    if same:
        return {"status": "passed", "detail": ""}
    what = "f(input) returned" if spec.get("side") == "input" else "the predicted output is"
    return {"status": "failed", "detail": f"{what} {repr(value)[:200]}, expected {spec['expected'][:200]}"}
