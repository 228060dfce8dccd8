"""Data builders shared by the finetune tests."""

import json
from pathlib import Path

from conftest import send_json, serve_http


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def sft_rows(count: int) -> list[dict]:
    return [{"prompt": f"Write add{i}(x) that returns x plus {i}.", "completion": f"def add{i}(x):\n    return x + {i}\n"}
            for i in range(count)]


def pair_rows(count: int) -> list[dict]:
    return [{"prompt": f"Write add{i}(x) that returns x plus {i}.", "chosen": f"def add{i}(x):\n    return x + {i}\n",
             "rejected": f"def add{i}(x):\n    return x - {i}\n"} for i in range(count)]


class ScriptedTeacher:
    """An OpenAI-shaped chat server on loopback that answers each task by a script: ``answers[task_id]`` is a list
    of answers given in turn (the last one repeats), so the kept/dropped counts are known in advance whatever
    order concurrent requests arrive in. A request is matched to its task by the task's instruction text."""

    def __init__(self, tasks: list, answers: dict[str, list[str]]):
        import threading
        from http.server import BaseHTTPRequestHandler

        self.tasks, self.answers, self.calls = tasks, answers, {t.task_id: 0 for t in tasks}
        lock, outer = threading.Lock(), self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                text = "\n".join(m["content"] for m in body.get("messages", [])) or body.get("prompt", "")
                task = next(t for t in outer.tasks if t.instruction in text)
                with lock:
                    turn = outer.calls[task.task_id]
                    outer.calls[task.task_id] += 1
                script = outer.answers[task.task_id]
                answer = script[min(turn, len(script) - 1)]
                reply = json.dumps({"choices": [{"message": {"content": answer}, "text": answer}],
                                    "usage": {"prompt_tokens": 10, "completion_tokens": 20}}).encode()
                send_json(self, reply)

        self.server, self.url = serve_http(Handler)

    def reset(self) -> None:
        self.calls = dict.fromkeys(self.calls, 0)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def fenced(code: str) -> str:
    return f"Here is the function:\n```python\n{code.strip()}\n```\n"
