"""``--replicas N`` for the hf backend: N copies of the model generating side by side, data-parallel.

Every ``generate`` call is cut into N contiguous shards of requests; the engine's own process runs the first
shard while N-1 worker processes (each holding its own copy of the model) run the others, and the answers come
back in the order asked. On CUDA replica ``i`` takes ``cuda:i``; on the CPU the cores are split among the
replicas: on a 2-core VM, SmolLM2-135M decoded 1.85x faster as two one-thread processes than as one two-thread
process (``python benchmarks/backend_throughput.py --parts replicas --model FOLDER --hf-dtype float32 --batch 16
--new-tokens 128``): torch's two threads on a small model's small matrices mostly wait on each other and on
Python's dispatch of each step's kernels.

Why by hand: transformers' generate has no data parallelism of its own, accelerate's needs a launcher that
starts the whole program N times, and continuous batching (``generate_batch``) ran at about half of plain
batched generate on these CPUs. Workers are started with ``spawn`` (no inherited torch threads or CUDA
context); one whose engine process is gone (killed) exits at its next read or write of the pipe, and Ctrl-C
reaches the engine's process alone, which closes them.

Shards are cut at whole batches (``split(..., unit=batch_size)``), so every batch holds the prompts it holds
with one process, and a batch's sampling seed follows its first prompt's position among the invocation's
requests (eval and distill seed each chunk by its start), so sampled answers equal one process's too. What
can still differ is the order of floating-point sums (one thread instead of several), which can move a greedy
near-tie.
"""

from __future__ import annotations

import multiprocessing
import signal
from multiprocessing.connection import Connection
from typing import Any, Callable

from codeladder.backends.base import Completion, GenerationParams, Request, auto_replicas, split
from codeladder.errors import LadderError


def replica_devices(device: str, count: int) -> list[str]:
    """The device of each replica: ``cuda:0..N-1`` for cuda, the CPU N times; ``count`` 0 is one replica per GPU
    on cuda, :func:`~codeladder.backends.base.auto_replicas` on the CPU, one on a named device; one line for what
    cannot be."""
    import torch

    if count == 0:
        count = {"cuda": torch.cuda.device_count(), "cpu": auto_replicas()}.get(device, 1)
    if count == 1:
        return [device]
    if device == "cpu":
        return ["cpu"] * count
    if device == "cuda":
        present = torch.cuda.device_count()
        if count > present:
            raise LadderError(f"--replicas {count}: only {present} CUDA device(s) present; one replica per GPU "
                              "(--replicas 0: as many as there are)")
        return [f"cuda:{i}" for i in range(count)]
    raise LadderError(f"--replicas {count} with --device {device}: replicas take --device cpu (cores split among "
                      "them) or --device cuda (one GPU each)")


def _serve(conn: Connection, open_replica: Callable, model: str, options: dict[str, Any], threads: int | None) -> None:
    """A worker: load the model once (``open_replica(model, options)``: an engine with ``generate_from``), then
    answer ``(requests, params, offset)`` until told to stop or until the engine's process is gone."""
    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the engine process's to handle
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        engine = open_replica(model, options)
        conn.send(("ready", None))
        while (message := conn.recv()) is not None:
            requests, params, offset = message
            try:
                answer = ("done", engine.generate_from(requests, params, offset))
            except Exception as error:  # noqa: BLE001 - told to the engine's process as one line
                answer = ("error", f"{type(error).__name__}: {error}")
            conn.send(answer)
    except (EOFError, OSError):  # the engine's process is gone: nothing left to answer
        return
    except Exception as error:  # noqa: BLE001 - the model did not load here
        conn.send(("error", f"{type(error).__name__}: {error}"))


class ReplicaPool:
    """The N-1 worker replicas of an engine (the engine itself is the first), each opened by ``open_replica``.
    On the CPU every replica, this process's included, gets an equal share of the threads torch uses; this
    process gets its own count back on ``close``. A call that fails closes the pool (no answer is left in a
    pipe for the next call to take for its own)."""

    def __init__(self, open_replica: Callable, model: str, options: dict[str, Any], devices: list[str]):
        import torch

        context = multiprocessing.get_context("spawn")
        self.workers: list[tuple[Any, Connection]] = []
        self.threads_before = torch.get_num_threads()
        threads = max(1, self.threads_before // (len(devices) + 1)) if devices[0] == "cpu" else None
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            for device in devices:
                parent, child = context.Pipe()
                own = {**options, "device": device}
                process = context.Process(target=_serve, args=(child, open_replica, model, own, threads), daemon=True,
                                          name=f"hf-replica-{device}")
                process.start()
                child.close()
                self.workers.append((process, parent))
            for index, _ in enumerate(self.workers):
                self._receive(index)
        except BaseException:
            self.close()
            raise

    def _gone(self, index: int) -> LadderError:
        process = self.workers[index][0]
        process.join(timeout=5)
        return LadderError(f"--replicas: replica {index + 2} ({process.name}) exited with code {process.exitcode} "
                           "(out of memory?); retry with fewer replicas")

    def _receive(self, index: int) -> Any:
        try:
            kind, value = self.workers[index][1].recv()
        except (EOFError, OSError):
            raise self._gone(index) from None
        if kind == "error":
            raise LadderError(f"--replicas: replica {index + 2} failed: {value}")
        return value

    def generate(self, first, requests: list[Request], params: GenerationParams, unit: int) -> list[Completion]:
        """``first(shard, params, offset)`` runs the first shard here while the workers run theirs; shards are
        cut at multiples of ``unit`` (the batch size)."""
        if not self.workers:
            raise LadderError("--replicas: the replicas were closed after an earlier failure; open the engine again")
        shards = split(requests, len(self.workers) + 1, unit)
        try:
            for index, (offset, shard) in enumerate(shards[1:]):
                try:
                    self.workers[index][1].send((shard, params, offset))
                except (BrokenPipeError, OSError):
                    raise self._gone(index) from None
            completions = first(shards[0][1], params, 0) if shards else []
            for index in range(len(shards) - 1):
                completions += self._receive(index)
            return completions
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        import torch

        for process, conn in self.workers:
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
            conn.close()
        self.workers = []
        torch.set_num_threads(self.threads_before)


__all__ = ["ReplicaPool", "replica_devices"]
