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
