"""The reflexion loop (``--strategy reflexion``): answers run on the examples their prompt shows, in the sandbox;
the ones that fail are answered again with the failure as feedback, up to the strategy's rounds.

What the model may see is what its prompt showed (:mod:`codeladder.prompts.examples`: docstring examples, MBPP's
first listed assertion) plus what its own code did on them; the hidden tests are never read here. The example run
is feedback, not a verdict: it runs in-process in a sandbox worker, and code that fakes passing it only stops its
own reflection. The last answer is scored by the trusted checker like any other sample.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from codeladder.backends.base import Completion, GenerationParams, Prompt, Request
from codeladder.benchmarks.base import Task
from codeladder.prompts.examples import expectation, first_assertion, prompt_examples
from codeladder.prompts.reflexion import Reflexion
from codeladder.sandbox import Job, Limits, SandboxPool, Verdict

MARK = "__LADDER_REFLECT__"
SHOWN_CHARS = 300  # of a value or an error message fed back


def _report(found: str) -> str:
    return f"    __ladder_report({found})"


def _error(example: str) -> str:
    return _report(f"{{'example': {example!r}, 'error': type(__exc).__name__ + ': ' + str(__exc)[:{SHOWN_CHARS}]}}")


def feedback_program(solution: str, task: Task) -> str | None:
    """A program that runs ``solution`` on the prompt's examples and prints the first failure as one JSON line
    (``null`` when all pass); None when the prompt shows no example to run."""
    examples, statement = prompt_examples(task), first_assertion(task)
    if not examples and statement is None:
        return None
    setup = str(task.data.get("setup") or "")  # the tests' own imports (MBPP), as `ladder eval` runs them
    lines = [solution, "", setup, "import json as __ladder_json", "", "def __ladder_report(found):",
             f"    print({MARK!r} + __ladder_json.dumps(found), flush=True)", "    raise SystemExit(0)", ""]
    if statement is None:
        for source, want in examples:
            shown = f">>> {source}" + (f"\n{want}" if want is not None else "")
            lines += ["try:", f"    __raw = {source}", "    __value, __text = repr(__raw), str(__raw)",
                      "except Exception as __exc:", _error(shown)]
            if want is not None:
                lines += [f"if not ({expectation(want)}):",
                          _report(f"{{'example': {shown!r}, 'expected': {want!r}, 'got': __value[:{SHOWN_CHARS}]}}")]
    else:
        lines.append("__value = None")
        if examples:  # the assertion's call, to show what it gave
            lines += ["try:", f"    __value = repr({examples[0][0]})[:{SHOWN_CHARS}]", "except Exception as __exc:",
                      _error(statement)]
        lines += ["try:", *(f"    {line}" for line in statement.splitlines()), "except AssertionError:",
                  _report(f"{{'example': {statement!r}, 'got': __value}}"), "except Exception as __exc:",
                  _error(statement)]
    lines.append("__ladder_report(None)")
    return "\n".join(lines) + "\n"


def read_feedback(verdict: Verdict) -> dict | None:
    """None: every example passed; else the failure (an example, or code that never got to the examples)."""
    for line in reversed(verdict.output_tail.splitlines()):
        if line.startswith(MARK):
            try:
                found = json.loads(line[len(MARK):])
            except ValueError:
                break
            if found is None or (isinstance(found, dict) and "example" in found):
                return found
            break
    if verdict.status == "timeout":
        return {"error": "it did not finish in time (an endless loop?)"}
    detail = (verdict.detail or verdict.status).strip().splitlines()
    return {"error": (detail[-1] if detail else verdict.status)[:SHOWN_CHARS]}


@dataclass
class Attempt:
    completion: Completion
    code: str
    method: str
    visible: str = "not run"  # passed | failed | no examples | not run
    feedback: dict | None = None

    def record(self) -> dict:
        return {"raw": self.completion.text, "extracted": self.code, "visible": self.visible,
                "feedback": self.feedback, "completion_tokens": self.completion.completion_tokens}


Extract = Callable[[Task, str], tuple[str, str]]


class Reflector:
    """The sandbox pool that runs answers on their prompts' examples, open for one generation."""

    def __init__(self, strategy: Reflexion, limits: Limits, workers: int, isolate: bool):
        self.strategy = strategy
        self.pool = SandboxPool(workers=workers, limits=limits, isolate=isolate)

    def __enter__(self) -> "Reflector":
        self.pool.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.pool.__exit__(*exc)

    def _judge(self, tasks: list[Task], attempts: list[Attempt]) -> None:
        jobs = {}
        for index, (task, attempt) in enumerate(zip(tasks, attempts)):
            program = feedback_program(attempt.code, task)
            if program is None:
                attempt.visible = "no examples"
            else:
                jobs[str(index)] = Job(str(index), program, capture=True)
        for verdict in self.pool.run(jobs.values()):
            attempt = attempts[int(verdict.key)]
            attempt.feedback = read_feedback(verdict)
            attempt.visible = "passed" if attempt.feedback is None else "failed"

    def run(self, tasks: list[Task], prompts: list[Prompt], first: list[Completion], backend,
            params: GenerationParams, extract: Extract) -> list[list[Attempt]]:
        """Every item's attempts, the first one ``first``; the last attempt of each is its answer."""
        history = [[Attempt(c, *extract(t, c.text))] for t, c in zip(tasks, first)]
        prompts, active = list(prompts), list(range(len(tasks)))
        for round_ in range(self.strategy.rounds + 1):
            self._judge([tasks[i] for i in active], [history[i][-1] for i in active])
            active = [i for i in active if history[i][-1].visible == "failed"]
            if round_ == self.strategy.rounds or not active:
                break
            for i in active:
                prompts[i] = self.strategy.follow_up(prompts[i], history[i][-1].completion.text,
                                                     history[i][-1].feedback)
            answers = backend.generate([Request(tasks[i].task_id, prompts[i]) for i in active], params)
            for i, completion in zip(active, answers):
                history[i].append(Attempt(completion, *extract(tasks[i], completion.text)))
        return history


def sample_fields(attempts: list[Attempt]) -> dict:
    """A sample row's fields: the last answer, the cost of every round summed, the attempts before it."""
    last = attempts[-1]
    return {"raw": last.completion.text, "extracted": last.code, "extraction": last.method,
            "prompt_tokens": sum(a.completion.prompt_tokens for a in attempts),
            "completion_tokens": sum(a.completion.completion_tokens for a in attempts),
            "seconds": round(sum(a.completion.seconds for a in attempts), 4),
            "mean_logprob": last.completion.mean_logprob,
            "reflexion": {"rounds": len(attempts) - 1, "visible": [a.visible for a in attempts],
                          "earlier": [a.record() for a in attempts[:-1]]}}


def reflexion_summary(samples: list[dict]) -> dict | None:
    """What the loop did over a run's samples (None for a run of another strategy)."""
    rows = [s["reflexion"] for s in samples if isinstance(s.get("reflexion"), dict)]
    if not rows:
        return None
    return {"samples": len(rows), "regenerations": sum(r["rounds"] for r in rows),
            "reflected": sum(r["rounds"] > 0 for r in rows),
            "no_examples": sum(r["visible"][0] == "no examples" for r in rows),
            "visible_passed_first": sum(r["visible"][0] == "passed" for r in rows),
            "visible_passed_last": sum(r["visible"][-1] == "passed" for r in rows)}


__all__ = ["Reflector", "Attempt", "feedback_program", "read_feedback", "sample_fields", "reflexion_summary", "MARK"]
