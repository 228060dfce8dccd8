"""Import boundaries, checked in fresh interpreters: backends know nothing of benchmarks, and scoring
pre-generated samples or forking sandbox workers never loads torch."""

import json
import subprocess
import sys

import pytest


def loaded_after(statement: str) -> list[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_backends_import_no_benchmark_and_no_engine_library():
    modules = loaded_after("import codeladder.backends")
    assert not [m for m in modules if m.startswith("codeladder.benchmarks")]
    assert not [m for m in modules if m.split(".")[0] in ("torch", "transformers", "llama_cpp")]


@pytest.mark.parametrize("package", ["codeladder.sandbox", "codeladder.scoring"])
def test_sandbox_and_scoring_import_no_torch(package):
    assert "torch" not in loaded_after(f"import {package}")
