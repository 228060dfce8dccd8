"""``hf``: a local transformers model folder; batched (left padding), greedy or sampled, on ``--device``.

The one place that loads a transformers model for inference (the model and its ``--draft``). Asking for
a device that is not there is an error, never a quiet fall-back to the CPU. torch and transformers are
imported inside the engine, so that listing backends or validating ``HFOptions`` stays light.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar, Optional

from pydantic import field_validator

from codeladder.backends.base import Completion, Engine, GenerationParams, Request, apply_stops, check_device
from codeladder.backends.hf_replicas import ReplicaPool, replica_devices
from codeladder.errors import LadderError
from codeladder.params import VerbParams, option

DTYPES = ("auto", "float32", "fp32", "bfloat16", "bf16", "float16", "fp16")


class HFOptions(VerbParams):
    """Options of the hf backend (transformers)."""

    verb: ClassVar[str] = "hf"
    device: str = option("auto", "auto, cpu, cuda, cuda:N or mps; a device that is not there is an error")
    dtype: str = option("auto", "auto (bfloat16 on CUDA, float32 elsewhere), float32, bfloat16 or float16",
                        choices=DTYPES)
    batch_size: int = option(8, "prompts per generate call (left padding)", ge=1)
    draft: Optional[str] = option(None, "speculative decoding: a draft model folder (hf, sharing the "
                                        "tokenizer) or prompt-lookup (llamacpp)")
    replicas: int = option(1, "copies of the model generating side by side, each with a share of every call: "
                              "--device cpu splits the cores among them, --device cuda gives each a GPU; 0: one "
                              "per GPU, or per core on the CPU (at most 8)", ge=0)
    continuous: bool = option(False, "continuous batching: an answer that ends leaves its row to the next prompt "
                                     "at once, so a batch never waits for its longest answer (--batch-size rows "
                                     "decode together; each request samples with its own seed; not with --draft)")

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        return check_device(value)


def resolve_device(requested: str) -> str:
    import torch

    if requested in ("auto", ""):
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    kind = requested.split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise LadderError(f"--device {requested}: no CUDA device is available (torch.cuda.is_available() is False); "
                          "use --device cpu or install a CUDA build of torch")
    if kind == "cuda" and ":" in requested and int(requested.split(":")[1]) >= torch.cuda.device_count():
        raise LadderError(f"--device {requested}: only {torch.cuda.device_count()} CUDA device(s) present")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise LadderError(f"--device {requested}: MPS is not available on this machine; use --device cpu")
    if kind not in ("cpu", "cuda", "mps", "xpu"):
        raise LadderError(f"--device {requested}: unknown device; use auto, cpu, cuda, cuda:N or mps")
    return requested


def resolve_dtype(requested: str, device: str):
    import torch

    names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
             "float16": torch.float16, "fp16": torch.float16}
    if requested == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if requested not in names:
        raise LadderError(f"--dtype {requested}: choose auto, float32, bfloat16 or float16")
    return names[requested]


def _load_model(path: Path, config: dict, dtype, device: str):
    """A checked folder onto ``device``; a bitsandbytes-quantized folder keeps its own dtypes."""
    from transformers import AutoModelForCausalLM

    if config.get("quantization_config") is not None:
        return AutoModelForCausalLM.from_pretrained(path, device_map=device).eval()
    return AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device).eval()


class HFEngine(Engine):
    name = "hf"
    batch_mode = "batched"

    def __init__(self, model: str | Path | None, options: HFOptions | None = None, *, tokenizer: bool = True):
        """``tokenizer=False`` loads the weights alone (``ladder check`` on a folder whose tokenizer failed)."""
        import torch
        from transformers.utils import logging as hf_logging

        from codeladder.models.integrity import require_model_folder

        if model is None:
            raise LadderError("--backend hf needs --model PATH (a Hugging Face model folder)")
        options = options or HFOptions()
        hf_logging.disable_progress_bar()
        self.path = Path(model)
        config = require_model_folder(self.path, "--model", tokenizer=tokenizer)
        self.device = resolve_device(options.device)
        devices = replica_devices(self.device, options.replicas)
        self.device = devices[0]
        self.torch_dtype = resolve_dtype(options.dtype, self.device)
        self.batch_size, self.continuous = options.batch_size, options.continuous
        if options.continuous and options.draft:
            raise LadderError("--continuous and --draft: assisted generation decodes one sequence at a time; "
                              "drop one of them")
        self.tokenizer = self._tokenizer(self.path) if tokenizer else None
        self.model = _load_model(self.path, config, self.torch_dtype, self.device)
        if self.continuous:
            from codeladder.backends.hf_continuous import require_supported

            require_supported(self.model)
        actual = next(self.model.parameters()).device
        if actual.type != torch.device(self.device).type:
            raise LadderError(f"--device {self.device}: the model landed on {actual}; refusing to run on another "
                              "device")
        self.draft, self.draft_model = options.draft, None
        if options.draft:  # speculative decoding: transformers' assisted generation (one sequence at a time)
            draft_config = require_model_folder(options.draft, "--draft")
            self.draft_model = _load_model(Path(options.draft), draft_config, self.torch_dtype, self.device)
            if self.draft_model.config.vocab_size != self.model.config.vocab_size:
                raise LadderError(f"--draft {options.draft}: vocabulary {self.draft_model.config.vocab_size} differs "
                                  f"from the model's {self.model.config.vocab_size}; a draft must share the tokenizer")
            self.batch_size = 1
        self.replicas = None
        if len(devices) > 1:
            self.replicas = ReplicaPool(open_replica, str(self.path), options.model_dump(), devices[1:])

    @classmethod
    def loaded(cls, model: Any, tokenizer_folder: str | Path) -> HFEngine:
        """An engine over a transformers model already in memory (prune and quantize score their result)."""
        engine = cls.__new__(cls)
        engine.path = Path(tokenizer_folder)
        engine.model = model.eval()
        parameter = next(model.parameters())
        engine.device, engine.torch_dtype = str(parameter.device), parameter.dtype
        engine.batch_size, engine.draft, engine.draft_model, engine.replicas = 8, None, None, None
        engine.continuous = False
        engine.tokenizer = cls._tokenizer(engine.path)
        return engine

    @staticmethod
    def _tokenizer(path: Path):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path)
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer

    def describe(self) -> dict:
        return {"backend": self.name, "model": str(self.path), "device": str(next(self.model.parameters()).device),
                "dtype": str(self.torch_dtype).replace("torch.", ""), "draft": self.draft_model is not None,
                "replicas": self.replica_count}

    def uses_chat(self, mode: str) -> bool:
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        if mode == "chat" and not has_template:
            raise LadderError(f"{self.path}: --mode chat needs a tokenizer with a chat template; use --mode completion")
        return mode == "chat" or (mode == "auto" and has_template)

    def render(self, request: Request, chat: bool) -> str:
        if chat:
            return self.tokenizer.apply_chat_template(request.prompt.messages, tokenize=False,
                                                      add_generation_prompt=True)
        return request.prompt.text

    @property
    def replica_count(self) -> int:
        return 1 + len(self.replicas.workers) if self.replicas else 1

    @property
    def batch_hint(self) -> int:
        return self.batch_size * self.replica_count

    def close(self) -> None:
        if self.replicas is not None:
            self.replicas.close()

    @property
    def pad_id(self) -> int:
        return getattr(self.tokenizer, "pad_token_id", None) or 0

    def tokenize(self, text: str) -> list[int]:
        if self.tokenizer is None:
            raise LadderError(f"{self.path}: opened without its tokenizer")
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _tensor(self, rows: list[list[int]]):
        import torch

        return torch.tensor(rows, device=self.device)

    def _sync(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()

    def _forward(self, ids: list[int]):
        import torch

        with torch.inference_mode():
            return self.model(self._tensor([ids])).logits[0]

    def logits(self, ids: list[int]):
        return self._forward(ids).float().cpu().numpy()

    def logprobs(self, ids: list[int]) -> list[float]:
        import torch

        logits = self._forward(ids)[:-1].float()
        picked = torch.log_softmax(logits, dim=-1).gather(1, self._tensor(ids[1:])[:, None])
        return picked[:, 0].tolist()

    def prefill(self, ids: list[int]) -> None:
        self._forward(ids)
        self._sync()

    def greedy(self, ids: list[int], new_tokens: int, *, use_draft: bool = False) -> list[int]:
        return self.greedy_batch([ids], new_tokens, use_draft=use_draft)[0]

    def greedy_batch(self, rows: list[list[int]], new_tokens: int, *, use_draft: bool = False) -> list[list[int]]:
        """Equal-length rows in one generate call, exactly ``new_tokens`` each."""
        import torch

        if use_draft and self.draft_model is None:
            raise LadderError("no --draft model was given")
        tensor = self._tensor(rows)
        kwargs = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, temperature=None,
                      top_p=None, top_k=None, pad_token_id=self.pad_id)
        if use_draft:
            kwargs["assistant_model"] = self.draft_model
        with torch.inference_mode():
            out = self.model.generate(tensor, attention_mask=torch.ones_like(tensor), **kwargs)
        self._sync()
        return out[:, len(rows[0]):].tolist()

    @staticmethod
    def _token_logprobs(output, new_tokens):
        import torch

        logits = torch.stack(output.logits, dim=1).float()  # batch, steps, vocab (before sampling transforms)
        picked = torch.log_softmax(logits, dim=-1).gather(2, new_tokens[:, : logits.shape[1], None])[..., 0]
        return picked

    def generate(self, requests: list[Request], params: GenerationParams) -> list[Completion]:
        if self.replicas is not None:
            return self.replicas.generate(self.generate_from, requests, params, self.batch_size)
        return self.generate_from(requests, params, 0)

    def generate_from(self, requests: list[Request], params: GenerationParams, offset: int) -> list[Completion]:
        """``requests`` that start at position ``offset`` of a call (sampling seeds follow the position)."""
        chat = self.uses_chat(params.mode)
        texts = [self.render(r, chat) for r in requests]
        if self.continuous:
            return self._generate_continuous(texts, params, offset, chat)
        completions: list[Completion] = []
        for start in range(0, len(texts), self.batch_size):
            completions += self._generate_batch(texts[start:start + self.batch_size], params, offset + start, chat)
        return completions

    def _generate_batch(self, batch: list[str], params: GenerationParams, start: int, chat: bool) -> list[Completion]:
        import torch

        encoded = self.tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        sampling = params.temperature > 0
        kwargs = dict(max_new_tokens=params.max_new_tokens, do_sample=sampling, pad_token_id=self.pad_id)
        if sampling:
            kwargs.update(temperature=params.temperature, top_p=params.top_p, top_k=params.top_k or None)
            torch.manual_seed(params.seed + start)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
        if self.draft_model is not None:
            kwargs.update(assistant_model=self.draft_model)
        kwargs.update(return_dict_in_generate=True, output_logits=params.logprobs)
        began = time.perf_counter()
        with torch.inference_mode():
            output = self.model.generate(**encoded, **kwargs)
        seconds = time.perf_counter() - began
        new_tokens = output.sequences[:, encoded["input_ids"].shape[1]:]
        logprobs = self._token_logprobs(output, new_tokens) if params.logprobs else None
        completions, ended = [], torch.tensor(sorted(self.eos_ids), dtype=new_tokens.dtype,
                                                device=new_tokens.device)
        for row, ids in enumerate(new_tokens):
            real = (ids != self.tokenizer.pad_token_id) & ~torch.isin(ids, ended)  # the answer, end token excluded
            produced = int(real.sum())
            text = apply_stops(self.tokenizer.decode(ids, skip_special_tokens=True), params.stop)
            completion = Completion(text=text, prompt_tokens=int(encoded["attention_mask"][row].sum()),
                                    completion_tokens=produced, seconds=seconds / len(batch), chat=chat)
            if logprobs is not None and produced:
                completion.mean_logprob = float(logprobs[row][real].mean())
            completions.append(completion)
        return completions

    def _generate_continuous(self, texts: list[str], params: GenerationParams, offset: int,
                             chat: bool) -> list[Completion]:
        """Every text through one continuous batch; request ``i`` of the call samples with seed ``seed + i``."""
        import torch

        from codeladder.backends.hf_continuous import ContinuousDecoder, Sampling

        prompts = [self.tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
        decoder = ContinuousDecoder(self.model, self.tokenizer, width=self.batch_size, eos_ids=self.eos_ids,
                                    pad_id=self.pad_id)
        sampling = Sampling(params.temperature, params.top_p, params.top_k, params.logprobs,
                            self.model.generation_config.repetition_penalty or 1.0)
        seeds = [params.seed + offset + i for i in range(len(texts))]
        began = time.perf_counter()
        with torch.inference_mode():
            answers = decoder.run(prompts, params.max_new_tokens, sampling, seeds, tuple(params.stop or ()))
        seconds = (time.perf_counter() - began) / max(1, len(texts))
        completions = []
        for prompt, answer in zip(prompts, answers):
            text = apply_stops(self.tokenizer.decode(answer.tokens, skip_special_tokens=True), params.stop)
            completion = Completion(text=text, prompt_tokens=len(prompt), completion_tokens=len(answer.tokens),
                                    seconds=seconds, chat=chat)
            if params.logprobs:
                completion.mean_logprob = answer.mean_logprob
            completions.append(completion)
        return completions

    @property
    def eos_ids(self) -> set[int]:
        """The ids that end an answer: the generation config's, as ``generate`` stops (the tokenizer's where the
        config names none)."""
        configured = self.model.generation_config.eos_token_id
        ids = set(configured if isinstance(configured, list) else [configured] if configured is not None else [])
        return ids or ({self.tokenizer.eos_token_id} if self.tokenizer.eos_token_id is not None else set())


def open_replica(model: str, options: dict) -> HFEngine:
    """One replica of ``--replicas`` (run in its worker process): the same engine, alone."""
    return HFEngine(model, HFOptions(**{**options, "replicas": 1}))
