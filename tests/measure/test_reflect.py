"""``--strategy reflexion``: a scripted chat server on loopback answers wrong first and right after feedback; the
feedback comes from the prompt's own examples run in the real sandbox, and the hidden tests never reach the model."""

import ast
import json
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from codeladder.benchmarks import get_benchmark
from codeladder.measure.reflect import feedback_program, read_feedback
from codeladder.prompts import get_strategy
from codeladder.prompts.examples import prompt_examples
from codeladder.sandbox import Job, Limits, SandboxPool

from conftest import ladder, send_json, serve_http


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Scripted:
    """Answers each task by its turn: the first answer from ``first``, later ones the reference. Every request's
    messages are kept."""

    def __init__(self, tasks, first):
        self.requests, lock, outer = [], threading.Lock(), self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                messages = body["messages"]
                with lock:
                    outer.requests.append(messages)
                task = next(t for t in tasks if f"`{t.entry_point}`" in messages[1]["content"]
                            or f"def {t.entry_point}(" in messages[1]["content"])
                turn = sum(m["role"] == "assistant" for m in messages)
                code = first(task) if turn == 0 else task.reference
                answer = f"```python\n{code}\n```"
                send_json(self, json.dumps({"choices": [{"message": {"content": answer}}],
                                            "usage": {"prompt_tokens": 10 * (turn + 1), "completion_tokens": 7}
                                            }).encode())

        self.server, self.url = serve_http(Handler)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def wrong(task) -> str:
    return f"def {task.entry_point}(*args, **kwargs):\n    return None\n"


def hidden_arguments(task) -> list[str]:
    """The inputs of HumanEval's hidden ``check`` assertions, as written there."""
    found = []
    for node in ast.walk(ast.parse(task.data["test"])):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "candidate":
            found.append(", ".join(ast.unparse(a) for a in node.args))
    return found


@pytest.mark.parametrize("bench_name", ["humaneval", "mbpp-plus"])
def test_a_wrong_first_answer_is_fixed_from_the_prompt_examples_alone(bench_name, tmp_path):
    tasks = get_benchmark(bench_name).load()[:8]
    server = Scripted(tasks, wrong)
    run = tmp_path / "run"
    try:
        summary = json.loads(ladder("eval", bench_name, "--backend", "openai", "--base-url", server.url, "--model",
                                    "m", "--strategy", "reflexion", "--reflexion-rounds", "2", "--limit", "8",
                                    "--output", str(run), "--json").stdout)
    finally:
        server.close()
    with_examples = [t for t in tasks if prompt_examples(t)]
    assert summary["reflexion"]["reflected"] == len(with_examples) >= 6
    assert summary["pass_at_k"]["1"] == pytest.approx(len(with_examples) / 8)  # the reference, once told
    assert summary["strategy"] == "reflexion" and summary["template_hash"] != get_strategy("standard").template_hash
    rows = {r["task_id"]: r for r in read_jsonl(run / "samples.jsonl")}
    for task in tasks:
        record = rows[task.task_id]["reflexion"]
        assert record["visible"] == (["failed", "passed"] if task in with_examples else ["no examples"])
        assert rows[task.task_id]["prompt_tokens"] == (30 if task in with_examples else 10)  # every round counted
    follow_ups = [m for m in server.requests if len(m) > 2]
    assert len(follow_ups) == len(with_examples)
    for messages in follow_ups:
        task = next(t for t in tasks if t.entry_point in messages[1]["content"])
        feedback = messages[-1]["content"]
        assert messages[-2]["role"] == "assistant" and "Your code fails this example" in feedback
        assert "Your code gave: None" in feedback or "raised" in feedback
        if bench_name == "mbpp-plus":
            assert task.tests[0].strip() in feedback and task.tests[0].strip() in messages[1]["content"]
        else:  # the example shown is one of the docstring's; no hidden input reaches the model
            shown = feedback.split("example from the task:\n\n")[1].split("\n\n")[0]
            call = shown.removeprefix(">>> ").splitlines()[0]
            assert call in [source for source, _ in prompt_examples(task)]
            for arguments in hidden_arguments(task):
                assert f"{task.entry_point}({arguments})" not in feedback or arguments in task.prompt


def run_feedback(programs: list[str]) -> list[dict | None]:
    with SandboxPool(workers=2, limits=Limits(timeout_s=3)) as pool:
        verdicts = {v.key: v for v in pool.run(Job(str(i), p, capture=True) for i, p in enumerate(programs))}
    return [read_feedback(verdicts[str(i)]) for i in range(len(programs))]


def test_the_feedback_names_what_went_wrong():
    mbpp = get_benchmark("mbpp").load()[1]
    human = get_benchmark("humaneval").load()[2]  # truncate_number
    programs = [feedback_program(mbpp.reference, mbpp), feedback_program(wrong(mbpp), mbpp),
                feedback_program("def truncate_number(x):\n    return x\n", human),
                feedback_program("def truncate_number(x):\n    return 1 / 0\n", human),
                feedback_program("def truncate_number(x):\n    while True:\n        pass\n", human),
                feedback_program("import os\nos._exit(0)\n", human),
                feedback_program("def truncate_number(x) return x", human)]
    passed, mbpp_wrong, value, raised, endless, exited, broken = run_feedback(programs)
    assert passed is None
    assert mbpp_wrong == {"example": mbpp.tests[0].strip(), "got": "None"}
    assert value == {"example": ">>> truncate_number(3.5)\n0.5", "expected": "0.5", "got": "3.5"}
    assert raised["example"] == ">>> truncate_number(3.5)\n0.5" and raised["error"].startswith("ZeroDivisionError")
    assert "did not finish in time" in endless["error"]
    assert "exited with code 0 before the tests finished" in exited["error"]
    assert "SyntaxError" in broken["error"]


def test_reflexion_is_refused_where_it_cannot_work(tiny_model, tmp_path):
    done = ladder("eval", "humaneval", "--model", str(tiny_model), "--strategy", "reflexion", "--mode", "completion",
                  "--limit", "1", "--output", str(tmp_path / "r"), check=False)
    assert done.returncode == 2 and "needs chat mode" in done.stderr and "Traceback" not in done.stderr
    done = ladder("eval", "humaneval", "--strategy", "reflexion", "--limit", "1", "--output", str(tmp_path / "s"),
                  check=False)
    assert done.returncode == 2 and "reflexion" in done.stderr and "Traceback" not in done.stderr
    done = ladder("data", "sft", "mbpp-train", "--strategy", "reflexion", "-o", str(tmp_path / "rows.jsonl"),
                  check=False)  # one-turn consumers of a strategy refuse a multi-turn one
    assert done.returncode == 2 and "only `ladder eval` runs" in done.stderr and not (tmp_path / "rows.jsonl").exists()


def test_rounds_are_part_of_the_template_hash():
    hashes = {get_strategy("reflexion", rounds=r).template_hash for r in (1, 2, 3)}
    assert len(hashes) == 3 and get_strategy("standard").template_hash not in hashes
