"""kill -9 in the middle of training, then --resume: the same step count; DPO on 32 pairs; the CLI's one-line
errors. The resume test drives the real CLI in a subprocess (a SIGKILL needs a process to kill), checkpointing
every step so the kill lands early, and resumes in-process (no second start-up)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ladder
from ft_helpers import pair_rows, sft_rows, write_jsonl

from codeladder.errors import LadderError
from codeladder.transforms.finetune import finetune
from codeladder.transforms.finetune.params import FinetuneParams


def test_kill_9_then_resume_ends_with_the_same_step_count(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", sft_rows(4))
    out = tmp_path / "run"
    settings = dict(batch_size=1, epochs=2, val_split=0, save_steps=1, rank=4, max_length=64)
    args = [str(tiny_model), "--data", str(data), "-o", str(out), "--batch-size", "1", "--epochs", "2",
            "--val-split", "0", "--save-steps", "1", "--rank", "4", "--max-length", "64"]
    process = subprocess.Popen([sys.executable, "-m", "codeladder.cli.main", "finetune", *args],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
    state = out / "checkpoints" / "checkpoint-2" / "trainer_state.json"
    deadline = time.monotonic() + 300
    while not state.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)  # in the middle of epoch 1 of 2 (4 steps each)
    process.wait()
    assert process.returncode == -signal.SIGKILL and not (out / "train_report.json").exists()

    with pytest.raises(LadderError, match="pass --resume to continue it"):
        finetune(FinetuneParams(base=tiny_model, data=data, output=out, **settings))
    report = finetune(FinetuneParams(base=tiny_model, data=data, output=out, resume=True, **settings))
    assert 2 <= int(report["resumed_from"].rsplit("-", 1)[1]) < 8  # it continued from the middle
    assert report["steps"] == report["max_steps"] == 8  # 4 rows x 2 epochs, batch 1
    assert [e["epoch"] for e in report["epochs"]] == [1, 2] and len(report["step_losses"]) == 8
    assert (out / "adapter" / "adapter_model.safetensors").is_file() and not (out / "checkpoints").exists()


def test_dpo_on_32_pairs_margin_rises_and_accuracy_is_recorded(tiny_model, tmp_path):
    pairs_data = write_jsonl(tmp_path / "pairs.jsonl", pair_rows(32))
    out = tmp_path / "dpo"
    report = finetune(FinetuneParams(base=tiny_model, data=pairs_data, output=out, method="dpo", rank=8, alpha=16,
                                     batch_size=8, epochs=1, lr=5e-3, val_split=0, max_length=64))
    steps = report["dpo"]["steps"]
    assert len(steps) == 4 and report["dpo"]["beta"] == 0.1 and report["dpo"]["loss_type"] == "sigmoid"
    assert abs(steps[0]["loss"] - 0.6931) < 1e-3  # policy == reference at step 1
    assert steps[-1]["reward_margin"] > steps[0]["reward_margin"] + 0.05
    assert all(s["reward_accuracy"] is not None for s in steps) and steps[-1]["reward_accuracy"] > 0.5
    assert report["guards"]["dpo"]["stuck_at_ln2"] is False and report["guards"]["adapter"]["modules"] == 14
    lineage = json.loads((out / "adapter" / "ladder.json").read_text())  # merging is the LoRA test's (same code)
    assert [s["stage"] for s in lineage["stages"]] == ["tiny", "finetune"]
    assert lineage["stages"][1]["params"]["beta"] == 0.1 and lineage["stages"][1]["params"]["method"] == "dpo"


def test_cli_errors_are_one_line(tiny_model, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": "a", "answer": "b"}\n')
    done = ladder("finetune", str(tiny_model), "--data", str(bad), "-o", str(tmp_path / "o"), check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == f"error: {bad} line 2: field 'completion' must be a string (it is missing)"
