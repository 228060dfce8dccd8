"""parity, bench, run, perplexity, speculative decoding and reranking on real tiny models."""

import json
import math

import pytest

from codeladder.benchmarks import get_benchmark
from codeladder.runs import read_jsonl
from conftest import ladder


def test_parity_hf_fp32_vs_llamacpp_f16(tiny_model, tiny_gguf):
    done = ladder("parity", str(tiny_model), str(tiny_gguf), "--json", "--greedy-tokens", "24")
    report = json.loads(done.stdout)
    assert report["positions"] > 500 and report["prompts"] == 8
    assert report["cosine_min"] >= 0.999 and report["passed"] is True
    assert report["greedy_agreement"] >= 0.95
    for key in ("cosine_mean", "kl_mean", "top1_agreement"):
        assert key in report


def test_parity_fails_below_threshold_and_across_models(tiny_model, tmp_path):
    from codeladder.models.tiny import TinySpec, build_tiny_model

    other = build_tiny_model(tmp_path / "other", TinySpec(seed=7))
    done = ladder("parity", str(tiny_model), str(other), "--json", "--greedy-tokens", "4", check=False)
    assert done.returncode == 1
    assert json.loads(done.stdout)["cosine_min"] < 0.999


def test_bfloat16_parity_is_measured_not_assumed(tiny_model):
    report = json.loads(ladder("parity", str(tiny_model), str(tiny_model), "--b-dtype", "bfloat16", "--json",
                               "--greedy-tokens", "4", "--min-cosine", "0.9", check=False).stdout)
    assert 0.9 < report["cosine_min"] < 1.0


def test_bench_json(tiny_model, tiny_gguf):
    for model in (tiny_model, tiny_gguf):
        # 128 new tokens: a tiny model decodes 32 in about the time of one first token, so a preempted first-token
        # run made bench refuse the measurement as timing noise (it should); the test measures far above that
        result = json.loads(ladder("bench", str(model), "--json", "--prompt-tokens", "32", "--new-tokens", "128",
                                   "--iterations", "5", "--batch-sizes", "1,4").stdout)
        for key in ("backend", "device", "prefill_tok_s", "decode_tok_s", "ttft_s"):
            assert key in result
        assert result["device"] == "cpu" and 0 < result["decode_tok_s"] < 1e6 and result["ttft_s"] > 0
        assert set(result["batch_tok_s"]) == {"1", "4"}


def test_speculative_decoding_keeps_the_greedy_output(tiny_model, tiny_gguf, tmp_path):
    """A draft that disagrees with the model (another seed) is consulted, and the output is still plain greedy
    decoding token for token; ``ladder bench`` reports the speed-up as the ratio of the two measured rates."""
    from codeladder.backends import open_engine
    from codeladder.errors import LadderError
    from codeladder.measure.bench import decode_rate, prompt_ids
    from codeladder.models.tiny import TinySpec, build_tiny_model

    draft = build_tiny_model(tmp_path / "draft", TinySpec(seed=7))
    for model, backend, option in ((tiny_model, "hf", str(draft)), (tiny_gguf, "llamacpp", "prompt-lookup")):
        with open_engine(model, backend) as plain_engine:
            ids = prompt_ids(plain_engine, 32)
            plain = plain_engine.greedy(ids, 12)
        with open_engine(model, backend, draft=option) as engine:
            calls = []
            if backend == "hf":  # the draft model really runs: count its forward passes
                engine.draft_model.register_forward_hook(lambda *_: calls.append(1))
            assert engine.greedy(ids, 12) == plain and not calls
            drafted = engine.greedy(ids, 12, use_draft=True)
        assert len(plain) == 12 and drafted == plain, backend
        if backend == "hf":
            assert calls, "the draft model was never run"
            draft_picks = open_engine(draft, "hf")
            with draft_picks:
                assert draft_picks.greedy(ids, 12) != plain  # a draft whose guesses are often rejected
        report = json.loads(ladder("bench", str(model), "--draft", option, "--json", "--prompt-tokens", "32",
                                   "--new-tokens", "128", "--iterations", "5", "--batch-sizes", "1").stdout)
        spec = report["draft"]
        assert spec["draft"] == option and spec["same_output"] is True
        for rate in (report["decode_tok_s"], spec["decode_tok_s"]):  # measured, not a clamped division
            assert math.isfinite(rate) and 0 < rate < 1e6
        assert spec["speedup"] == pytest.approx(spec["decode_tok_s"] / report["decode_tok_s"], rel=1e-9)
        assert 0.01 < spec["speedup"] < 100
    with pytest.raises(LadderError, match="lost in timing noise"):  # 12 tokens "faster" than the first one
        decode_rate(12, 0.0014, 0.45)


def test_run_prompt_and_batch(tiny_gguf, tmp_path):
    batch = tmp_path / "batch.jsonl"
    batch.write_text('{"prompt": "def add(a, b):\\n"}\n{"messages": [{"role": "user", "content": "hi"}]}\n')
    out = tmp_path / "out.jsonl"
    ladder("run", str(tiny_gguf), "--batch-jsonl", str(batch), "--max-new-tokens", "6", "-o", str(out))
    rows = read_jsonl(out)
    assert len(rows) == 2
    assert all(r["completion_tokens"] > 0 and r["latency_s"] > 0 and r["tok_s"] > 0 for r in rows)
    assert rows[1]["chat"] is True


def test_perplexity_agrees_between_backends(tiny_model, tiny_gguf, tmp_path):
    text = tmp_path / "code.py"
    text.write_text("\n".join(t.prompt for t in get_benchmark("humaneval").load()[:6]))
    hf = json.loads(ladder("perplexity", str(tiny_model), "--text", str(text), "--max-length", "128", "--stride",
                           "64", "--json").stdout)
    llama = json.loads(ladder("perplexity", str(tiny_gguf), "--text", str(text), "--max-length", "128", "--stride",
                              "64", "--json").stdout)
    assert hf["tokens"] == llama["tokens"] > 100
    assert hf["perplexity"] == pytest.approx(llama["perplexity"], rel=1e-3)


def three_samples_per_task(path):
    with open(path, "w") as f:
        for task in get_benchmark("humaneval").load():
            f.write(json.dumps({"task_id": task.task_id, "solution": task.prompt + "    return None\n"}) + "\n")
            for _ in range(2):
                f.write(json.dumps({"task_id": task.task_id, "solution": task.reference}) + "\n")
    return path


@pytest.mark.parametrize("method", ["exec", "majority"])
def test_rerank_uses_only_the_prompt_examples(method, tmp_path):
    samples = three_samples_per_task(tmp_path / "samples.jsonl")
    summary = json.loads(ladder("eval", "humaneval", "--samples", str(samples), "--rerank", method, "--output",
                                str(tmp_path / "run"), "--json").stdout)
    picked = json.loads((tmp_path / "run" / "rerank.json").read_text())["picked"]
    from codeladder.prompts.examples import prompt_examples

    tasks = {t.task_id: t for t in get_benchmark("humaneval").load()}
    with_examples = [t for t in tasks if prompt_examples(tasks[t])]
    without = [t for t in tasks if t not in with_examples]
    assert all(picked[t] == 0 for t in without)  # nothing to run: no peeking at the hidden tests
    assert sum(picked[t] != 0 for t in with_examples) >= 0.9 * len(with_examples)
    assert summary["rerank"]["pass_at_1"] == pytest.approx(sum(picked[t] != 0 for t in tasks) / 164)


def test_rerank_by_logprob_picks_the_most_likely_sample(tiny_model, tmp_path):
    summary = json.loads(ladder("eval", "humaneval", "--model", str(tiny_model), "--n", "3", "--temperature", "1.0",
                                "--limit", "3", "--max-new-tokens", "8", "--rerank", "logprob", "--output",
                                str(tmp_path / "run"), "--json").stdout)
    samples = read_jsonl(tmp_path / "run" / "samples.jsonl")
    picked = json.loads((tmp_path / "run" / "rerank.json").read_text())["picked"]
    for task_id, index in picked.items():
        rows = [s for s in samples if s["task_id"] == task_id]
        assert all(s["mean_logprob"] is not None for s in rows)
        assert max(rows, key=lambda s: s["mean_logprob"])["sample_index"] == index
    assert summary["rerank"]["method"] == "logprob"
