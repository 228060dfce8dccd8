"""Training throughput and memory: ``ladder finetune`` (LoRA, QLoRA) against plain TRL + PEFT with the same
settings, in the same run, on a random-init model of Qwen2.5-Coder-0.5B's shape (hidden 896, 24 layers,
14 heads / 2 KV heads, MLP 4864, 151936 embedding rows, tied; ~494M parameters).

Each variant runs in its own process (peak memory is that process's peak RSS on CPU, peak allocated on CUDA).
A step is timed from the end of one optimizer step to the end of the next, so every callback, log and guard
the loop runs is in it; the first step (kernel and allocator warm-up, which the wrapper's first-step-loss guard
pays before the loop and plain TRL inside it) is left out. Every step trains the same batch shapes on both
sides, so its cost is fixed and interference only adds to it: throughput is trained tokens (padding excluded)
per step / the fastest step seen over ``--repeats`` rounds (order alternating each round); the median step
is printed too. A single pair of runs, timed by ``train_runtime``, measured the machine, not the wrapper: on
a shared 2-core host one run's loop is up to 3x slower than the next (a co-tenant on one core), which gave
+25% QLoRA overhead one run and -25% the next with the same code. On CPU each child runs ``--threads``
threads (default 1: two OpenMP threads with a co-tenant on one core stall at every barrier).
``loop s`` is TRL's ``train_runtime``; wall is the whole call: model load, dataset preparation, the wrapper's
guards (label mask, first-step loss), outputs. The wrapper's overhead target is <= 5% on the training loop.
Scale to compare with: LitGPT's published A10G LoRA Llama-3.2-1B, 2 epochs of Alpaca-2k: 4.2 min / 4.5 GB.

Usage: ``python benchmarks/train_throughput.py [--steps 4] [--layers 24] [--methods lora,qlora] [--repeats 3]
[--threads 1] [--device cpu]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS = 64
WARMUP_STEPS = 1  # leading optimizer steps left out of the throughput


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


class StepClock:
    """When each optimizer step of every ``Trainer`` built in this process ends (the same clock on both sides)."""

    def __init__(self, device: str):
        self.device, self.marks = device, []

    def install(self) -> None:
        from transformers import Trainer, TrainerCallback

        clock, init = self, Trainer.__init__

        class Mark(TrainerCallback):
            def on_train_begin(self, args, state, control, **kwargs):
                clock.mark()

            def on_step_end(self, args, state, control, **kwargs):
                clock.mark()

        def timed_init(trainer, *a, **k) -> None:
            init(trainer, *a, **k)
            trainer.add_callback(Mark())

        Trainer.__init__ = timed_init

    def mark(self) -> None:
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        self.marks.append(time.perf_counter())

    def periods(self) -> list[float]:
        """Seconds of each step after the warm-up steps."""
        return [round(b - a, 4) for a, b in zip(self.marks, self.marks[1:])][WARMUP_STEPS:]


def child(args) -> None:
    """One variant in this process; prints one JSON line."""
    import resource

    import torch

    kind, method = args.child.split(":")
    clock = StepClock(args.device)
    clock.install()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = (run_ours if kind == "ladder" else run_plain)(args, method, Path(tmp) / "out")
        tokens = _tokens_trained(args, result["steps"])
    wall = time.perf_counter() - started
    peak = (torch.cuda.max_memory_allocated() / 2 ** 20 if args.device.startswith("cuda")
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps({"variant": args.child, **result, "tokens": tokens, "wall_s": round(wall, 2),
                      "step_s": clock.periods(), "peak_memory_mb": round(peak)}))


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


def run_child(args, kind: str, method: str, model: Path, data: Path) -> dict:
    command = [sys.executable, __file__, "--child", f"{kind}:{method}", "--model", str(model), "--data", str(data),
               "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--device", args.device]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)} if args.threads else None
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"{kind}:{method} failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(result), flush=True)
    return result


def measure(args, method: str, model: Path, data: Path) -> tuple[dict, dict]:
    """(plain, ladder) over ``--repeats`` rounds, the order alternating each round."""
    runs: dict[str, list[dict]] = {"plain": [], "ladder": []}
    for round_ in range(args.repeats):
        for kind in ("plain", "ladder") if round_ % 2 == 0 else ("ladder", "plain"):
            runs[kind].append(run_child(args, kind, method, model, data))
    return summarize(runs["plain"]), summarize(runs["ladder"])


def summarize(runs: list[dict]) -> dict:
    """One side's rounds: its fastest and median step, tokens/s at the fastest, medians of the rest."""
    steps = [s for r in runs for s in r["step_s"]]
    tokens_per_step = runs[0]["tokens"] / runs[0]["steps"]
    summary = {key: statistics.median(r[key] for r in runs) for key in ("train_runtime_s", "wall_s", "peak_memory_mb")}
    return {**summary, "best_step_s": min(steps), "median_step_s": statistics.median(steps),
            "tokens_per_s": tokens_per_step / min(steps)}


def show(results: dict[str, tuple[dict, dict]], args) -> None:
    print(f"\n{args.repeats} rounds x {args.steps - WARMUP_STEPS} timed steps per side, order alternating; "
          f"threads {args.threads or 'default'}; loop/wall/peak: medians of the rounds")
    print(f"{'method':6} {'variant':16} {'tokens/s':>9} {'best s':>7} {'median s':>8} {'loop s':>7} {'wall s':>7} "
          f"{'peak MB':>8}")
    for method, sides in results.items():
        for name, r in zip(("plain TRL+PEFT", "ladder finetune"), sides):
            print(f"{method:6} {name:16} {r['tokens_per_s']:9.1f} {r['best_step_s']:7.3f} {r['median_step_s']:8.3f} "
                  f"{r['train_runtime_s']:7.2f} {r['wall_s']:7.2f} {r['peak_memory_mb']:8.0f}")
    for method, (plain, ours) in results.items():
        ratio = ours["tokens_per_s"] / plain["tokens_per_s"]
        print(f"{method}: ladder finetune / plain TRL+PEFT tokens/s = {ratio:.3f} (loop overhead {100 / ratio - 100:+.1f}%"
              f", target <= 5%; at the median step {100 * (ours['median_step_s'] / plain['median_step_s'] - 1):+.1f}%);"
              f" wall {ours['wall_s'] / plain['wall_s']:.2f}x, peak memory "
              f"{ours['peak_memory_mb'] / plain['peak_memory_mb']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--layers", type=int, default=24, help="24 = Qwen2.5-Coder-0.5B; fewer for a quick look")
    parser.add_argument("--methods", default="lora,qlora")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per side, order alternating")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of each child (0: torch's default)")
    parser.add_argument("--model", type=Path, help="an existing model folder (default: build one)")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    if args.steps <= WARMUP_STEPS:
        parser.error(f"--steps must be more than {WARMUP_STEPS} (the warm-up steps are not timed)")
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or build(Path(tmp) / "model", args.layers)
        data = args.data or write_data(Path(tmp) / "data.jsonl")
        results = {method: measure(args, method, model, data) for method in args.methods.split(",")}
    show(results, args)


if __name__ == "__main__":
    main()
