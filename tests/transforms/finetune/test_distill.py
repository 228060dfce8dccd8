"""`ladder distill` with real teachers: an OpenAI-compatible server on loopback that answers mbpp-train tasks by a
script (right, wrong, unparsable, repeated: the kept/dropped counts are known), and a tiny model (the hf backend)
whose logits the student learns. Answers run in the real sandbox; the student is trained by `ladder finetune`'s code.

The server's N=2 chat run on mbpp-train is also the gate's run and, through `ladder data pairs`, the source of
TRL's conversational preference rows that DPO must accept."""

import json
import math
import shutil
from types import SimpleNamespace

import pytest

from conftest import ladder
from ft_helpers import ScriptedTeacher, fenced, write_jsonl

from codeladder.benchmarks import get_benchmark
from codeladder.errors import LadderError
from codeladder.transforms.finetune.distill import DistillParams, distill

TRAIN = dict(max_steps=2, batch_size=2, rank=4, val_split=0, max_length=256)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """The scripted server, and its real N=2 `ladder eval` run on the first three mbpp-train tasks (pass@1 0.5)."""
    from codeladder.evaluate import EvalParams, evaluate

    tasks = get_benchmark("mbpp-train").load()[:3]
    right, half, broken = tasks
    wrong = f"def {half.entry_point}(*args):\n    return None\n"
    server = ScriptedTeacher(tasks, {
        right.task_id: [fenced(right.reference)],  # the same answer twice: one kept, one duplicate
        half.task_id: [fenced(half.reference), fenced(wrong)],  # one passes, one fails its tests
        broken.task_id: [fenced("def broken(:\n    pass  # a"), fenced("def broken(:\n    pass  # b")]})
    run = tmp_path_factory.mktemp("teacher") / "run"
    summary = evaluate(EvalParams(benchmark="mbpp-train", model="scripted-teacher", backend="openai", n=2,
                                  temperature=0.8, limit=3, output=str(run), workers=2,
                                  backend_options={"base_url": server.url}))
    assert summary["pass_at_k"]["1"] == 0.5 and summary["mode"] == "chat"
    server.reset()
    yield server, run, tasks
    server.close()


def test_sequence_distill_from_a_server_keeps_only_answers_that_pass(teacher, tiny_model, tmp_path):
    server, run, tasks = teacher
    out = tmp_path / "distilled"
    report = distill(DistillParams(teacher="scripted-teacher", student=tiny_model, prompts="mbpp-train", limit=3, n=2,
                                   teacher_temperature=0.8, teacher_run=run, min_teacher_pass=0.5, output=out,
                                   backend_options={"base_url": server.url}, **{**TRAIN, "max_length": 512}))
    assert report == json.loads((out / "distill_report.json").read_text())
    assert report["gate"] == {"run": str(run), "benchmark": "mbpp-train", "pass_at_1": 0.5, "min_teacher_pass": 0.5,
                              "passed": True}
    assert report["teacher"]["backend"] == "openai" and report["teacher"]["chat"] is True
    assert report["answers"] == {"total": 6, "kept": 2, "kept_tested": 2, "kept_untested": 0, "dropped": 4,
                                 "dropped_by_reason": {"duplicate of an earlier answer": 1, "failed": 1,
                                                       "syntax_error": 2}}
    assert sum(server.calls.values()) == 6 and report["prompts"]["with_tests"] == 3
    rows = [json.loads(line) for line in (out / "distill_data.jsonl").read_text().splitlines()]
    assert sorted(r["messages"][-1]["content"] for r in rows) == sorted(fenced(t.reference) for t in tasks[:2])
    for row in rows:  # the exact prompt the teacher was sent, then its answer
        assert row["messages"][-2]["role"] == "user"
        assert any(t.instruction in row["messages"][-2]["content"] for t in tasks[:2])
    trained = report["finetune"]
    assert trained["steps"] == 2 and trained["rows"] == {"train": 2, "val": 0}
    assert trained["guards"]["label_mask"]["first_example"]["supervised_text"].startswith("Here is the function")
    lineage = json.loads((out / "adapter" / "ladder.json").read_text())
    assert [s["stage"] for s in lineage["stages"]] == ["tiny", "distill"]
    stage = lineage["stages"][1]["params"]
    assert stage["teacher"] == "scripted-teacher" and stage["teacher_pass_at_1"] == 0.5
    assert stage["answers_kept"] == 2 and len(stage["data_sha256"]) == 64 and stage["contaminated"] is False


def test_the_gate_and_bad_inputs_are_refused_before_the_teacher_is_asked(teacher, tiny_model, tmp_path):
    server, run, _ = teacher
    before = sum(server.calls.values())
    common = dict(student=tiny_model, prompts="mbpp-train", limit=3, output=tmp_path / "o",
                  backend_options={"base_url": server.url}, **TRAIN)
    done = ladder("distill", "--teacher", "scripted-teacher", "--student", str(tiny_model), "--prompts", "mbpp-train",
                  "--base-url", server.url, "--teacher-run", str(run), "--min-teacher-pass", "0.9", "-o",
                  str(tmp_path / "o"), check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (f"error: teacher gate: scripted-teacher scored pass@1 0.500 on mbpp-train ({run}), "
                                   "below --min-teacher-pass 0.9: distilling it would teach its mistakes")
    with pytest.raises(LadderError, match="a run of scripted-teacher, not of the teacher other-model"):
        distill(DistillParams(teacher="other-model", teacher_run=run, **common))
    with pytest.raises(LadderError, match="--mode logits: needs the teacher's weights"):
        distill(DistillParams(teacher="scripted-teacher", mode="logits", **common))
    with pytest.raises(LadderError, match="--prompts humaneval: a benchmark's test split"):
        distill(DistillParams(teacher="scripted-teacher", **{**common, "prompts": "humaneval"}))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "Write f."}\n{"prompt": "Write g.", "tests": 3}\n')
    with pytest.raises(LadderError, match=f"{bad}:2: 'tests' must be a string or a list of strings"):
        distill(DistillParams(teacher="scripted-teacher", **{**common, "prompts": str(bad)}))
    with pytest.raises(LadderError, match="neither a JSONL file nor a benchmark"):
        distill(DistillParams(teacher="scripted-teacher", **{**common, "prompts": str(tmp_path / "none.jsonl")}))
    assert sum(server.calls.values()) == before and not (tmp_path / "o").exists()


def test_a_prompt_file_is_filtered_by_its_own_asserts_in_the_sandbox(tmp_path):
    from codeladder.transforms.finetune import teacher

    rows = [{"id": "add", "prompt": "Write add(a, b) returning a + b.", "tests": ["assert add(1, 2) == 3",
                                                                                  "assert add(-1, 1) == 0"]},
            {"id": "mul", "prompt": "Write mul(a, b) returning a * b.", "tests": "assert mul(2, 3) == 6\n"},
            {"id": "stack", "messages": [{"role": "user", "content": "Write a class Stack with push and pop."}],
             "tests": ["s = Stack()\ns.push(1)\nassert s.pop() == 1"]},
            {"id": "free", "prompt": "Explain list comprehensions."}]
    answers = {"add": [fenced("def add(a, b):\n    return a + b")], "mul": [fenced("def mul(a, b):\n    return a + b")],
               "stack": [fenced("class Stack:\n    def __init__(self):\n        self.items = []\n"
                                "    def push(self, x):\n        self.items.append(x)\n"
                                "    def pop(self):\n        return self.items.pop()")],
               "free": ["They build a list from an iterable in one expression."]}
    texts = {r["id"]: r.get("prompt") or r["messages"][0]["content"] for r in rows}
    server = ScriptedTeacher([SimpleNamespace(task_id=k, instruction=v) for k, v in texts.items()], answers)
    try:
        prompts = teacher.load_prompts(str(write_jsonl(tmp_path / "p.jsonl", rows)), "standard", None, False)
        records, info, chat = teacher.answer(prompts, "scripted", "openai", {"base_url": server.url},
                                             teacher.Generation(1, 0.0, 64, 0, "auto"), show=False)
    finally:
        server.close()
    teacher.judge(prompts, records, workers=2, timeout=None, show=False)
    verdicts = {r["id"]: (r["kept"], r["reason"], r.get("checker")) for r in records}
    assert chat and info["backend"] == "openai"
    assert verdicts == {"add": (True, "passed", "trusted"), "mul": (False, "failed", "trusted"),
                        "stack": (True, "passed", "in-process"),  # the asserts use a class: one process
                        "free": (True, "untested", None)}
    by_id = {item.id: item for item in prompts.items}
    assert teacher.training_row(by_id["stack"], records[2], chat)["messages"][0]["content"].startswith("Write a class")


def test_dpo_takes_the_conversational_pairs_of_a_chat_run(teacher, tiny_model, tmp_path):
    from codeladder.data.pairs import PairsParams, make_pairs
    from codeladder.transforms.finetune import finetune
    from codeladder.transforms.finetune.data import read_rows
    from codeladder.transforms.finetune.params import FinetuneParams

    _, run, tasks = teacher
    pairs = tmp_path / "pairs.jsonl"
    meta = make_pairs(PairsParams(run_dir=str(run), output=str(pairs)))
    row = json.loads(pairs.read_text().splitlines()[0])
    assert meta["format"] == "chat" and meta["pairs"] == 1  # only the borderline task gives a pair
    assert isinstance(row["prompt"], list) and row["chosen"] == [{"role": "assistant",
                                                                  "content": fenced(tasks[1].reference)}]
    assert read_rows(pairs, preference=True).kind == "preference_chat"
    report = finetune(FinetuneParams(base=tiny_model, data=pairs, output=tmp_path / "dpo", method="dpo", rank=4,
                                     max_steps=2, batch_size=1, val_split=0, lr=5e-3))
    steps = report["dpo"]["steps"]
    assert len(steps) == 2 and abs(steps[0]["loss"] - math.log(2)) < 1e-3  # policy == reference at step 1
    assert steps[1]["reward_margin"] != 0 and report["guards"]["dpo"]["stuck_at_ln2"] is False
    bad = tmp_path / "bad.jsonl"
    write_jsonl(bad, [{**row, "chosen": [{"role": "user", "content": "x"}]}])
    with pytest.raises(LadderError, match="line 1: field 'chosen\\[0\\]' must be a non-empty assistant turn"):
        read_rows(bad, preference=True)


def _noisy_copy(source, target, seed: int):
    """The tiny model with its weights perturbed: another teacher with the very same tokenizer."""
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(source, target)
    generator = torch.Generator().manual_seed(seed)
    weights = load_file(target / "model.safetensors")
    save_file({k: v + 0.05 * torch.randn(v.shape, generator=generator) for k, v in weights.items()},
              str(target / "model.safetensors"), metadata={"format": "pt"})
    return target


def test_logit_distillation_mixes_the_teacher_kd_loss_and_the_answers_ce(tiny_model, tmp_path):
    teacher_model = _noisy_copy(tiny_model, tmp_path / "teacher", seed=5)
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [
        {"id": "add", "prompt": "Write add(a, b) returning a + b.", "tests": ["assert add(1, 2) == 3"]},
        {"id": "loop", "prompt": "Write a loop over a list."}, {"id": "sort", "prompt": "Sort a list of words."}])
    out = tmp_path / "kd"
    report = distill(DistillParams(teacher=str(teacher_model), student=tiny_model, prompts=str(prompts), output=out,
                                   mode="logits", max_new_tokens=12, **TRAIN))
    answers = report["answers"]
    assert answers["total"] == 3 and answers["kept_tested"] == 0 and answers["dropped"] >= 1  # a random model fails
    assert answers["kept_untested"] == answers["kept"] >= 1
    assert report["tokenizer"]["shared"] and report["teacher"]["backend"] == "hf"
    kd = report["finetune"]["distill_logits"]
    assert kd["alpha"] == 0.5 and kd["temperature"] == 2.0 and len(kd["steps"]) == 2
    first = kd["steps"][0]
    assert first["kd_loss"] > 0 and abs(first["ce_loss"] - math.log(4096)) < 0.1 * math.log(4096)
    assert abs(first["loss"] - (0.5 * first["kd_loss"] + 0.5 * first["ce_loss"])) < 1e-3
    lineage = json.loads((out / "adapter" / "ladder.json").read_text())
    assert lineage["stages"][-1]["stage"] == "distill" and lineage["stages"][-1]["params"]["mode"] == "logits"


def test_logits_refused_when_the_tokenizers_differ(tiny_model, tmp_path):
    other = shutil.copytree(tiny_model, tmp_path / "other")
    tokenizer = json.loads((other / "tokenizer.json").read_text())
    vocab = tokenizer["model"]["vocab"]
    a, b = sorted(vocab, key=vocab.get)[300:302]
    vocab[a], vocab[b] = vocab[b], vocab[a]  # same size, two ids swapped: GKD's size check would let it through
    (other / "tokenizer.json").write_text(json.dumps(tokenizer))
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "Write a loop."}])
    with pytest.raises(LadderError) as error:
        distill(DistillParams(teacher=str(other), student=tiny_model, prompts=str(prompts), output=tmp_path / "o",
                              mode="logits", **TRAIN))
    assert str(error.value).startswith("--mode logits: the teacher and the student do not share a tokenizer (4096 vs "
                                       "4096 tokens, 2 differ") and "\n" not in str(error.value)
    assert not (tmp_path / "o").exists()
