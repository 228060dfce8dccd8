"""``llamacpp --parallel N``: continuous batching in one llama.cpp context, N sequences decoding together.

Each sequence has its own stream of the KV cache (``kv_unified`` off, ``n_seq_max`` = N). Every step is one
``llama_decode`` over one token of each running sequence plus, while there is room in the batch (``--n-batch``
tokens), the prompt tokens of sequences still being prefilled; a sequence whose answer ended (an end-of-
generation token, a stop string, its token budget) frees its stream, and the next prompt takes it at once.

Why hand-written: llama-cpp-python's ``Llama`` decodes one sequence at a time (its batch holds sequence 0
only) and llama.cpp's own loop of this kind lives in its HTTP server; this module is that loop over the
library's low-level API, for the engine every verb already uses. The context copies the ``Llama`` context's
parameters (flash attention, cache types, threads), yet greedy answers are not always ``create_completion``'s:
llama.cpp's matrix kernels may sum in another order for another batch shape, which flips near-ties. Measured on
SmolLM2-135M (``python benchmarks/llamacpp_parallel.py``, and the climb's full HumanEval+ and MBPP+): Q8_0 541 of
542 answers the same, every verdict the same; Q4_1 the same in the tests; a Q4_K file that is mostly Q4_0
tensors, 92 of 164 HumanEval+ answers (162 verdicts). Sampling draws from numpy with each request's own seed,
filtering in llama-cpp-python's order (top-k, top-p, then temperature): the same distribution as the sequential
path, other draws.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from codeladder.backends.base import Completion, GenerationParams, apply_stops
from codeladder.errors import LadderError

CTX_STEP = 256  # each stream's context is rounded up to this many tokens


@dataclass
class _Row:
    """One request in flight: its prompt, how much of it is in the cache, and the answer so far."""

    index: int
    prompt: list[int]
    budget: int
    rng: object
    fed: int = 0  # prompt tokens already decoded
    tokens: list[int] = field(default_factory=list)
    text: bytes = b""
    logprobs: list[float] = field(default_factory=list)
    began: float = field(default_factory=time.perf_counter)


def stream_tokens(prompts: list[list[int]], max_new_tokens: int, limit: int) -> int:
    """The context each stream needs for these prompts and answers, rounded up, at most ``limit``."""
    need = max(len(p) for p in prompts) + max_new_tokens
    return min(limit, -(-need // CTX_STEP) * CTX_STEP)


class ParallelDecoder:
    """``rows`` streams of ``stream_ctx`` tokens each over the weights of an open ``llama_cpp.Llama``."""

    def __init__(self, llm, rows: int, stream_ctx: int):
        import llama_cpp
        from llama_cpp import _internals

        self.llm, self.rows, self.stream_ctx = llm, rows, stream_ctx
        params = llama_cpp.llama_context_params.from_buffer_copy(llm.context_params)
        params.n_ctx, params.n_seq_max, params.kv_unified = rows * stream_ctx, rows, False
        self.n_batch = max(int(params.n_batch), rows)
        params.n_batch = params.n_ubatch = self.n_batch
        self.ctx = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
        self.memory = llama_cpp.llama_get_memory(self.ctx.ctx)
        self.batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self.vocab = llm._model.vocab
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self._lib = llama_cpp

    def close(self) -> None:
        if self.batch is not None:
            self._lib.llama_batch_free(self.batch)
            self.batch = None
        self.ctx.close()

    def run(self, prompts: list[list[int]], params: GenerationParams, seeds: list[int]) -> list[Completion]:
        """Every prompt's completion, in order, the rows refilled as answers end."""
        import numpy as np

        for index, prompt in enumerate(prompts):
            if not prompt:
                raise LadderError(f"prompt {index} of the call is empty: --parallel needs at least one prompt token")
            if len(prompt) >= self.stream_ctx:
                raise LadderError(f"prompt {index}: {len(prompt)} tokens do not fit a {self.stream_ctx}-token "
                                  f"context; raise --n-ctx")
        self._lib.llama_memory_clear(self.memory, True)  # nothing left over from a call that was interrupted
        waiting = list(range(len(prompts)))[::-1]
        free, running = list(range(self.rows))[::-1], {}
        done: list[Completion | None] = [None] * len(prompts)
        while waiting or running:
            while waiting and free:
                index = waiting.pop()
                running[free.pop()] = _Row(index, prompts[index], min(params.max_new_tokens,
                                                                      self.stream_ctx - len(prompts[index])),
                                           np.random.default_rng(seeds[index]))
            outputs = self._step(running)
            for stream, at in outputs.items():
                row = running[stream]
                if self._advance(row, self._logits(at), params):
                    done[row.index] = self._finish(row, params)
                    self._lib.llama_memory_seq_rm(self.memory, stream, -1, -1)
                    del running[stream]
                    free.append(stream)
        return done

    def _step(self, running: dict[int, _Row]) -> dict[int, int]:
        """One decode: the next token of every answering row, then prompt chunks while the batch has room.
        Returns the batch position of each row whose logits came out (answering rows and finished prompts)."""
        batch, count, outputs = self.batch, 0, {}

        def put(token: int, position: int, stream: int, logits: bool) -> None:
            nonlocal count
            batch.token[count], batch.pos[count], batch.n_seq_id[count] = token, position, 1
            batch.seq_id[count][0], batch.logits[count] = stream, logits
            if logits:
                outputs[stream] = count
            count += 1

        for stream, row in running.items():
            if row.fed == len(row.prompt):
                put(row.tokens[-1], len(row.prompt) + len(row.tokens) - 1, stream, True)
        for stream, row in running.items():
            while row.fed < len(row.prompt) and count < self.n_batch:
                row.fed += 1
                put(row.prompt[row.fed - 1], row.fed - 1, stream, row.fed == len(row.prompt))
        batch.n_tokens = count
        status = self._lib.llama_decode(self.ctx.ctx, batch)
        if status != 0:
            raise LadderError(f"llama.cpp could not decode a batch of {count} tokens (status {status}); lower "
                              f"--parallel or --n-ctx")
        return outputs

    def _logits(self, at: int):
        import numpy as np

        return np.ctypeslib.as_array(self._lib.llama_get_logits_ith(self.ctx.ctx, at), shape=(self.n_vocab,))

    def _advance(self, row: _Row, logits, params: GenerationParams) -> bool:
        """Pick the row's next token; whether its answer has ended."""
        token = pick(logits, params, row.rng)
        if self._lib.llama_vocab_is_eog(self.vocab, token):
            return True  # the end token is not part of the answer, nor of its mean log-probability
        row.tokens.append(token)
        if params.logprobs:
            row.logprobs.append(log_softmax_at(logits, token))
        if params.stop:
            row.text += self.llm._model.detokenize([token])
            tail = row.text[-(64 + max(len(s.encode()) for s in params.stop)):].decode("utf-8", errors="ignore")
            if any(stop in tail for stop in params.stop):
                return True
        return len(row.tokens) >= row.budget

    def _finish(self, row: _Row, params: GenerationParams) -> Completion:
        text = self.llm.detokenize(row.tokens, prev_tokens=row.prompt).decode("utf-8", errors="ignore")
        completion = Completion(text=apply_stops(text, params.stop), prompt_tokens=len(row.prompt),
                                completion_tokens=len(row.tokens), seconds=time.perf_counter() - row.began)
        if row.logprobs:
            completion.mean_logprob = float(sum(row.logprobs) / len(row.logprobs))
        return completion


def pick(logits, params: GenerationParams, rng) -> int:
    """The next token: the most likely when greedy, else a draw after top-k, top-p and temperature."""
    import numpy as np

    if params.temperature == 0 or params.top_k == 1:
        return int(np.argmax(logits))
    scores = np.asarray(logits, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    if params.top_k:
        order = order[: params.top_k]
    probs = np.exp(scores[order] - scores[order[0]])
    probs /= probs.sum()
    if params.top_p < 1.0:
        order = order[: int(np.searchsorted(np.cumsum(probs), params.top_p)) + 1]
    chosen = scores[order] / params.temperature
    weights = np.exp(chosen - chosen.max())
    return int(order[rng.choice(len(order), p=weights / weights.sum())])


def log_softmax_at(logits, token: int) -> float:
    import numpy as np

    scores = np.asarray(logits, dtype=np.float64)
    top = scores.max()
    return float(scores[token] - top - np.log(np.exp(scores - top).sum()))
