"""HumanEval infilling (Bavarian et al., 2022; ``openai/human-eval-infilling``, MIT): one span of a HumanEval
canonical solution removed; the model writes the middle between the text before it and the text after it.

Four sets, all 164 problems each: single line (1033 tasks), multi line (5815), random span (1640) and random span
light (164). The prompt is fill-in-the-middle text built from the FIM tokens of the model's own tokenizer, as its
family spells them (Qwen2.5-Coder, StarCoder, DeepSeek-Coder, CodeLlama); a model without them is refused in one
line before it loads, and chat templates are never used. The program is prefix + middle + suffix, judged as
upstream composes it (the row's ``check`` on the entry point), split as HumanEval is: the sample runs alone in the
candidate, the tests and the problem's HumanEval prompt (its helpers) in the trusted checker. Hand-written:
upstream's harness runs samples in its own process (its ``exec`` line ships commented out) and has no FIM prompts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from codeladder.benchmarks.base import Benchmark, Task, TestProgram
from codeladder.benchmarks.humaneval import HumanEval, check_program
from codeladder.errors import LadderError


@dataclass(frozen=True)
class FimFormat:
    """A family's FIM spelling: the prompt is ``prefix_token + prefix + suffix_token + suffix + middle_token``."""

    family: str
    prefix: str
    suffix: str
    middle: str
    ends: tuple[str, ...]  # what ends the middle
    vocab: tuple[str, ...] = ()  # the tokens as the vocabulary stores them, where that differs (SentencePiece)

    def found_in(self, words: set[str]) -> bool:
        return all(token in words for token in self.vocab or (self.prefix, self.suffix, self.middle))

    def prompt(self, before: str, after: str) -> str:
        return f"{self.prefix}{before}{self.suffix}{after}{self.middle}"


FIM_FORMATS = (
    FimFormat("Qwen2.5-Coder", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>",
              ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|im_end|>", "<|fim_prefix|>")),
    FimFormat("StarCoder", "<fim_prefix>", "<fim_suffix>", "<fim_middle>",
              ("<|endoftext|>", "<fim_pad>", "<file_sep>", "<fim_prefix>")),
    FimFormat("DeepSeek-Coder", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>",
              ("<|EOT|>", "<｜end▁of▁sentence｜>", "<｜fim▁begin｜>")),
    FimFormat("CodeLlama", "<PRE> ", " <SUF>", " <MID>", (" <EOT>", "<EOT>", "</s>"),
              vocab=("▁<PRE>", "▁<SUF>", "▁<MID>")),
)


def _folder_vocabulary(folder: Path) -> set[str]:
    words: set[str] = set()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        path = folder / name
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LadderError(f"{path}: unreadable ({exc}); FIM tokens are read from it") from None
        words.update(t.get("content", "") for t in data.get("added_tokens", []) if isinstance(t, dict))
        words.update(t.get("content", "") for t in data.get("added_tokens_decoder", {}).values() if isinstance(t, dict))
        vocab = data.get("model", {}).get("vocab", {}) if isinstance(data.get("model"), dict) else {}
        words.update(vocab if isinstance(vocab, dict) else (v[0] for v in vocab if isinstance(v, list) and v))
    return words


def _gguf_vocabulary(path: Path) -> set[str]:
    from gguf import GGUFReader  # the llama.cpp project's reader, installed with the llamacpp backend

    field = GGUFReader(path).fields.get("tokenizer.ggml.tokens")
    return {bytes(field.parts[i]).decode("utf-8", "replace") for i in field.data} if field else set()


def vocabulary(model: str | None) -> set[str]:
    """Every token string of the model's tokenizer (a model folder's tokenizer files, or a GGUF file's vocabulary)."""
    path = Path(model) if model else None
    if path is None or not path.exists():
        raise LadderError(f"--model {model}: infilling reads the FIM tokens from the model's tokenizer; give a model "
                          "folder or a .gguf file (a served model's tokenizer cannot be read)")
    return _gguf_vocabulary(path) if path.is_file() else _folder_vocabulary(path)


def fim_format(model: str | None) -> FimFormat:
    words = vocabulary(model)
    for fmt in FIM_FORMATS:
        if fmt.found_in(words):
            return fmt
    spelled = ", ".join(f"{f.family} {f.prefix.strip()}" for f in FIM_FORMATS)
    raise LadderError(f"{model}: its tokenizer has no fill-in-the-middle tokens (looked for {spelled}); "
                      "HumanEval infilling needs a FIM-trained model")


class _Infilling(Benchmark):
    source = "human-eval-infilling (openai, MIT)"
    default_timeout_s = 5.0  # upstream: 3 s
    completion_only = True
    fim: FimFormat | None = None

    def _rows_to_tasks(self, rows: list[dict]) -> list[Task]:
        problems = {t.task_id: t.prompt for t in HumanEval().load()}  # the checker's prelude: the whole prompt
        return [
            Task(task_id=r["task_id"], prompt=r["prompt"], instruction=r["prompt"], entry_point=r["entry_point"],
                 reference=r["prompt"] + r["canonical_solution"] + r["suffix"],
                 data={"suffix": r["suffix"], "test": r["test"],
                       "problem": problems["HumanEval/" + r["task_id"].split("/")[2]]})
            for r in rows
        ]

    def use_model(self, model: str | None) -> None:
        self.fim = fim_format(model)
        self.completion_stops = self.fim.ends

    def own_prompt(self, task: Task, strategy: str) -> tuple[str, str] | None:
        if self.fim is None:  # the reference backend: the prompt is never read
            return None
        text = self.fim.prompt(task.prompt, task.data["suffix"])
        return text, text

    def extract(self, task: Task, raw: str, chat: bool) -> tuple[str, str]:
        return self.solution_from_completion(task, raw), "infill"

    def solution_from_completion(self, task: Task, completion: str) -> str:
        """Upstream's ``completion`` is the middle alone: the program is prefix + middle + suffix."""
        return task.prompt + completion + task.data["suffix"]

    def test_program(self, task: Task, solution: str) -> TestProgram:
        return check_program(solution, task.data["problem"], task.data["test"], task.entry_point)


class SingleLine(_Infilling):
    name = "humaneval-infill-single"
    data_file = "HumanEval-SingleLineInfilling.jsonl.gz"
    sha256 = "1277073e7ddce163ef68598c2bca777f688a53df99422f097e37362090f88e1f"


class MultiLine(_Infilling):
    name = "humaneval-infill-multi"
    data_file = "HumanEval-MultiLineInfilling.jsonl.gz"
    sha256 = "2f341612eee1d35da1357a4f365e0c0b3ba6e2b62eb491e88aaefa4855af0349"


class RandomSpan(_Infilling):
    name = "humaneval-infill-span"
    data_file = "HumanEval-RandomSpanInfilling.jsonl.gz"
    sha256 = "b4f330d8a8ff97bf85d9def497dffcae4d741e506449386a877236e422e33e8d"


class RandomSpanLight(_Infilling):
    name = "humaneval-infill-span-light"
    data_file = "HumanEval-RandomSpanInfillingLight.jsonl.gz"
    sha256 = "1432250ecac0cb56e6f97f8faf0970419ef892a98fda7e1f5aa4c4b87209b760"
