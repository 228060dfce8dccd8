"""The prune verb: load the model, gather calibration activations when the method needs them, zero the
lowest-scored weights of every prunable layer, write the model and ``report.json`` (:class:`PruneReport`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from codeladder.errors import LadderError
from codeladder.models.arch import stored_items
from codeladder.models.checkpoint import CheckpointWriter, now
from codeladder.models.integrity import require_model_folder
from codeladder.params import read_text
from codeladder.registry import registry
from codeladder.transforms.prune import PruneParams
from codeladder.transforms.prune.base import mask_lowest, prunable_layers


@dataclass
class PruneReport:
    """``report.json`` of a prune (the perplexities only with ``--text``)."""

    method: str
    sparsity: float
    structure: str
    calibration: str
    layers: dict[str, float] = field(default_factory=dict)  # share of zeros per layer
    sparsity_achieved: float = 0.0
    perplexity_before: float | None = None
    perplexity_after: float | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


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


def prune(params: PruneParams) -> dict:
    """``ladder prune``: the report (also written as ``OUTPUT/report.json``)."""
    return _prune(params, read_text(params.text, "--text"))


prune_verb = prune  # the name earlier releases used


def prune_model(folder: str | Path, out: str | Path, *, text_for_perplexity: str | None = None, **settings) -> dict:
    """Prune ``folder`` into ``out`` (``settings`` as the flags are named: method, sparsity, structure,
    calibration, samples), with ``text_for_perplexity`` (the text itself) measured before and after."""
    return _prune(PruneParams(folder=folder, output=out, **settings), text_for_perplexity)


def _prune(params: PruneParams, text_for_perplexity: str | None) -> dict:
    from codeladder.measure.perplexity import perplexity

    folder, out, method, calibration = params.folder, params.output, params.method, params.calibration
    sparsity, structure, samples = params.sparsity, params.structure, params.samples
    entry = registry("prune").get(method, "--method")
    entry.params(**{k: v for k, v in dict(params).items() if k in entry.params.model_fields})  # its own checks
    if text_for_perplexity is not None and not text_for_perplexity.strip():
        raise LadderError("--text: the file is empty; give some text to measure perplexity on")
    config = require_model_folder(folder)
    texts = (read_calibration(Path(calibration), samples) if calibration else default_calibration(samples))
    report = PruneReport(method, 0.5 if structure == "2:4" else sparsity, structure,
                         str(calibration) if calibration else f"bundled MBPP train split ({len(texts)} samples)")
    started = now()
    with CheckpointWriter(out, tokenizer_source=folder, config=config, lineage_source=folder,
                          inputs=[folder]) as writer:
        model = _pruned(folder, entry, texts, report)
        for name, tensor in stored_items(model.state_dict().items(), config):
            writer.add(name, tensor)
        if text_for_perplexity:
            report.perplexity_before = perplexity(folder, text_for_perplexity)["perplexity"]
            report.perplexity_after = perplexity(folder, text_for_perplexity, loaded_model=model.float())["perplexity"]
        params = {"method": method, "sparsity": report.sparsity, "structure": structure,
                  "calibration": report.calibration}
        writer.finish("prune", params, started_at=started, report=report)
    return report.as_dict()


def _pruned(folder: Path, entry, texts: list[str], report: PruneReport):
    """The model loaded and pruned in memory (in the input's dtype); the report gets its per-layer sparsity."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype="auto").eval()
    original_dtype = next(p.dtype for p in model.parameters())
    norms = input_norms(model.float(), tokenizer, texts) if entry.data["needs_activations"] else {}
    scores = entry.load()
    with torch.no_grad():
        for name, layer in prunable_layers(model).items():
            keep = mask_lowest(scores(layer.weight, norms.get(name)), report.sparsity, report.structure)
            layer.weight.mul_(keep)
            report.layers[name] = 1.0 - float(keep.float().mean())
    report.sparsity_achieved = sum(report.layers.values()) / len(report.layers) if report.layers else 0.0
    return model.to(original_dtype)
