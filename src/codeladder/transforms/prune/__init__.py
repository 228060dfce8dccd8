"""``ladder prune``: Wanda and magnitude pruning (one module each, behind this registry)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from codeladder.errors import LadderError
from codeladder.models.checkpoint import CheckpointWriter, now
from codeladder.models.integrity import require_model_folder
from codeladder.transforms.prune.base import mask_lowest, prunable_layers
from codeladder.transforms.prune.magnitude import magnitude_scores
from codeladder.transforms.prune.wanda import wanda_scores

REGISTRY = {"wanda": (wanda_scores, True), "magnitude": (magnitude_scores, False)}  # name -> (scores, needs activations)


def default_calibration(samples: int = 128) -> list[str]:
    """Code from the bundled MBPP train split (task_id 601-974): never a benchmark's test task."""
    from codeladder.benchmarks.mbpp import Mbpp

    rows = [r for r in Mbpp().read_rows() if 601 <= int(r["task_id"]) <= 974]
    return [f"# {r['text']}\n{r['code']}".replace("\r\n", "\n") for r in rows[:samples]]


def read_calibration(path: Path, samples: int) -> list[str]:
    from codeladder.runs import read_input_jsonl

    texts = []
    for number, row in read_input_jsonl(path, "--calibration"):
        text = next((row[key] for key in ("text", "code", "prompt") if key in row), None)
        if not isinstance(text, str) or not text.strip():
            raise LadderError(f"{path}:{number}: expected a 'text', 'code' or 'prompt' field holding text")
        texts.append(text)
    if not texts:
        raise LadderError(f"--calibration {path}: no rows; give a JSONL file of {{\"text\": ...}} rows of code")
    return texts[:samples]


def input_norms(model, tokenizer, texts: list[str], max_length: int = 256) -> dict[str, torch.Tensor]:
    """||X||_2 per input channel of every prunable layer, over all calibration tokens."""
    layers = prunable_layers(model)
    sums = {name: torch.zeros(layer.in_features, dtype=torch.float64) for name, layer in layers.items()}
    hooks = []
    for name, layer in layers.items():
        def hook(module, inputs, output, name=name):
            x = inputs[0].detach().reshape(-1, inputs[0].shape[-1]).double()
            sums[name] += (x ** 2).sum(0)
        hooks.append(layer.register_forward_hook(hook))
    try:
        with torch.inference_mode():
            for text in texts:
                ids = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_length)["input_ids"]
                if ids.shape[1]:
                    model(ids)
    finally:
        for handle in hooks:
            handle.remove()
    if not any(bool(total.any()) for total in sums.values()):
        raise LadderError("calibration: the texts gave no tokens, so Wanda has no activations to weigh weights by; "
                          "give calibration text with code in it")
    return {name: total.sqrt() for name, total in sums.items()}


def _check_params(method: str, sparsity: float, structure: str, samples: int) -> None:
    if method not in REGISTRY:
        raise LadderError(f"--method {method}: choose one of {', '.join(REGISTRY)}")
    if structure not in ("unstructured", "2:4"):
        raise LadderError(f"--structure {structure}: choose unstructured or 2:4")
    if not 0 <= sparsity < 1:
        raise LadderError(f"--sparsity {sparsity}: must be in [0, 1)")
    if samples < 1:
        raise LadderError(f"--samples {samples}: must be at least 1")


def prune_model(folder: str | Path, out: str | Path, method: str = "wanda", sparsity: float = 0.5,
                structure: str = "unstructured", calibration: str | Path | None = None, samples: int = 128,
                text_for_perplexity: str | None = None) -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from codeladder.models.perplexity import hf_perplexity

    hf_logging.disable_progress_bar()
    folder, out = Path(folder), Path(out)
    _check_params(method, sparsity, structure, samples)
    if text_for_perplexity is not None and not text_for_perplexity.strip():
        raise LadderError("--text: the file is empty; give some text to measure perplexity on")
    config = require_model_folder(folder)
    scores_fn, needs_activations = REGISTRY[method]
    texts = (read_calibration(Path(calibration), samples) if calibration else default_calibration(samples))
    started = now()
    with CheckpointWriter(out, tokenizer_source=folder, config=config, lineage_source=folder,
                          inputs=[folder]) as writer:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype="auto").eval()
        original_dtype = next(p.dtype for p in model.parameters())
        norms = input_norms(model.float(), tokenizer, texts) if needs_activations else {}
        before = hf_perplexity(folder, text_for_perplexity)["perplexity"] if text_for_perplexity else None
        per_layer = {}
        with torch.no_grad():
            for name, layer in prunable_layers(model).items():
                keep = mask_lowest(scores_fn(layer.weight, norms.get(name)), sparsity, structure)
                layer.weight.mul_(keep)
                per_layer[name] = 1.0 - float(keep.float().mean())
        for name, tensor in model.to(original_dtype).state_dict().items():
            if not (name == "lm_head.weight" and config.get("tie_word_embeddings")):
                writer.add(name, tensor)
        params = {"method": method, "sparsity": 0.5 if structure == "2:4" else sparsity, "structure": structure,
                  "calibration": str(calibration) if calibration else f"bundled MBPP train split ({len(texts)} samples)"}
        report = {**params, "layers": per_layer,
                  "sparsity_achieved": sum(per_layer.values()) / len(per_layer) if per_layer else 0.0}
        if text_for_perplexity:
            report["perplexity_before"] = before
            report["perplexity_after"] = hf_perplexity(folder, text_for_perplexity, model=model.float())["perplexity"]
        writer.finish("prune", params, started_at=started,
                      extras={"prune_report.json": json.dumps(report, indent=2) + "\n"})
    return report
