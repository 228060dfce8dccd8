from codeladder.benchmarks import get_benchmark
from codeladder.prompts import STRATEGIES, extract_code, get_strategy
from codeladder.prompts.extract import extract_completion, strip_reasoning

HE = get_benchmark("humaneval").load()
MBPP = get_benchmark("mbpp").load()


def test_every_strategy_builds_both_modes():
    for name in STRATEGIES.names(with_aliases=True):
        strategy = get_strategy(name, shots=2)
        for task in (HE[0], MBPP[0]):
            prompt = strategy.build(task)
            assert task.prompt in prompt.text
            assert prompt.messages[-1]["role"] == "user"
            assert task.entry_point in prompt.messages[-1]["content"]


def test_template_hash_identifies_the_strategy():
    hashes = {get_strategy(n).template_hash for n in ("standard", "few-shot", "scot", "cgo")}
    assert len(hashes) == 4
    assert get_strategy("default").template_hash == get_strategy("standard").template_hash
    assert get_strategy("few-shot", 1).template_hash != get_strategy("few-shot", 3).template_hash


def test_mbpp_prompt_names_the_function_and_lists_the_tests():
    task = MBPP[0]
    message = get_strategy("standard").build(task).messages[-1]["content"]
    assert f"`{task.entry_point}`" in message
    for test in task.tests:
        assert test in message


def test_few_shot_adds_exemplar_turns():
    prompt = get_strategy("few-shot", shots=3).build(HE[0])
    assert [m["role"] for m in prompt.messages] == ["system"] + ["user", "assistant"] * 3 + ["user"]
    assert prompt.text.count("def ") >= 4


def test_think_blocks_are_dropped():
    raw = "<think>maybe ```python\ndef f(): return 0\n```</think>\n```python\ndef f():\n    return 1\n```"
    assert extract_code(raw, "f").code.strip() == "def f():\n    return 1"
    assert strip_reasoning("plan...</think>answer") == "answer"
    assert strip_reasoning("ok <think>never ends") == "ok "


def test_prefers_the_block_that_defines_the_entry_point():
    raw = ("Here is a helper:\n```python\nprint('usage')\n```\nAnd the solution:\n```python\n"
           "def add(a, b):\n    return a + b\n```\n```python\nassert add(1, 2) == 3\n```")
    found = extract_code(raw, "add")
    assert found.method == "fenced-entry"
    assert "return a + b" in found.code and "print" not in found.code


def test_unterminated_fence_and_plain_text():
    assert "return 2" in extract_code("```python\ndef g():\n    return 2\n", "g").code
    assert extract_code("def g():\n    return 3\n", "g").code.startswith("def g()")


def test_prompt_imports_are_added_and_body_only_answers_are_completed():
    task = HE[0]  # from typing import List
    full = "```python\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    return False\n```"
    code = extract_code(full, task.entry_point, task.prompt).code
    assert code.startswith("from typing import List")
    body = "```python\n    return False\n```"
    code = extract_code(body, task.entry_point, task.prompt).code
    assert code.startswith(task.prompt) and code.endswith("return False")


def test_completion_mode_cuts_at_stops_and_trims_to_parse():
    task = HE[2]
    found = extract_completion("    return number % 1.0\n\n\nprint(truncate_number(3.5))\n", task.prompt)
    assert found.code == task.prompt + "    return number % 1.0\n\n"
    broken = extract_completion("    return number % 1.0\n\ndef other(:\n", task.prompt)
    assert broken.method == "completion-trimmed"
    assert broken.code.rstrip().endswith("return number % 1.0")
