"""Decontamination against the real bundled benchmarks with real datasketch: pasted prompts and renamed
paraphrases are found, MBPP's train split and unrelated short loops are not matched to HumanEval."""

import json
import re

import pytest

from conftest import ladder
from renaming import rename
from codeladder.benchmarks import get_benchmark
from codeladder.data.decontaminate import DecontaminateParams, decontaminate
from codeladder.data.detect import Detector
from codeladder.errors import LadderError

SHORT_LOOPS = [
    "def total(values):\n    result = 0\n    for value in values:\n        result += value\n    return result\n",
    "def count_positive(nums):\n    count = 0\n    for i in range(len(nums)):\n        if nums[i] > 0:\n"
    "            count += 1\n    return count\n",
    "def find_max(arr):\n    best = arr[0]\n    for x in arr:\n        if x > best:\n            best = x\n    return best\n",
    "def is_prime(n):\n    if n < 2:\n        return False\n    for i in range(2, int(n ** 0.5) + 1):\n"
    "        if n % i == 0:\n            return False\n    return True\n",
    "def bubble_sort(arr):\n    n = len(arr)\n    for i in range(n):\n        for j in range(0, n - i - 1):\n"
    "            if arr[j] > arr[j + 1]:\n                arr[j], arr[j + 1] = arr[j + 1], arr[j]\n    return arr\n",
    "def remove_duplicates(items):\n    seen = set()\n    out = []\n    for x in items:\n        if x not in seen:\n"
    "            seen.add(x)\n            out.append(x)\n    return out\n",
    "def word_counts(text):\n    counts = {}\n    for word in text.split():\n"
    "        counts[word] = counts.get(word, 0) + 1\n    return counts\n",
    "def binary_search(arr, x):\n    lo, hi = 0, len(arr) - 1\n    while lo <= hi:\n        mid = (lo + hi) // 2\n"
    "        if arr[mid] == x:\n            return mid\n        elif arr[mid] < x:\n            lo = mid + 1\n"
    "        else:\n            hi = mid - 1\n    return -1\n",
]


@pytest.fixture(scope="module")
def humaneval():
    return get_benchmark("humaneval").load()


@pytest.fixture(scope="module")
def detector():
    return Detector(["humaneval"])


def test_every_pasted_humaneval_prompt_is_flagged(detector, humaneval):
    found = detector.scan([[t.prompt, "    return None\n"] for t in humaneval])
    assert all(any(m.task_id == t.task_id and m.kind == "ngram" for m in f) for t, f in zip(humaneval, found))


def test_renamed_paraphrases_are_flagged(detector, humaneval):
    found = detector.scan([[rename(t.reference)] for t in humaneval])
    hits = sum(any(m.task_id == t.task_id for m in f) for t, f in zip(humaneval, found))
    assert hits >= 0.95 * len(humaneval)  # measured 161/164 (docs/data.md)
    others = {(t.task_id, m.task_id) for t, f in zip(humaneval, found) for m in f if m.task_id != t.task_id}
    assert others == {("HumanEval/59", "HumanEval/31")}  # 59's solution holds 31's is_prime body: a real copy


def test_unrelated_short_loops_are_not_flagged(detector):
    assert detector.scan([[code] for code in SHORT_LOOPS]) == [[] for _ in SHORT_LOOPS]


def test_cli_report_rows_and_clean_file(tmp_path, humaneval):
    task = humaneval[2]
    rows = [{"prompt": "def add(a, b):\n", "completion": "    return a + b\n"},
            {"prompt": task.prompt, "completion": "    return 0.0\n"},
            {"messages": [{"role": "user", "content": "Solve this."},
                          {"role": "assistant", "content": f"```python\n{rename(humaneval[0].reference)}```"}]},
            {"prompt": "Write code.", "chosen": "print(1)\n", "rejected": rename(humaneval[12].reference)}]
    data = tmp_path / "train.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows[:2]) + "\n\n" + "\n".join(json.dumps(r) for r in rows[2:]))
    report, clean = tmp_path / "report.json", tmp_path / "clean.jsonl"
    ladder("data", "decontaminate", str(data), "--against", "humaneval", "-o", str(report), "--drop", str(clean))
    result = json.loads(report.read_text())
    assert [r["line"] for r in result["rows"]] == [0, 1, 3, 4]  # 0-based file lines; the blank line is no row
    assert [r["contaminated"] for r in result["rows"]] == [False, True, True, True]
    assert {m["task_id"] for m in result["rows"][1]["matches"]} == {task.task_id}
    assert {"benchmark", "task_id", "field", "kind", "score"} <= set(result["rows"][2]["matches"][0])
    assert {m["task_id"] for m in result["rows"][3]["matches"]} == {"HumanEval/12"}
    assert clean.read_text() == json.dumps(rows[0]) + "\n"
    assert result["overlap"]["humaneval"]["rows"] == 3


def test_mbpp_train_split_passes_against_humaneval(tmp_path):
    data = tmp_path / "mbpp-train.jsonl"
    tasks = get_benchmark("mbpp-train").load()
    data.write_text("".join(json.dumps({"prompt": t.prompt, "completion": t.reference}) + "\n" for t in tasks))
    report = decontaminate(DecontaminateParams(file=str(data), against="humaneval"))
    assert report["rows_total"] == len(tasks) == 320
    assert report["rows_contaminated"] == 0 and report["overlap"] == {}


@pytest.mark.parametrize("line, message", [
    ('{"prompt": "x"}', "needs 'completion'"),
    ('{"messages": [{"role": "user", "content": 3}]}', "'messages[0].content' must be a string"),
    ('{"prompt": "x", "chosen": "y"}', "needs field 'rejected'"),
    ('{"input": "x"}', "unknown row shape"),
    ('[1, 2]', "expected a JSON object"),
    ('{"prompt": ', "not valid JSON"),
])
def test_bad_rows_are_one_line_naming_file_line_and_field(tmp_path, line, message):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "fine"}\n' + line + "\n")
    with pytest.raises(LadderError, match=re.escape(message)) as caught:
        decontaminate(DecontaminateParams(file=str(data), against="humaneval"))
    assert str(caught.value).startswith(f"{data}:2:") and "\n" not in str(caught.value)


def test_drop_refuses_to_overwrite_its_input(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "x"}\n')
    with pytest.raises(LadderError, match="is the input file"):
        decontaminate(DecontaminateParams(file=str(data), against="humaneval", drop=str(data)))


def test_an_empty_file_is_no_clean_report_and_outputs_are_not_overwritten(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    done = ladder("data", "decontaminate", str(empty), "--against", "humaneval", "-o", str(tmp_path / "r.json"),
                  check=False)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "empty.jsonl: holds no rows (empty, or blank lines only); nothing to check" in done.stderr
    assert not (tmp_path / "r.json").exists()
    data, report, clean = tmp_path / "d.jsonl", tmp_path / "report.json", tmp_path / "clean.jsonl"
    data.write_text('{"text": "x = 1"}\n')
    clean.write_text("mine\n")
    done = ladder("data", "decontaminate", str(data), "--against", "humaneval", "-o", str(report), "--drop",
                  str(clean), check=False)
    assert done.returncode == 2 and "--drop" in done.stderr and "pass --overwrite" in done.stderr
    assert clean.read_text() == "mine\n" and not report.exists()
    ladder("data", "decontaminate", str(data), "--against", "humaneval", "-o", str(report), "--drop", str(clean),
           "--overwrite")
    assert clean.read_text() == data.read_text() and json.loads(report.read_text())["rows_total"] == 1


def test_the_default_benchmarks_are_every_bundled_scored_one_and_need_no_user_files():
    from codeladder.benchmarks import get_benchmark
    from codeladder.data.decontaminate import scored_benchmarks

    names = scored_benchmarks()
    assert {"humaneval", "mbpp-plus", "cruxeval-o", "humaneval-infill-single"} <= set(names)
    assert "mbpp-train" not in names and "livecodebench" not in names  # a training pool; the user's own release
    for name in names:
        assert get_benchmark(name).load()  # each loads offline, with no --data
