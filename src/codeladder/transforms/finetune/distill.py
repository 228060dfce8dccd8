"""``ladder distill --teacher T --student S --prompts P -o OUT``: distil a teacher into a student.

1. **Gate** (``--teacher-run RUN``): the teacher's pass@1 in that ``ladder eval`` run's ``summary.json`` must reach
   ``--min-teacher-pass``; a run of another model is refused too.
2. **Answers** (:mod:`.teacher`): the teacher (any backend, an OpenAI-compatible server included) answers every
   prompt ``--n`` times; answers to prompts with tests run in the sandbox and only passing ones are kept.
3. **Training**: the kept answers become ``OUT/distill_data.jsonl`` and the student is trained on them by
   ``ladder finetune``'s own code (:func:`codeladder.transforms.finetune.run.finetune`, same guards, outputs and
   ``--resume``), its lineage stage named ``distill``. ``--mode sequence`` is plain SFT on the answers;
   ``--mode logits`` (:mod:`.logits`) also matches the teacher's next-token distributions (shared tokenizer only).

``OUT/distill_report.json``: the teacher, the gate, the prompts, every answer kept or dropped with its reason,
then the fine-tuning report. Torch-free at import: ``ladder distill --help`` starts fast.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar, Optional


from codeladder.backends.options import GENERATION
from codeladder.errors import LadderError
from codeladder.params import OUTPUT, VerbParams, option
from codeladder.transforms.finetune.params import FinetuneParams, TEMPLATES

MODES = ("sequence", "logits")
DATA, ANSWERS, REPORT = "distill_data.jsonl", "teacher_answers.jsonl", "distill_report.json"
TEACHER_INFO = "teacher.json"  # the engine that answered, for a --resume that reuses the answers
# DistillParams field -> FinetuneParams field: the student's training settings, passed through as they are.
TRAINING = {"method": "method", "merge": "merge", "resume": "resume", "rank": "rank", "lora_alpha": "alpha",
            "lora_dropout": "dropout", "target_modules": "target_modules", "lr": "lr", "schedule": "schedule",
            "epochs": "epochs", "max_steps": "max_steps", "max_length": "max_length", "batch_size": "batch_size",
            "grad_accum": "grad_accum", "template": "template", "precision": "precision", "device": "device",
            "val_split": "val_split", "seed": "seed", "save_steps": "save_steps", "stop_if": "stop_if"}


_FINETUNE = FinetuneParams.model_fields  # the student's training options, declared once (in FinetuneParams)


class DistillParams(VerbParams):
    """Distil a teacher into a student: the teacher answers the prompts, answers that fail their tests are
    dropped, and the student is fine-tuned on the rest (--mode sequence) or on the teacher's logits too (--mode
    logits, shared tokenizer)."""

    verb: ClassVar[str] = "distill"
    teacher: str = option(..., "teacher: model folder, .gguf file, or the served model's name with --base-url")
    student: Path = option(..., "student model folder (the one trained)")
    prompts: str = option(..., "a benchmark whose tasks carry tests (e.g. mbpp-train), or a JSONL of {\"prompt\" or "
                               "\"messages\", \"tests\" (optional asserts), \"id\"}")
    output: Path = option(..., "folder to write adapter/, merged/, distill_report.json and the kept answers into",
                          flags=OUTPUT)
    mode: str = option("sequence", "sequence: fine-tune on the kept answers; logits: also match the teacher's "
                                   "next-token distributions (the two must share a tokenizer)", choices=MODES)
    teacher_backend: Optional[str] = option(None, "the teacher's engine (default: inferred from --teacher and "
                                                  "--base-url)", choices="backend")
    teacher_run: Optional[Path] = option(None, "a `ladder eval` run of the teacher: its pass@1 is the gate")
    min_teacher_pass: float = option(0.5, "refuse a teacher whose pass@1 on --teacher-run is below this", ge=0, le=1)
    n: int = option(1, "answers per prompt", ge=1)
    teacher_temperature: float = GENERATION["temperature"]  # the teacher's generation, as `ladder eval` takes it
    max_new_tokens: int = GENERATION["max_new_tokens"]
    teacher_mode: str = GENERATION["mode"]
    strategy: str = option("standard", "prompt strategy for a benchmark's tasks (see `ladder ls strategy`)",
                           choices="strategy")
    limit: Optional[int] = option(None, "only the first N prompts", ge=1)
    allow_test_split: bool = option(False, "accept a benchmark's test split as prompts (the output is marked "
                                           "contaminated)")
    workers: Optional[int] = option(None, "parallel sandbox workers for the tests (default: CPU cores)", ge=1)
    timeout: Optional[float] = option(None, "seconds per answer's tests (default: the benchmark's, else 5)", gt=0)
    temperature: float = option(2.0, "logits: softmax temperature of the distillation loss", gt=0)
    alpha: float = option(0.5, "logits: weight of the distillation loss; 1 - alpha weighs the answers' "
                               "cross-entropy", ge=0, le=1)
    lmbda: float = option(0.0, "logits: share of steps on the student's own answers (GKD on-policy)", ge=0, le=1)
    beta: float = option(0.0, "logits: generalized JSD interpolation (0: forward KL, 1: reverse KL)", ge=0, le=1)
    method: str = option("lora", "how the student is trained", choices=("lora", "qlora", "full"))
    merge: bool = _FINETUNE["merge"]
    resume: bool = option(False, "continue after a crash: the kept answers are reused, training resumes")
    rank: int = _FINETUNE["rank"]
    lora_alpha: float = _FINETUNE["alpha"]
    lora_dropout: float = _FINETUNE["dropout"]
    target_modules: _FINETUNE["target_modules"].annotation = _FINETUNE["target_modules"]
    lr: Optional[float] = _FINETUNE["lr"]
    schedule: str = _FINETUNE["schedule"]
    epochs: int = option(3, "epochs over the kept answers", ge=1)
    max_steps: Optional[int] = _FINETUNE["max_steps"]
    max_length: int = _FINETUNE["max_length"]
    batch_size: int = _FINETUNE["batch_size"]
    grad_accum: int = _FINETUNE["grad_accum"]
    template: str = option("auto", "the student's rows: auto (its chat template where it has one), chat, raw",
                           choices=TEMPLATES)
    precision: str = _FINETUNE["precision"]
    device: str = option("auto", "auto, cpu, cuda or cuda:N (training, and a local teacher)")
    val_split: float = option(0.1, "share of kept answers held out for the validation loss", ge=0, lt=1)
    seed: int = option(0, "seed for the teacher's sampling, the split and the training", ge=0)
    save_steps: int = _FINETUNE["save_steps"]
    stop_if: _FINETUNE["stop_if"].annotation = _FINETUNE["stop_if"]
    backend_options: dict[str, Any] = option({}, "the teacher backend's own options (its params class validates "
                                                 "them)")

    @property
    def teacher_backend_name(self) -> str:
        from codeladder.backends import infer_backend

        return self.teacher_backend or infer_backend(self.teacher, self.backend_options.get("base_url"))

    def finetune_params(self) -> FinetuneParams:
        """The student's training, as ``ladder finetune`` takes it (on OUT/distill_data.jsonl, into OUT)."""
        values = {ft: getattr(self, mine) for mine, ft in TRAINING.items()}
        return FinetuneParams(base=self.student, data=Path(self.output) / DATA, output=self.output, **values)


def teacher_gate(params: DistillParams) -> dict | None:
    """The teacher's pass@1 on ``--teacher-run`` against ``--min-teacher-pass``; below it is refused."""
    if params.teacher_run is None:
        return None
    run = Path(params.teacher_run)
    try:
        summary = json.loads((run / "summary.json").read_text())
    except (OSError, ValueError):
        raise LadderError(f"--teacher-run {run}: no readable summary.json (not a finished `ladder eval` run)") from None
    try:
        config = json.loads((run / "config.json").read_text())
    except (OSError, ValueError):
        config = {}
    value = (summary.get("pass_at_k") or {}).get("1")
    if not isinstance(value, (int, float)):
        raise LadderError(f"--teacher-run {run}: its summary.json records no pass@1")
    ran = config.get("model", summary.get("model"))
    if not _same_model(ran, params.teacher):
        raise LadderError(f"--teacher-run {run}: a run of {ran or summary.get('backend')!s}, not of the teacher "
                          f"{params.teacher}; the gate must measure this teacher")
    measured, now = (summary.get("model_lineage") or {}).get("lineage_sha256"), _lineage_sha256(params.teacher)
    if measured and now and measured != now:
        raise LadderError(f"--teacher-run {run}: measured another build of {params.teacher} (its ladder.json changed "
                          "since the run); evaluate the teacher again")
    gate = {"run": str(run), "benchmark": summary.get("benchmark"), "pass_at_1": value,
            "min_teacher_pass": params.min_teacher_pass, "passed": value >= params.min_teacher_pass}
    if not gate["passed"]:
        raise LadderError(f"teacher gate: {params.teacher} scored pass@1 {value:.3f} on {gate['benchmark']} ({run}), "
                          f"below --min-teacher-pass {params.min_teacher_pass}: distilling it would teach its "
                          "mistakes")
    return gate


def _lineage_sha256(model: str) -> str | None:
    from codeladder.models.lineage import lineage_fingerprint

    found = lineage_fingerprint(model) if Path(model).exists() else None
    return found["lineage_sha256"] if found else None


def _same_model(ran: object, teacher: str) -> bool:
    if not isinstance(ran, str):
        return False
    if Path(ran).exists() and Path(teacher).exists():
        return Path(ran).resolve() == Path(teacher).resolve()
    return ran == teacher


def _refuse_early(params: DistillParams, ft: FinetuneParams) -> dict:
    """Everything that can be refused before the teacher answers; returns the teacher's validated options."""
    from codeladder.backends import answers_with_solutions, backend_options
    from codeladder.models.integrity import require_model_folder
    from codeladder.transforms.finetune.run import check_paths

    check_paths(ft)
    out = Path(params.output).resolve()
    if params.teacher_backend_name == "hf":
        require_model_folder(params.teacher, "--teacher")
        teacher = Path(params.teacher).resolve()
        if out == teacher or teacher in out.parents:
            raise LadderError(f"-o {params.output}: must not be the teacher's folder or lie inside it")
    if (Path(params.output) / "checkpoints").is_dir() and not params.resume:
        raise LadderError(f"-o {params.output}: holds checkpoints of an unfinished run; pass --resume to continue it, "
                          "or choose another -o")
    options = dict(params.backend_options)
    if answers_with_solutions(params.teacher_backend_name):
        raise LadderError(f"--teacher-backend {params.teacher_backend_name}: the canonical solutions are no teacher; "
                          "name a model")
    takes = getattr(_backend_entry(params.teacher_backend_name).params, "model_fields", {})
    if "device" in takes and params.device != "auto":
        options.setdefault("device", params.device)
    backend_options(params.teacher_backend_name, options)
    if params.mode == "logits":
        if params.teacher_backend_name != "hf":
            raise LadderError(f"--mode logits: needs the teacher's weights (a local model folder, the hf backend), "
                              f"not a {params.teacher_backend_name} teacher; use --mode sequence")
    return options


def _backend_entry(name: str):
    from codeladder.registry import registry

    return registry("backend").get(name, "--teacher-backend")


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    from codeladder.runs import write_text_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, "".join(json.dumps(row) + "\n" for row in rows))


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def collect(params: DistillParams, options: dict, show: bool) -> tuple[list[dict], dict]:
    """The teacher's answers, judged, and what the run knows about them (``OUT/teacher_answers.jsonl`` and
    ``OUT/distill_data.jsonl`` written); with ``--resume`` and both files there, they are read back instead."""
    from codeladder.runs import write_json_atomic
    from codeladder.transforms.finetune import teacher

    out = Path(params.output)
    prompts = teacher.load_prompts(params.prompts, params.strategy, params.limit, params.allow_test_split)
    about = {"source": prompts.source, "prompts": len(prompts.items),
             "with_tests": sum(item.tested for item in prompts.items), "contaminated": prompts.contaminated,
             "benchmark_split": getattr(prompts.bench, "split", None), "notes": prompts.notes}
    if params.resume and (out / ANSWERS).is_file() and (out / DATA).is_file():
        saved = json.loads((out / TEACHER_INFO).read_text()) if (out / TEACHER_INFO).is_file() else {}
        return _read_jsonl(out / ANSWERS), {**about, **saved, "reused": True}
    gen = teacher.Generation(params.n, params.teacher_temperature, params.max_new_tokens, params.seed,
                             params.teacher_mode)
    records, info, chat = teacher.answer(prompts, params.teacher, params.teacher_backend, options, gen, show)
    isolation = teacher.judge(prompts, records, params.workers, params.timeout, show)
    by_id = {item.id: item for item in prompts.items}
    rows = [teacher.training_row(by_id[r["id"]], r, chat) for r in records if r["kept"]]
    saved = {"teacher_engine": info, "chat": chat, "isolation": isolation.get("level")}
    _write_jsonl(out / ANSWERS, records)
    if rows:
        _write_jsonl(out / DATA, rows)
        write_json_atomic(Path(f"{out / DATA}.meta.json"), {"source": prompts.source,
                                                             "contaminated": prompts.contaminated})
        write_json_atomic(out / TEACHER_INFO, saved)
    return records, {**about, **saved, "reused": False}


def answer_counts(records: list[dict]) -> dict:
    dropped = Counter(r["reason"] for r in records if not r["kept"])
    return {"total": len(records), "kept": sum(r["kept"] for r in records),
            "kept_tested": sum(r["kept"] and r["reason"] == "passed" for r in records),
            "kept_untested": sum(r["kept"] and r["reason"] == "untested" for r in records),
            "dropped": sum(dropped.values()), "dropped_by_reason": dict(sorted(dropped.items()))}


def distill(params: DistillParams, show_progress: bool = False) -> dict:
    """Run ``ladder distill``; returns the report written to ``OUT/distill_report.json``."""
    from codeladder.runs import write_json_atomic
    from codeladder.transforms.finetune.run import finetune

    ft = params.finetune_params()
    gate = teacher_gate(params)  # first: a weak teacher is refused before anything heavy is loaded
    options = _refuse_early(params, ft)
    shared = None
    if params.mode == "logits":
        from codeladder.transforms.finetune.logits import check_shared_tokenizer

        shared = check_shared_tokenizer(params.teacher, params.student)
    records, about = collect(params, options, show_progress)
    counts = answer_counts(records)
    if not counts["kept"]:
        raise LadderError(f"distill: none of the teacher's {counts['total']} answers was kept ("
                          + ", ".join(f"{k}: {v}" for k, v in counts["dropped_by_reason"].items())
                          + f"); see {Path(params.output) / ANSWERS}")
    teacher_record = {"teacher": params.teacher, "teacher_backend": params.teacher_backend_name,
                      "mode": params.mode, "prompts": params.prompts, "answers_kept": counts["kept"],
                      "answers_total": counts["total"], "teacher_lineage_sha256": _lineage_sha256(params.teacher),
                      "teacher_pass_at_1": gate["pass_at_1"] if gate else None}
    train = None
    if params.mode == "logits":
        from codeladder.transforms.finetune.logits import logit_trainer

        train = logit_trainer(params.teacher, params.alpha, params.temperature, params.lmbda, params.beta,
                              params.max_new_tokens)
        teacher_record.update(alpha=params.alpha, temperature=params.temperature, lmbda=params.lmbda,
                              beta=params.beta)
    trained = finetune(ft, show_progress, stage="distill", stage_extra=teacher_record, train=train)
    report = {"teacher": {"model": params.teacher, "backend": params.teacher_backend_name,
                          "engine": about.get("teacher_engine"), "chat": about.get("chat")},
              "student": str(params.student), "mode": params.mode, "gate": gate, "tokenizer": shared,
              "prompts": {k: v for k, v in about.items() if k not in ("teacher_engine", "chat")},
              "generation": {"n": params.n, "temperature": params.teacher_temperature,
                             "max_new_tokens": params.max_new_tokens, "seed": params.seed},
              "answers": counts,
              "answer_rows": [{k: r.get(k) for k in ("id", "sample", "kept", "reason", "extraction", "checker")}
                              for r in records],
              "data": str(Path(params.output) / DATA), "finetune": trained}
    write_json_atomic(Path(params.output) / REPORT, report)
    return report


def distill_verb(params: DistillParams) -> dict:
    return distill(params, show_progress=True)


__all__ = ["DistillParams", "distill", "distill_verb", "teacher_gate", "answer_counts", "MODES", "DATA", "ANSWERS",
           "REPORT"]
