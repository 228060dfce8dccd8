"""The installed llama.cpp on this CPU: the probe's real decision (a child process running the library's own
defaults on a Q8_0/Q4_0 model), its refusal when the child dies by a signal, and real Q8_0 and Q4_K generations
through llama-cpp-python's defaults and through `python -m llama_cpp.server`."""

import json
import os
import subprocess
import sys
import urllib.request

import pytest

from backends.test_backends import serve
from codeladder.backends.llamacpp_probe import probe, probe_key
from conftest import ladder


@pytest.fixture(scope="module")
def quantized(tiny_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("quantized")
    found = {}
    for kind in ("q8_0", "q4_k"):
        found[kind] = folder / f"tiny-{kind}.gguf"
        ladder("export", str(tiny_model), "--type", kind, "-o", str(found[kind]))
    return found


def test_the_probe_passes_here_and_its_decision_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("CODELADDER_CACHE", str(tmp_path))
    found = probe()
    assert found["ok"] is True and found["key"] == probe_key()
    cache = json.loads((tmp_path / "llamacpp-probe.json").read_text())
    assert cache[found["key"]]["ok"] is True
    cache[found["key"]]["detail"] = "from the cache"  # a second call reads it, runs no child
    (tmp_path / "llamacpp-probe.json").write_text(json.dumps(cache))
    assert probe()["detail"] == "from the cache"


def test_a_build_that_dies_on_quantized_products_stops_eval_in_one_line(quantized, tmp_path):
    env = {**os.environ, "CODELADDER_PROBE_CRASH": "1", "CODELADDER_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "codeladder.cli.main", "eval", "humaneval", "--model",
                           str(quantized["q8_0"]), "--limit", "1", "--output", str(tmp_path / "run")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    message = " ".join(done.stderr.split())
    assert "crashes on this CPU (a quantized matrix product killed the process with SIGILL" in message
    assert 'CMAKE_ARGS="-DGGML_AMX_TILE=OFF' in message and "--force-reinstall" in message
    assert not (tmp_path / "run" / "summary.json").exists()


@pytest.mark.parametrize("kind", ["q8_0", "q4_k"])
def test_llama_cpp_python_defaults_generate_from_quantized_models(quantized, kind):
    code = ("import sys; from llama_cpp import Llama; m = Llama(sys.argv[1], n_ctx=256, verbose=False); "
            "out = m.create_completion('def fib(n):', max_tokens=8, temperature=0.0); "
            "print(out['usage']['completion_tokens'])")
    done = subprocess.run([sys.executable, "-c", code, str(quantized[kind])], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-500:]  # a SIGILL would be -4
    assert int(done.stdout.split()[-1]) > 0


def test_the_llama_cpp_server_answers_from_a_q8_0_model(quantized):
    for url in serve(quantized["q8_0"]):
        body = json.dumps({"prompt": "def fib(n):", "max_tokens": 8, "temperature": 0}).encode()
        request = urllib.request.Request(f"{url}/completions", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = json.loads(response.read())
        assert answer["usage"]["completion_tokens"] > 0 and answer["choices"][0]["text"]


def test_extra_buffer_types_are_on_where_measured_faster_and_generate(quantized, tmp_path, monkeypatch):
    from codeladder.backends.llamacpp import extra_bufts_wanted

    monkeypatch.delenv("CODELADDER_LLAMACPP_EXTRA_BUFTS", raising=False)
    assert extra_bufts_wanted(quantized["q4_k"]) is True and extra_bufts_wanted(quantized["q8_0"]) is False
    monkeypatch.setenv("CODELADDER_LLAMACPP_EXTRA_BUFTS", "0")
    assert extra_bufts_wanted(quantized["q4_k"]) is False
    monkeypatch.delenv("CODELADDER_LLAMACPP_EXTRA_BUFTS")
    done = ladder("run", str(quantized["q4_k"]), "--prompt", "def fib(n):", "--max-new-tokens", "8", "--threads", "1")
    assert done.stdout.strip()  # generated with the repacked Q4_K layout
