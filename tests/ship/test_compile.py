"""``ladder compile``: the tiny model as one executable file, run for real (no mocks).

The runtime (static llama.cpp) comes from the cache (``$CODELADDER_CACHE`` or ``~/.cache/codeladder``) when it
is there; on a fresh machine the first test that needs it builds it (about 13 minutes on 2 cores; conftest puts
this file first so the build overlaps the rest of the suite). Without cmake or a C++ compiler those tests fail
with the one-line reason ``ladder compile`` itself gives (``tools/system-deps.sh`` installs them). The output
guard and the missing-input error need no runtime and run first.
"""

import functools
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from codeladder.errors import LadderError
from codeladder.runs import read_jsonl
from codeladder.ship.compile import ALIGN, read_trailer
from codeladder.ship.runtime_build import build_runtime, require_tools, runtime_path
from conftest import ladder

PROMPT = "def fib(n):"


def test_outputs_are_guarded_and_a_missing_input_is_one_line_without_a_runtime(gguf, tmp_path, monkeypatch):
    monkeypatch.setenv("CODELADDER_CACHE", str(tmp_path / "empty-cache"))  # no runtime there: none is needed
    foreign = tmp_path / "notes.txt"
    foreign.write_text("mine")
    done = ladder("compile", str(gguf), "-o", str(foreign), check=False)
    assert done.returncode != 0 and "not a file `ladder compile` wrote" in done.stderr and "Traceback" not in done.stderr
    assert foreign.read_text() == "mine"
    done = ladder("compile", str(tmp_path / "missing.gguf"), "-o", str(tmp_path / "x.run"), check=False)
    assert done.returncode != 0 and "no such file or folder" in done.stderr
    assert not (tmp_path / "empty-cache" / "runtime").exists()  # refused before any build started


@pytest.fixture(scope="module")
def runtime() -> Path:
    if not runtime_path().exists():
        try:
            require_tools()
        except LadderError as exc:
            pytest.fail(f"{exc} (tools/system-deps.sh installs them)")
    return build_runtime()


@pytest.fixture(scope="module")
def gguf(tiny_model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ship") / "tiny-q8_0.gguf"
    ladder("export", str(tiny_model), "--type", "q8_0", "-o", str(out))
    return out


@pytest.fixture(scope="module")
def compiled(runtime, gguf) -> Path:
    out = gguf.parent / "tiny.run"
    ladder("compile", str(gguf), "-o", str(out))
    return out


@functools.lru_cache(maxsize=None)
def ladder_run_text(gguf: Path, prompt: str, tokens: int, mode: str = "auto") -> str:
    done = ladder("run", str(gguf), "--prompt", prompt, "--max-new-tokens", str(tokens), "--mode", mode)
    return json.loads(done.stdout.strip().splitlines()[-1])["text"]


def run_exe(exe: Path, *args: str, env: dict | None = None, cwd: Path | None = None, stdin: str | None = None) -> str:
    done = subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, cwd=cwd, input=stdin,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def has_interpreter(path: Path) -> bool:
    """Whether an ELF file asks for a dynamic loader (a PT_INTERP program header)."""
    data = path.read_bytes()[:1 << 16]
    assert data[:4] == b"\x7fELF" and data[4] == 2  # 64-bit
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return any(struct.unpack_from("<I", data, phoff + i * phentsize)[0] == 3 for i in range(phnum))


def test_the_file_is_the_static_runtime_then_the_gguf_byte_for_byte(compiled, gguf, runtime):
    offset, size = read_trailer(compiled)
    assert offset % ALIGN == 0 and offset >= runtime.stat().st_size
    assert size == gguf.stat().st_size and compiled.stat().st_size == offset + size + 24
    with open(compiled, "rb") as f:
        f.seek(offset)
        assert f.read(size) == gguf.read_bytes()
    assert not has_interpreter(compiled)  # static: no libc/libstdc++ needed on the target
    info = json.loads(run_exe(compiled, "--info"))
    assert info["gguf_offset"] == offset and info["gguf_bytes"] == size


@pytest.mark.parametrize("mode", ["auto", "completion"])  # the tiny model has a chat template: auto is chat
def test_prompt_prints_what_ladder_run_prints(compiled, gguf, mode):
    expected = ladder_run_text(gguf, PROMPT, 32, mode)
    assert expected
    assert run_exe(compiled, "--prompt", PROMPT, "-n", "32", "--mode", mode) == expected


def test_default_max_new_tokens_and_a_non_ascii_prompt_match_too(compiled, gguf):
    prompt = "def área(r):\n    \"\"\"π r² — the area\"\"\"\n"
    assert run_exe(compiled, "--prompt", prompt, "--mode", "completion") == ladder_run_text(gguf, prompt, 128,
                                                                                            "completion")


def test_no_arguments_is_an_interactive_prompt(compiled, gguf):
    expected = ladder_run_text(gguf, PROMPT, 16)
    assert run_exe(compiled, "-n", "16", stdin=PROMPT + "\n") == expected + "\n"
    two_lines = run_exe(compiled, "-n", "16", "--mode", "completion", stdin="def f(x):\\\n    return\n")
    assert two_lines == ladder_run_text(gguf, "def f(x):\n    return", 16, "completion") + "\n"


def test_it_runs_copied_to_a_clean_directory_with_an_empty_environment(compiled, gguf, tmp_path):
    clean = tmp_path / "elsewhere"
    clean.mkdir()
    exe = clean / "model.run"
    shutil.copy2(compiled, exe)
    env = {"PATH": str(clean)}  # like `env -i`: no HOME, no python on PATH, no LD_LIBRARY_PATH
    assert shutil.which("python3", path=env["PATH"]) is None and shutil.which("python", path=env["PATH"]) is None
    assert run_exe(exe, "--prompt", PROMPT, "-n", "24", env=env, cwd=clean) == ladder_run_text(gguf, PROMPT, 24)
    assert run_exe(Path("model.run"), "--prompt", PROMPT, "-n", "24", env=env, cwd=clean) == \
        ladder_run_text(gguf, PROMPT, 24)  # found through PATH, as `model.run --prompt ...`


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, process: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-2000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError("the compiled server did not become healthy")


def test_server_is_scored_by_ladder_eval_through_the_openai_backend(compiled, tmp_path):
    clean = tmp_path / "srv"
    clean.mkdir()
    port, log = free_port(), tmp_path / "server.log"
    with open(log, "wb") as sink:  # a file, not a pipe: a full pipe would stall the server's log writes
        process = subprocess.Popen([str(compiled), "--server", "--port", str(port), "--threads", "2"], cwd=clean,
                                   env={"PATH": "/nonexistent"}, stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_healthy(port, process, log)
        run = tmp_path / "run"
        ladder("eval", "humaneval", "--backend", "openai", "--base-url", f"http://127.0.0.1:{port}/v1", "--limit", "5",
               "--max-new-tokens", "32", "--output", str(run), cwd=tmp_path)
        summary = json.loads((run / "summary.json").read_text())
        assert summary["backend"] == "openai" and str(port) in summary["device"]
        samples, results = read_jsonl(run / "samples.jsonl"), read_jsonl(run / "results.jsonl")
        assert len(samples) == 5 and len(results) == 5
        assert all(s["completion_tokens"] > 0 for s in samples)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_model_folder_is_exported_on_the_way_and_its_own_output_is_replaced(compiled, tiny_model, gguf, tmp_path):
    out = tmp_path / "from-folder.run"
    report = json.loads(ladder("compile", str(tiny_model), "-o", str(out), "--type", "q8_0", "--json").stdout)
    assert report["gguf_type"] == "Q8_0" and report["runtime_bytes"] > 1_000_000
    assert report["total_bytes"] == out.stat().st_size > report["gguf_bytes"] + report["runtime_bytes"]
    assert run_exe(out, "--prompt", PROMPT, "-n", "16") == run_exe(compiled, "--prompt", PROMPT, "-n", "16")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging or export left behind
    ladder("compile", str(gguf), "-o", str(out))  # a file compile wrote may be replaced


def test_a_bare_runtime_says_it_holds_no_model(runtime, tmp_path):
    bare = tmp_path / "bare"
    shutil.copy2(runtime, bare)
    done = subprocess.run([str(bare), "--prompt", "x"], capture_output=True, text=True, env={}, timeout=60)
    assert done.returncode == 1 and "holds no model" in done.stderr
    assert os.access(bare, os.X_OK)
