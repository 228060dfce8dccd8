"""HumanEval infilling: prefix + middle + suffix judged in the real sandbox; FIM tokens read from real tokenizers."""

import json

import pytest

from codeladder.benchmarks import get_benchmark
from codeladder.benchmarks.humaneval_infill import FIM_FORMATS, fim_format
from codeladder.errors import LadderError
from benchmarks.test_benchmarks import run_references
from conftest import ladder

SIZES = {"humaneval-infill-single": 1033, "humaneval-infill-multi": 5815, "humaneval-infill-span": 1640,
         "humaneval-infill-span-light": 164}


@pytest.mark.parametrize("name", sorted(SIZES))
def test_every_set_loads_all_164_problems(name):
    tasks = get_benchmark(name).load()
    assert len(tasks) == SIZES[name]
    assert {t.task_id.split("/")[2] for t in tasks} == {str(i) for i in range(164)}


def test_canonical_middles_pass_on_the_light_set():
    statuses = run_references("humaneval-infill-span-light")  # all 164, about 1 s (single: 1033 in 5 s)
    assert len(statuses) == 164 and set(statuses.values()) == {"passed"}


def test_an_empty_or_wrong_middle_fails():
    bench = get_benchmark("humaneval-infill-span-light")
    tasks = bench.load()[:12]
    empty = run_references("humaneval-infill-span-light",
                           {t.task_id: bench.solution_from_completion(t, "") for t in tasks})
    assert all(empty[t.task_id] != "passed" for t in tasks)  # upstream: an empty middle passes 0 light rows
    task = tasks[0]
    middle = task.reference[len(task.prompt):len(task.reference) - len(task.data["suffix"])]
    assert bench.solution_from_completion(task, middle) == task.reference


def test_the_checker_keeps_the_tests_and_gets_the_problems_helpers():
    bench = get_benchmark("humaneval-infill-single")
    task = next(t for t in bench.load() if t.task_id.startswith("SingleLineInfilling/HumanEval/38/"))
    program = bench.test_program(task, task.reference)
    assert "def check" not in program.code and "def check" in program.checker["test"]
    assert "def encode_cyclic" in program.checker["prelude"]  # HumanEval/38's test calls the prompt's helper


def _tokenizer_folder(tmp_path, tokens: list[str]):
    added = [{"id": 100 + i, "content": t, "special": True} for i, t in enumerate(tokens)]
    (tmp_path / "tokenizer.json").write_text(json.dumps({"added_tokens": added, "model": {"vocab": {"a": 0}}}))
    return str(tmp_path)


@pytest.mark.parametrize("fmt", FIM_FORMATS, ids=lambda f: f.family)
def test_each_familys_fim_spelling_is_found_in_its_tokenizer(tmp_path, fmt):
    tokens = list(fmt.vocab) or [fmt.prefix, fmt.suffix, fmt.middle]
    found = fim_format(_tokenizer_folder(tmp_path, tokens + ["<|endoftext|>"]))
    assert found == fmt
    text = found.prompt("def f():\n    ", "\n    return x\n")
    assert text.startswith(fmt.prefix) and text.endswith(fmt.middle)


def test_a_model_without_fim_tokens_is_refused_in_one_line(smollm2_gguf, tmp_path):
    with pytest.raises(LadderError, match="has no fill-in-the-middle tokens"):
        fim_format(str(smollm2_gguf))  # the real SmolLM2 vocabulary: StarCoder's specials but no <fim_*>
    done = ladder("eval", "humaneval-infill-span-light", "--model", str(smollm2_gguf), "--limit", "1",
                  "--output", str(tmp_path / "run"), check=False)
    assert done.returncode != 0 and "Traceback" not in done.stderr + done.stdout
    assert "no fill-in-the-middle tokens" in done.stderr + done.stdout
    assert not (tmp_path / "run" / "summary.json").exists()


def test_chat_mode_is_refused_for_fill_in_the_middle(tmp_path):
    done = ladder("eval", "humaneval-infill-single", "--mode", "chat", "--output", str(tmp_path / "r"), check=False)
    assert done.returncode != 0 and "fill-in-the-middle" in done.stderr + done.stdout
