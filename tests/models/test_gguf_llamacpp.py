"""GGUF exports run in real llama.cpp (llama-cpp-python), and their logits match transformers."""

import numpy as np
import pytest
import torch

from codeladder.backends import open_engine
from codeladder.models.gguf_export import export_gguf
from codeladder.models.tiny import TinySpec, build_tiny_model
from conftest import ladder

TEXT = ("def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n\n"
        "class Stack:\n    def __init__(self):\n        self.items = []\n")


@pytest.fixture(scope="module")
def k_quant_model(tmp_path_factory):
    """Rows of 256 so K-quants apply to every matrix."""
    return build_tiny_model(tmp_path_factory.mktemp("k") / "tiny256",
                            TinySpec(hidden=256, heads=4, kv_heads=2, intermediate=512, seed=3))


def cosines(folder, gguf_file) -> tuple[np.ndarray, list[int], list[int]]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    ids = tokenizer(TEXT)["input_ids"]
    with torch.no_grad():
        expected = AutoModelForCausalLM.from_pretrained(folder).eval()(torch.tensor([ids])).logits[0].numpy()
    with open_engine(gguf_file, n_ctx=256, logits_all=True, threads=2) as engine:
        llama_ids = engine.tokenize(TEXT)
        got = engine.logits(ids)
    cos = (got * expected).sum(-1) / np.linalg.norm(got, axis=-1) / np.linalg.norm(expected, axis=-1)
    return cos, ids, llama_ids


@pytest.mark.parametrize("kind,threshold", [("f16", 0.9999), ("q8_0", 0.999), ("q4_k", 0.98)])
def test_llama_cpp_logits_match_transformers(k_quant_model, tmp_path, kind, threshold):
    out = tmp_path / f"model-{kind}.gguf"
    ladder("export", str(k_quant_model), "--type", kind, "-o", str(out))
    cos, ids, llama_ids = cosines(k_quant_model, out)
    assert llama_ids == ids  # same tokenizer on both sides
    assert cos.min() >= threshold, (kind, float(cos.min()))


def test_llama_architecture_permutation(tmp_path):
    folder = build_tiny_model(tmp_path / "llama", TinySpec(arch="llama", hidden=64, heads=4, kv_heads=2))
    out = tmp_path / "llama.gguf"
    export_gguf(folder, out, "f32")
    cos, _, _ = cosines(folder, out)
    assert cos.min() >= 0.9999


def test_k_quant_reports_tensors_that_fall_back(tmp_path):
    folder = build_tiny_model(tmp_path / "narrow", TinySpec(hidden=64, heads=4, kv_heads=2))
    report = export_gguf(folder, tmp_path / "narrow-q4k.gguf", "q4_k")
    assert report.fallbacks  # rows of 64 cannot hold 256-wide K-quant blocks
    with open_engine(tmp_path / "narrow-q4k.gguf", n_ctx=256, threads=2) as engine:
        assert len(engine.tokenize("def f(): pass")) > 0


def test_quantize_reports_size_against_fp16_from_parameter_count(k_quant_model, tmp_path):
    import json

    done = ladder("quantize", str(k_quant_model), "--scheme", "q4_k", "-o", str(tmp_path / "q.gguf"), "--json")
    report = json.loads(done.stdout)
    assert report["fp16_bytes"] == 2 * report["parameters"]
    assert report["bytes"] == (tmp_path / "q.gguf").stat().st_size
    assert report["size_vs_fp16"] < 0.5


def test_rerank_by_logprob_on_a_gguf_model_writes_json(tiny_model, tmp_path):
    """llama.cpp's log-probabilities are numpy floats: the run files must still be plain JSON."""
    import json

    gguf = tmp_path / "tiny.gguf"
    ladder("export", str(tiny_model), "--type", "f16", "-o", str(gguf))
    done = ladder("eval", "humaneval", "--model", str(gguf), "--n", "2", "--temperature", "0.8", "--limit", "2",
                  "--max-new-tokens", "8", "--mode", "completion", "--rerank", "logprob", "--output",
                  str(tmp_path / "run"), "--json", cwd=tmp_path)
    summary = json.loads(done.stdout)
    assert summary["rerank"]["method"] == "logprob" and summary["rerank"]["tasks"] == 2
    rows = [json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(isinstance(r["mean_logprob"], float) for r in rows)
