"""Training throughput and memory: ``ladder finetune`` (LoRA, QLoRA) against plain TRL + PEFT with the same
settings, in the same run, on a random-init model of Qwen2.5-Coder-0.5B's shape (hidden 896, 24 layers,
14 heads / 2 KV heads, MLP 4864, 151936 embedding rows, tied; ~494M parameters).

Each variant runs in its own process (peak memory is that process's peak RSS on CPU, peak allocated on CUDA).
Throughput is supervised-or-not trained tokens / TRL's own ``train_runtime`` (the training loop); wall is the
whole call: model load, dataset preparation, the wrapper's guards (label mask, first-step loss), outputs.
The wrapper's overhead target is <= 5% on the training loop. Scale to compare with: LitGPT's published
A10G LoRA Llama-3.2-1B, 2 epochs of Alpaca-2k: 4.2 min / 4.5 GB.

Usage: ``python benchmarks/train_throughput.py [--steps 4] [--layers 24] [--methods lora,qlora] [--device cpu]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS = 64


def build(path: Path, layers: int) -> Path:
    from codeladder.models.tiny import TinySpec, build_tiny_model

    spec = TinySpec(hidden=896, layers=layers, heads=14, kv_heads=2, intermediate=4864, pad_vocab_to=151936,
                    tie_embeddings=True, seed=0)
    return build_tiny_model(path, spec)


def write_data(path: Path) -> Path:
    rows = [{"prompt": f"Write a function f{i}(xs) that returns the sum of the squares of xs, plus {i}.",
             "completion": f"def f{i}(xs):\n    total = {i}\n    for x in xs:\n        total += x * x\n"
                           "    return total\n"} for i in range(ROWS)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def settings(args) -> dict:
    return dict(rank=16, alpha=32, dropout=0.05, lr=2e-4, batch_size=args.batch_size, max_steps=args.steps,
                max_length=256, seed=0)


def run_ours(args, method: str, out: Path) -> dict:
    from codeladder.transforms.finetune import finetune
    from codeladder.transforms.finetune.params import FinetuneParams

    report = finetune(FinetuneParams(base=args.model, data=args.data, output=out, method=method, val_split=0,
                                     device=args.device, **settings(args)))
    return {"steps": report["steps"], "train_runtime_s": report["train_runtime_s"]}


def run_plain(args, method: str, out: Path) -> dict:
    """TRL + PEFT as their docs show it, with the settings ``ladder finetune`` uses."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
    from trl import SFTConfig, SFTTrainer

    s = settings(args)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if method == "qlora":
        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                   bnb_4bit_compute_dtype=torch.float32, bnb_4bit_quant_storage=torch.float32)
        model = AutoModelForCausalLM.from_pretrained(args.model, quantization_config=quant,
                                                     device_map={"": args.device}, dtype=torch.float32)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    else:
        model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32, device_map={"": args.device})
    rows = [json.loads(line) for line in Path(args.data).read_text().splitlines()]
    data = Dataset.from_list([{"prompt": [{"role": "user", "content": r["prompt"]}],
                               "completion": [{"role": "assistant", "content": r["completion"]}]} for r in rows])
    config = SFTConfig(output_dir=str(out), max_steps=s["max_steps"], per_device_train_batch_size=s["batch_size"],
                       learning_rate=s["lr"], lr_scheduler_type="cosine", max_length=s["max_length"], seed=0,
                       logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
                       use_cpu=args.device == "cpu", bf16=False, gradient_checkpointing=False)
    lora = LoraConfig(r=s["rank"], lora_alpha=s["alpha"], lora_dropout=s["dropout"], task_type="CAUSAL_LM",
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    trainer = SFTTrainer(model=model, args=config, train_dataset=data, processing_class=tokenizer, peft_config=lora)
    trainer.train()
    history = trainer.state.log_history
    return {"steps": trainer.state.global_step,
            "train_runtime_s": next(e["train_runtime"] for e in history if "train_runtime" in e)}


def child(args) -> None:
    """One variant in this process; prints one JSON line."""
    import resource

    import torch

    kind, method = args.child.split(":")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = (run_ours if kind == "ladder" else run_plain)(args, method, Path(tmp) / "out")
        tokens = _tokens_trained(args, result["steps"])
    wall = time.perf_counter() - started
    peak = (torch.cuda.max_memory_allocated() / 2 ** 20 if args.device.startswith("cuda")
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps({"variant": args.child, **result, "tokens": tokens, "wall_s": round(wall, 2),
                      "tokens_per_s": round(tokens / result["train_runtime_s"], 1), "peak_memory_mb": round(peak)}))


def _tokens_trained(args, steps: int) -> int:
    """Tokens through the model in ``steps`` steps: the same rows, in the same seeded order, for both variants
    (counted from the chat-templated rows; padding excluded)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    rows = [json.loads(line) for line in Path(args.data).read_text().splitlines()]
    texts = [tokenizer.apply_chat_template([{"role": "user", "content": r["prompt"]},
                                            {"role": "assistant", "content": r["completion"]}], tokenize=False)
             for r in rows]
    lengths = [len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in texts]
    mean = sum(lengths) / len(lengths)
    return round(mean * args.batch_size * steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--layers", type=int, default=24, help="24 = Qwen2.5-Coder-0.5B; fewer for a quick look")
    parser.add_argument("--methods", default="lora,qlora")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", type=Path, help="an existing model folder (default: build one)")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or build(Path(tmp) / "model", args.layers)
        data = args.data or write_data(Path(tmp) / "data.jsonl")
        results = {}
        for method in args.methods.split(","):
            for kind in ("plain", "ladder"):
                command = [sys.executable, __file__, "--child", f"{kind}:{method}", "--model", str(model), "--data",
                           str(data), "--steps", str(args.steps), "--batch-size", str(args.batch_size),
                           "--device", args.device]
                done = subprocess.run(command, capture_output=True, text=True)
                if done.returncode:
                    sys.exit(f"{kind}:{method} failed:\n{done.stderr[-2000:]}")
                results[(kind, method)] = json.loads(done.stdout.strip().splitlines()[-1])
                print(json.dumps(results[(kind, method)]), flush=True)
        print(f"\n{'method':6} {'variant':12} {'tokens/s':>9} {'loop s':>7} {'wall s':>7} {'peak MB':>8}")
        for (kind, method), r in results.items():
            print(f"{method:6} {kind + ' ' + ('TRL+PEFT' if kind == 'plain' else 'finetune'):12} "
                  f"{r['tokens_per_s']:9.1f} {r['train_runtime_s']:7.2f} {r['wall_s']:7.2f} {r['peak_memory_mb']:8d}")
        for method in args.methods.split(","):
            plain, ours = results[("plain", method)], results[("ladder", method)]
            overhead = plain["tokens_per_s"] / ours["tokens_per_s"] - 1
            ratio = ours["tokens_per_s"] / plain["tokens_per_s"]
            print(f"{method}: ladder finetune / plain TRL+PEFT tokens/s = {ratio:.3f} (loop overhead "
                  f"{100 * overhead:+.1f}%, target <= 5%); wall {ours['wall_s'] / plain['wall_s']:.2f}x, "
                  f"peak memory {ours['peak_memory_mb'] / plain['peak_memory_mb']:.2f}x")


if __name__ == "__main__":
    main()
