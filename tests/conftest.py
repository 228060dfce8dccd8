import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def ladder(*args: str, cwd: Path | None = None, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real ``ladder`` CLI in a subprocess, as a user would."""
    done = subprocess.run([sys.executable, "-m", "codeladder.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env={**os.environ, "COLUMNS": "200"})
    if check and done.returncode != 0:
        raise AssertionError(f"ladder {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from codeladder.models.tiny import TinySpec, build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "qwen2", TinySpec(seed=1))


def send_json(handler, body: bytes, status: int = 200) -> None:
    """A JSON reply from a test's fake HTTP server (a ``BaseHTTPRequestHandler``)."""
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def serve_http(handler_class):
    """Serve ``handler_class`` on a free loopback port in a daemon thread: (server, its /v1 URL)."""
    import threading
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The real SmolLM2-135M-Instruct GGUF (98 MB), fetched once into the user's codeladder cache."""
    from codeladder.models.fetch import fetch_model

    return fetch_model("smollm2-135m-instruct")


@pytest.fixture(scope="session")
def smollm2_folder(smollm2_gguf, tmp_path_factory) -> Path:
    """The real model imported into an HF folder (float32, its tokenizer rebuilt from the GGUF)."""
    out = tmp_path_factory.mktemp("smollm2") / "hf"
    ladder("import", str(smollm2_gguf), "-o", str(out))
    return out
