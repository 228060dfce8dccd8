"""``hf``: a local transformers model folder; batched (left padding), greedy or sampled, on ``--device``.

Asking for a device that is not there is an error, never a quiet fall-back to the CPU.
"""

from __future__ import annotations

import time
from pathlib import Path

from codeladder.backends.base import Completion, GenerationParams, Request
from codeladder.errors import LadderError
from codeladder.models.integrity import require_model_folder
from codeladder.prompts.extract import apply_stops


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


class HFBackend:
    name = "hf"

    def __init__(self, model: str | Path, device: str = "auto", dtype: str = "auto", batch_size: int = 8,
                 draft: str | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        path = Path(model)
        require_model_folder(path, "--model")
        self.path = path
        self.device = resolve_device(device)
        self.torch_dtype = resolve_dtype(dtype, self.device)
        self.batch_size = max(1, batch_size)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=self.torch_dtype).to(self.device).eval()
        actual = next(self.model.parameters()).device
        if actual.type != torch.device(self.device).type:
            raise LadderError(f"--device {self.device}: the model landed on {actual}; refusing to run on another device")
        self.draft = None
        if draft:  # speculative decoding: transformers' assisted generation (one sequence at a time)
            require_model_folder(draft, "--draft")
            self.draft = AutoModelForCausalLM.from_pretrained(draft, dtype=self.torch_dtype).to(self.device).eval()
            if self.draft.config.vocab_size != self.model.config.vocab_size:
                raise LadderError(f"--draft {draft}: vocabulary {self.draft.config.vocab_size} differs from the "
                                  f"model's {self.model.config.vocab_size}; a draft must share the tokenizer")
            self.batch_size = 1

    def describe(self) -> dict:
        return {"backend": self.name, "model": str(self.path), "device": str(next(self.model.parameters()).device),
                "dtype": str(self.torch_dtype).replace("torch.", ""), "draft": self.draft is not None}

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

    @staticmethod
    def _token_logprobs(output, new_tokens):
        import torch

        logits = torch.stack(output.logits, dim=1).float()  # batch, steps, vocab (before sampling transforms)
        picked = torch.log_softmax(logits, dim=-1).gather(2, new_tokens[:, : logits.shape[1], None])[..., 0]
        return picked

    def generate(self, requests: list[Request], params: GenerationParams) -> list[Completion]:
        import torch

        chat = self.uses_chat(params.mode)
        texts = [self.render(r, chat) for r in requests]
        completions: list[Completion] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start:start + self.batch_size]
            encoded = self.tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
            sampling = params.temperature > 0
            kwargs = dict(max_new_tokens=params.max_new_tokens, do_sample=sampling,
                          pad_token_id=self.tokenizer.pad_token_id)
            if sampling:
                kwargs.update(temperature=params.temperature, top_p=params.top_p, top_k=params.top_k or None)
                torch.manual_seed(params.seed + start)
            else:
                kwargs.update(temperature=None, top_p=None, top_k=None)
            if params.stop:
                kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
            if self.draft is not None:
                kwargs.update(assistant_model=self.draft)
            kwargs.update(return_dict_in_generate=True, output_logits=params.logprobs)
            began = time.perf_counter()
            with torch.inference_mode():
                output = self.model.generate(**encoded, **kwargs)
            seconds = time.perf_counter() - began
            new_tokens = output.sequences[:, encoded["input_ids"].shape[1]:]
            logprobs = self._token_logprobs(output, new_tokens) if params.logprobs else None
            for row, ids in enumerate(new_tokens):
                real = ids != self.tokenizer.pad_token_id
                produced = int(real.sum())
                text = apply_stops(self.tokenizer.decode(ids, skip_special_tokens=True), params.stop)
                completion = Completion(text=text, prompt_tokens=int(encoded["attention_mask"][row].sum()),
                                        completion_tokens=produced, seconds=seconds / len(batch), chat=chat)
                if logprobs is not None and produced:
                    completion.mean_logprob = float(logprobs[row][real].mean())
                completions.append(completion)
        return completions
