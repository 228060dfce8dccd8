"""What ``ladder finetune`` (and ``ladder distill``, through it) leaves in OUT: ``adapter/`` (PEFT's own
``save_pretrained`` format, staged and renamed into place with a ``ladder.json`` lineage), ``merged/`` (a full
model through the one checkpoint writer: LoRA methods through :func:`codeladder.transforms.adapter.merge_adapter`,
``full`` by writing the trained state dict), and the lineage stage both carry: every hyperparameter and the
data's sha256 (and, for ``distill``, the teacher and its gate).
"""

from __future__ import annotations

from pathlib import Path

from codeladder.models.lineage import extend_lineage, fingerprint, now, stage_record, to_json
from codeladder.models.output import LINEAGE, begin_output, discard, publish
from codeladder.transforms.finetune.config import Job
from codeladder.transforms.finetune.params import ADAPTER_METHODS, FinetuneParams

ADAPTER, MERGED = "adapter", "merged"


def planned_outputs(params: FinetuneParams) -> list[str]:
    """The model folders a run will write into OUT."""
    adapter = [ADAPTER] if params.method in ADAPTER_METHODS else []
    return adapter + ([MERGED] if params.merge or params.method == "full" else [])


def check_outputs(params: FinetuneParams) -> None:
    """Before any training: the writer's own rules (:mod:`codeladder.models.output`: not an input, nothing of the
    user's replaced) for every folder the run will write, so a refusal comes before the training, not after it
    (with checkpoints left behind). The staging each check makes is dropped at once, and an OUT the check created
    is removed again."""
    out = Path(params.output)
    created = not out.exists()
    try:
        for name in planned_outputs(params):
            discard(begin_output(out / name, [Path(params.base), Path(params.data)], kind="folder"))
    finally:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()


def stage_params(job: Job) -> dict:
    """The lineage stage's parameters: the hyperparameters, the data file and its sha256, and what it holds."""
    return {**job.hyperparameters(), "data": str(job.params.data),
            "data_sha256": job.data_sha256, "rows_train": len(job.train_rows), "rows_val": len(job.val_rows),
            "data_kind": job.rows.kind,
            "contaminated": job.rows.contaminated, "device": job.device, "bf16": job.bf16, **job.stage_extra}


def save_adapter(job: Job, model, started: str) -> Path:
    """``OUT/adapter/``: the PEFT adapter and its lineage (the base's, plus this finetune stage)."""
    out = job.out / ADAPTER
    base, data = Path(job.params.base), Path(job.params.data)
    staged = begin_output(out, [base, data], kind="folder")
    model.save_pretrained(str(staged))
    record = stage_record(job.stage, stage_params(job), [fingerprint(base), fingerprint(data)], started)
    (staged / LINEAGE).write_text(to_json(extend_lineage(base, str(base), record)))
    return publish(staged, out)


def merge_lora(job: Job, adapter: Path) -> dict:
    """``OUT/merged/``: the adapter folded into the (full-precision) base by the project's merge-adapter, its
    lineage continuing the adapter's (so the finetune stage is in it)."""
    from codeladder.transforms.adapter import merge_adapter

    return merge_adapter(job.params.base, adapter, job.out / MERGED, lineage_source=adapter)


def save_full(job: Job, model, started: str, report: object) -> Path:
    """``OUT/merged/`` for ``--method full``: the trained weights, in the base's stored dtype, through the writer."""
    import torch

    from codeladder.models.arch import stored_items
    from codeladder.models.checkpoint import CheckpointWriter
    from codeladder.models.integrity import require_model_folder
    from codeladder.models.lazy import LazyTensors

    base, data = Path(job.params.base), Path(job.params.data)
    config = require_model_folder(base, "base")
    reader = LazyTensors(base)
    try:
        dtypes = {name: info.dtype for name, info in reader.infos.items()}
    finally:
        reader.close()
    torch_dtypes = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}
    with CheckpointWriter(job.out / MERGED, tokenizer_source=base, config=config, lineage_source=base,
                          inputs=[base, data]) as writer:
        for name, tensor in stored_items(model.state_dict().items(), config):
            if name not in dtypes:
                continue  # buffers (rotary inv_freq) are not stored in the base either
            writer.add(name, tensor.detach().to("cpu", torch_dtypes.get(dtypes[name], tensor.dtype)))
        return writer.finish(job.stage, stage_params(job), started_at=started, report=report)


__all__ = ["ADAPTER", "MERGED", "planned_outputs", "check_outputs", "stage_params", "save_adapter", "merge_lora",
           "save_full", "now"]
