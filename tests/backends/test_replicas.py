"""``--replicas``: copies of a model generating side by side (hf: processes; llamacpp: contexts in threads)."""

from __future__ import annotations

import json

import pytest

from codeladder.backends import GenerationParams, Prompt, Request, open_engine
from codeladder.backends.base import split
from codeladder.backends.hf_replicas import replica_devices
from codeladder.errors import LadderError
from conftest import ladder

REQUESTS = [Request(f"r{i}", Prompt(text=f"def f{i}(x):\n    return x {'+-*'[i % 3]} {i}")) for i in range(7)]


def _texts(model, params: GenerationParams, **options) -> list[str]:
    with open_engine(model, "hf", device="cpu", dtype="float32", **options) as engine:
        assert engine.describe()["replicas"] == options.get("replicas", 1)
        assert engine.batch_hint == options["batch_size"] * options.get("replicas", 1)
        return [c.text for c in engine.generate(REQUESTS, params)]


@pytest.mark.parametrize("temperature", [0.0, 0.9])
def test_two_replicas_answer_what_one_process_answers(tiny_model, temperature):
    """Batches of one (no padding to differ): greedy answers are equal, and so are sampled ones, since a
    sample's seed follows its position in the call, not the process that made it."""
    params = GenerationParams(max_new_tokens=12, temperature=temperature, seed=3, mode="completion")
    alone = _texts(tiny_model, params, batch_size=1)
    assert len(set(alone)) > 1
    assert _texts(tiny_model, params, batch_size=1, replicas=2) == alone
    assert _texts(tiny_model, params, batch_size=1, replicas=3) == alone


def test_replica_processes_stop_with_the_engine_and_the_threads_come_back(tiny_model):
    """A recipe runs its stages in one process: the training stage after an eval must get every thread back."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        engine = open_engine(tiny_model, "hf", device="cpu", replicas=2)
        (process, _), = engine.replicas.workers
        assert process.is_alive() and process.pid is not None and torch.get_num_threads() == 1
        engine.close()
        assert not process.is_alive() and engine.replicas.workers == [] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_replica_that_died_is_one_line_and_the_engine_refuses_further_calls(tiny_model):
    import os
    import signal

    params = GenerationParams(max_new_tokens=4, mode="completion")
    with open_engine(tiny_model, "hf", device="cpu", replicas=2, batch_size=1) as engine:
        os.kill(engine.replicas.workers[0][0].pid, signal.SIGKILL)
        engine.replicas.workers[0][0].join(timeout=10)
        with pytest.raises(LadderError, match=r"replica 2 \(hf-replica-cpu\) exited with code -9"):
            engine.generate(REQUESTS, params)
        with pytest.raises(LadderError, match="closed after an earlier failure"):
            engine.generate(REQUESTS, params)


def test_a_replica_exits_when_the_engine_process_is_killed(tiny_model):
    """``kill -9`` of a recipe must not leave model copies behind holding memory."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = ("from codeladder.backends import open_engine; import sys, time\n"
              f"e = open_engine({str(tiny_model)!r}, 'hf', device='cpu', replicas=2)\n"
              "print(e.replicas.workers[0][0].pid, flush=True); time.sleep(600)")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    for _ in range(100):
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(worker, signal.SIGKILL)
    raise AssertionError("the replica outlived its engine's process by 20 s")


def test_shards_are_contiguous_and_cover_every_request():
    shards = split(REQUESTS, 3)
    assert [offset for offset, _ in shards] == [0, 3, 5]
    assert [r for _, shard in shards for r in shard] == REQUESTS
    assert split(REQUESTS[:1], 3) == [(0, REQUESTS[:1])]
    many = REQUESTS * 6  # 42 prompts, batches of 16: one process batches 16 + 16 + 10
    assert [(offset, len(shard)) for offset, shard in split(many, 2, unit=16)] == [(0, 32), (32, 10)]


def test_replicas_zero_is_one_per_usable_core_at_most_eight_and_one_on_a_named_device(monkeypatch):
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    assert replica_devices("cpu", 0) == ["cpu"] * 8
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})
    assert replica_devices("cpu", 0) == ["cpu"]
    assert replica_devices("cuda:1", 0) == ["cuda:1"] and replica_devices("mps", 1) == ["mps"]


@pytest.mark.parametrize("device", ["cuda:0", "mps"])
def test_replicas_on_one_named_device_are_refused(device):
    with pytest.raises(LadderError, match="replicas take --device cpu"):
        replica_devices(device, 2)


@pytest.mark.parametrize("sampling", [[], ["--n", "4", "--temperature", "0.9", "--k", "1"]])
def test_eval_with_replicas_writes_the_same_samples(tiny_model, tmp_path, sampling):
    """5 tasks x 4 samples in batches of 2: one process writes chunks of 8, two replicas chunks of 16, the last
    chunk split at a whole batch; every sample, sampled ones included, is the one one process writes."""
    runs = {}
    for replicas in ("1", "2"):
        out = tmp_path / replicas
        ladder("eval", "humaneval", "--model", str(tiny_model), "--limit", "5", "--max-new-tokens", "8",
               "--mode", "completion", "--batch-size", "2", "--replicas", replicas, "-o", str(out), *sampling)
        runs[replicas] = [json.loads(line)["raw"] for line in (out / "samples.jsonl").open()]
    assert runs["1"] == runs["2"] and len(runs["1"]) == (20 if sampling else 5)
    assert len(set(runs["1"])) > 5 or not sampling


@pytest.mark.parametrize("temperature", [0.0, 0.9])
def test_llamacpp_contexts_side_by_side_answer_what_one_context_answers(tiny_gguf, temperature):
    params = GenerationParams(max_new_tokens=12, temperature=temperature, seed=3, mode="completion")
    answers = {}
    for replicas in (1, 3):
        with open_engine(tiny_gguf, "llamacpp", threads=1, replicas=replicas) as engine:
            assert engine.describe()["replicas"] == replicas and engine.batch_hint == 8 * replicas
            answers[replicas] = [c.text for c in engine.generate(REQUESTS, params)]
            assert len(engine._siblings[(False, False)]) == replicas - 1
    assert answers[3] == answers[1] and len(set(answers[1])) > 1


def test_llamacpp_replicas_decode_and_read_prompts_on_their_own_threads(tiny_gguf):
    """Each context's prompt processing too stays on its share (llama-cpp-python would take every core)."""
    params = GenerationParams(max_new_tokens=2, mode="completion")
    with open_engine(tiny_gguf, "llamacpp", replicas=2, threads=1) as engine:
        engine.generate(REQUESTS, params)
        contexts = [engine.llm, *engine._siblings[(False, False)]]
        assert [(c.context_params.n_threads, c.context_params.n_threads_batch) for c in contexts] == [(1, 1)] * 2


def test_ladder_run_refuses_replicas_before_loading_anything(tiny_model):
    done = ladder("run", str(tiny_model), "--prompt", "def f():", "--replicas", "2", check=False)
    assert done.returncode == 2 and "--replicas: ladder run answers one prompt at a time" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
