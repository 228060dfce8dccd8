"""Backends end to end: llama.cpp on a GGUF file, a real llama.cpp server on loopback, and a faulty server."""

import json
import socket
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler

import pytest

from codeladder.backends import GenerationParams, Prompt, Request, open_engine
from codeladder.errors import LadderError
from codeladder.runs import read_jsonl
from conftest import ladder, send_json, serve_http


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



def serve(gguf):
    """A real llama.cpp server on a free loopback port: yields its base URL, stops it afterwards."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host",
                                "127.0.0.1", "--port", str(port), "--n_ctx", "2048"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    time.sleep(0.5)
    yield f"http://127.0.0.1:{port}/v1"
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def llama_server(tiny_gguf):
    yield from serve(tiny_gguf)


def spine_files_ok(run, samples: int) -> dict:
    assert len(read_jsonl(run / "samples.jsonl")) == samples
    assert len(read_jsonl(run / "results.jsonl")) == samples
    return json.loads((run / "summary.json").read_text())


def test_eval_through_llamacpp(tiny_gguf, tmp_path):
    ladder("eval", "humaneval", "--model", str(tiny_gguf), "--limit", "3", "--n", "2", "--temperature", "0.8",
           "--max-new-tokens", "16", "--output", str(tmp_path / "run"), cwd=tmp_path)
    summary = spine_files_ok(tmp_path / "run", 6)
    assert summary["backend"] == "llamacpp" and summary["device"] == "cpu"
    assert summary["dtype"].startswith("gguf")


def test_eval_through_a_real_llama_cpp_server(llama_server, tmp_path):
    ladder("eval", "mbpp", "--backend", "openai", "--base-url", llama_server, "--limit", "3", "--n", "2",
           "--temperature", "0.8", "--max-new-tokens", "16", "--output", str(tmp_path / "run"), cwd=tmp_path)
    summary = spine_files_ok(tmp_path / "run", 6)
    assert summary["backend"] == "openai" and llama_server in summary["device"]
    rows = read_jsonl(tmp_path / "run" / "samples.jsonl")
    assert all(r["completion_tokens"] > 0 for r in rows)


def test_completion_endpoint_of_a_real_server(llama_server):
    backend = open_engine(None, "openai", base_url=llama_server, endpoint="completions")
    out = backend.generate([Request("a", Prompt(text="def add(a, b):\n"))],
                           GenerationParams(max_new_tokens=8, temperature=0.0, logprobs=True))
    assert out[0].completion_tokens > 0 and out[0].mean_logprob is not None and out[0].mean_logprob <= 0


class FaultyServer:
    """An OpenAI-shaped server on loopback that misbehaves on purpose."""

    def __init__(self, behaviour: str, failures: int = 0, delay: float = 0.0):
        self.behaviour, self.failures, self.delay, self.calls = behaviour, failures, delay, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                outer.calls += 1
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(outer.delay)
                failing = outer.behaviour == "garbage" or (outer.behaviour == "flaky" and outer.calls <= outer.failures) \
                    or (outer.behaviour == "dies" and outer.calls > outer.failures)
                if failing and outer.behaviour == "garbage":
                    body, status = b"<html>not json", 200
                elif failing:
                    body, status = b'{"error": "overloaded"}', 503
                else:
                    body, status = json.dumps({"choices": [{"message": {"content": "```python\ndef f():\n    return 1\n```"}}],
                                               "usage": {"prompt_tokens": 5, "completion_tokens": 7}}).encode(), 200
                send_json(self, body, status)

        self.server, self.url = serve_http(Handler)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


REQUEST = [Request("t", Prompt(text="x", messages=[{"role": "user", "content": "hi"}]))]


def test_a_flaky_server_is_retried():
    server = FaultyServer("flaky", failures=2)
    try:
        engine = open_engine(None, "openai", base_url=server.url, retries=3, backoff_s=0.01)
        out = engine.generate(REQUEST, GenerationParams())
        assert "def f()" in out[0].text and server.calls == 3
    finally:
        server.close()


@pytest.mark.parametrize("behaviour,delay", [("garbage", 0.0), ("slow", 1.0)])
def test_garbage_or_slow_server_gives_a_clear_error(behaviour, delay):
    server = FaultyServer(behaviour if behaviour == "garbage" else "flaky", failures=0, delay=delay)
    try:
        backend = open_engine(None, "openai", base_url=server.url, retries=1, backoff_s=0.01,
                              request_timeout=0.3)
        with pytest.raises(LadderError, match="no usable answer after 2 tries"):
            backend.generate(REQUEST, GenerationParams())
    finally:
        server.close()


def test_server_down_is_one_line_and_no_finished_sample_is_lost(tmp_path):
    server = FaultyServer("dies", failures=4)
    run = tmp_path / "run"
    args = ("eval", "humaneval", "--backend", "openai", "--base-url", server.url, "--limit", "6",
            "--concurrency", "1", "--output", str(run))  # chunks of 4 x --concurrency
    try:
        done = ladder(*args, cwd=tmp_path, check=False, timeout=120)
    finally:
        server.close()
    assert done.returncode == 2 and "Traceback" not in done.stderr and "no usable answer" in done.stderr
    kept = read_jsonl(run / "samples.jsonl")
    assert len(kept) == 4  # the chunks that finished before the server died
    healthy = FaultyServer("flaky", failures=0)
    try:
        ladder(*[a if a != server.url else healthy.url for a in args], cwd=tmp_path)
    finally:
        healthy.close()
    rows = read_jsonl(run / "samples.jsonl")
    assert len(rows) == 6 and rows[:4] == kept
    assert healthy.calls == 2  # only the missing samples were asked for


@pytest.fixture(scope="module")
def second_llama_server(tiny_gguf):
    yield from serve(tiny_gguf)


def test_requests_spread_across_two_servers_with_the_same_results(llama_server, second_llama_server, tmp_path):
    runs = {}
    for name, urls in (("one", llama_server), ("two", f"{llama_server},{second_llama_server}")):
        ladder("eval", "humaneval", "--backend", "openai", "--base-url", urls, "--limit", "4", "--n", "2",
               "--temperature", "0", "--max-new-tokens", "12", "--concurrency", "2", "--output",
               str(tmp_path / name), cwd=tmp_path)
        runs[name] = (json.loads((tmp_path / name / "summary.json").read_text()),
                      sorted((r["task_id"], r["sample_index"], r["raw"]) for r in
                             read_jsonl(tmp_path / name / "samples.jsonl")))
    served = runs["two"][0]["servers"]
    assert set(served) == {llama_server, second_llama_server}
    assert all(count > 0 for count in served.values()) and sum(served.values()) == 8
    assert runs["one"][1] == runs["two"][1]  # same completions, same order of tasks and samples
    assert runs["one"][0]["pass_at_k"] == runs["two"][0]["pass_at_k"]


def test_a_dead_server_among_several_is_avoided(llama_server):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    backend = open_engine(None, "openai", base_url=f"{dead},{llama_server}", endpoint="completions", retries=2,
                          backoff_s=0.01)
    out = backend.generate([Request(str(i), Prompt(text=f"def f{i}():\n")) for i in range(4)],
                           GenerationParams(max_new_tokens=4, temperature=0.0))
    assert len(out) == 4 and all(c.completion_tokens > 0 for c in out)
    assert backend.describe()["servers"] == {dead: 0, llama_server: 4}
