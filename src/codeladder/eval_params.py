"""The eval verb's params (``ladder eval``, the ``eval`` recipe stage, ``EvalParams`` from Python): what to
evaluate, how to generate, how to judge. A module of its own so that generation (``eval_generation``) and the
evaluator (``evaluate``) both read it without importing each other."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, ClassVar, Optional

from pydantic import BeforeValidator, model_validator

from codeladder.benchmarks import Benchmark
from codeladder.backends.options import GENERATION, MODES
from codeladder.backends import GenerationParams, answers_with_solutions, infer_backend
from codeladder.envs.executors import NO_RAY, ray_available
from codeladder.errors import LadderError
from codeladder.params import OUTPUT, VerbParams, comma_ints, option
from codeladder.prompts.extract import COMPLETION_STOPS
from codeladder.runs import slug



def _file_sha256(path: str | None) -> str | None:
    if not path or not Path(path).is_file():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class EvalParams(VerbParams):
    """Evaluate a model (or the reference solutions, or a samples file) on a benchmark."""

    verb: ClassVar[str] = "eval"
    benchmark: str = option("humaneval", "the benchmark (see `ladder ls benchmark`)", argument=True,
                            choices="benchmark")
    model: Optional[str] = option(None, "model folder (hf), .gguf file (llamacpp), or the served model's name "
                                        "(openai); none: score the reference solutions")
    backend: Optional[str] = option(None, "engine (see `ladder ls backend`); default: inferred from --model and "
                                          "--base-url, 'reference' without a model", choices="backend")
    samples: Optional[str] = option(None, "score pre-generated samples: EvalPlus JSONL (solution or completion) "
                                          "or a run's samples.jsonl")
    strategy: str = option("standard", "prompt strategy (see `ladder ls strategy`)", choices="strategy")
    shots: int = option(1, "exemplars for the few-shot strategy", ge=0, le=16)
    reflexion_rounds: int = option(2, "reflexion: regenerations at most after a failed prompt example", ge=1, le=8)
    mode: str = GENERATION["mode"]
    bcb_mode: str = option("complete", "BigCodeBench prompt: complete (continue the code) or instruct (from "
                                       "the description)", choices=("complete", "instruct"))
    n: int = option(1, "samples per task", ge=1)
    k: Annotated[tuple[int, ...], BeforeValidator(comma_ints)] = option((1,), "pass@k values, e.g. 1,10,100")
    temperature: float = GENERATION["temperature"]
    top_p: float = GENERATION["top_p"]
    top_k: int = GENERATION["top_k"]
    seed: int = GENERATION["seed"]
    max_new_tokens: int = GENERATION["max_new_tokens"]
    limit: Optional[int] = option(None, "only the first N tasks", ge=1)
    timeout: Optional[float] = option(None, "seconds per sample (default: per benchmark)", gt=0, le=3600)
    memory_mb: Optional[int] = option(None, "MiB of memory per sample (default 2048; 4096 for *-plus and "
                                            "BigCodeBench)", flags=("--memory",), ge=64)
    workers: Optional[int] = option(None, "parallel sandbox workers (default: CPU cores; with --executor ray: per "
                                             "node, default its Ray CPUs)", ge=1)
    output: Optional[str] = option(None, "run folder (default runs/BENCHMARK/TAG)", flags=OUTPUT)
    overwrite: bool = option(False, "start the run folder again (removes only the files codeladder wrote there)")
    rerank: Optional[str] = option(None, "pick one of N samples per task (see `ladder ls rerank`)",
                                   choices="rerank")
    isolate: bool = option(True, "run samples in Linux namespaces (no network, read-only filesystem)")
    executor: str = option("local", "where samples run: local (this machine's sandbox pool) or ray (the same pool on "
                                    "every node of a Ray cluster: the ray extra, see docs/sandbox.md)",
                           choices=("local", "ray"))
    ray_address: Optional[str] = option(None, "the Ray cluster (--executor ray): HOST:PORT of the head, "
                                              "ray://HOST:PORT or auto (default: $RAY_ADDRESS, else a Ray instance "
                                              "on this machine)")
    env: Optional[str] = option(None, "evaluation environment whose interpreter runs the samples: a folder or a name "
                                      "from `ladder env create` (default: the benchmark's own when it was made; "
                                      "'none': this interpreter)")
    data_version: Optional[str] = option(None, "the benchmark's data version (BigCodeBench: v0.1.4, the default, "
                                               "or v0.1.0)")
    data: Optional[str] = option(None, "LiveCodeBench: the folder of your code_generation_lite release files")
    release: str = option("v6", "LiveCodeBench: vN (testN.jsonl) or release_vN (v1 … vN together)")
    since: Optional[str] = option(None, "LiveCodeBench: only problems from this contest date on (YYYY-MM-DD)")
    until: Optional[str] = option(None, "LiveCodeBench: only problems up to this contest date (YYYY-MM-DD)")
    cutoff: Optional[str] = option(None, "LiveCodeBench: only problems published after this date (YYYY-MM-DD)")
    after_cutoff: bool = option(False, "LiveCodeBench: only problems after the model's training cutoff (from its "
                                       "lineage's training_cutoff, else --cutoff)")
    backend_options: dict[str, Any] = option({}, "the backend's own options (its params class validates them)")

    @model_validator(mode="after")
    def _consistent(self) -> "EvalParams":
        if self.samples and self.model:
            raise LadderError("--samples and --model exclude each other: score a file, or generate with a model")
        if self.samples and not Path(self.samples).is_file():
            raise LadderError(f"--samples {self.samples}: no such file")
        if not self.samples and any(k > self.n for k in self.k):
            raise LadderError(f"--k {','.join(map(str, self.k))}: every k must be between 1 and --n ({self.n})")
        if any(k < 1 for k in self.k):
            raise LadderError(f"--k {','.join(map(str, self.k))}: every k must be at least 1")
        if answers_with_solutions(self.backend_name) and self.model:
            raise LadderError(f"--backend {self.backend_name} takes no --model (it answers with the canonical "
                              "solutions)")
        if self.rerank and self.n < 2 and not self.samples:
            raise LadderError("--rerank picks one of several samples: use --n 2 or more")
        if self.ray_address and self.executor != "ray":
            raise LadderError("--ray-address is for --executor ray")
        if self.executor == "ray" and not ray_available():
            raise LadderError(NO_RAY)
        return self

    @property
    def backend_name(self) -> str:
        if self.samples:
            return "samples"
        return self.backend or infer_backend(self.model, self.backend_options.get("base_url"))

    def generation(self, chat: bool) -> GenerationParams:
        return GenerationParams(max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_p=self.top_p,
                                top_k=self.top_k, seed=self.seed, stop=() if chat else COMPLETION_STOPS,
                                mode=self.mode, logprobs=self.rerank == "logprob")

    def run_key(self, bench: Benchmark) -> dict:
        """Settings that change the samples; a run folder holds one combination of them (an edited
        --samples file counts as another run: its checksum is part of the key)."""
        return {"benchmark": self.benchmark, "backend": self.backend_name, "model": self.model,
                "samples": self.samples, "samples_sha256": _file_sha256(self.samples), "strategy": self.strategy,
                "shots": self.shots, "mode": self.mode, "bcb_mode": self.bcb_mode if bench.modes else None,
                "n": self.n, "temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k,
                "seed": self.seed, "max_new_tokens": self.max_new_tokens,
                **({"data_version": bench.data_version} if bench.versions else {}),
                **({"reflexion_rounds": self.reflexion_rounds} if self.strategy == "reflexion" else {}),
                **({"window": bench.window()} if bench.window() else {})}

    def default_output(self) -> Path:
        source = self.samples or self.model or self.backend_name
        tag = f"{slug(Path(source).name or source)}-{self.strategy}-n{self.n}-t{self.temperature:g}-s{self.seed}"
        return Path("runs") / self.benchmark / tag


EvalConfig = EvalParams  # the name earlier releases documented

__all__ = ["EvalParams", "EvalConfig", "MODES"]
