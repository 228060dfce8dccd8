"""`ladder data quality` on a file seeded with each problem it reports (real datasketch for near duplicates)."""

import json

from conftest import ladder
from renaming import rename
from codeladder.data.quality import QualityParams, quality

CODE = ("def running_max(numbers):\n    result = []\n    current = None\n    for n in numbers:\n"
        "        if current is None or n > current:\n            current = n\n        result.append(current)\n"
        "    return result\n")


def seeded(tmp_path):
    rows = [
        {"prompt": "Write running_max.", "completion": CODE},                                   # 0
        {"prompt": "Write running_max.", "completion": CODE.replace("    ", "  ")},             # 1 exact dup of 0
        {"prompt": "Write running_max.", "completion": rename(CODE)},                           # 2 near dup of 0
        {"prompt": "def f(x):\n", "completion": "    return x +\n"},                             # 3 does not parse
        {"messages": [{"role": "user", "content": "Hi"},
                      {"role": "assistant", "content": "```python\ndef g(:\n    pass\n```"}]},  # 4 short, bad code
        {"prompt": "Write it.", "chosen": "", "rejected": "def h():\n    return 1\n"},          # 5 empty chosen
        {"prompt": "def add(a, b):\n", "completion": "    return a + b\n"},                     # 6 a fine continuation
        {"messages": [{"role": "user", "content": "What is a list in Python, briefly?"},
                      {"role": "assistant", "content": "An ordered, mutable sequence of values."}]},  # 7 prose
    ]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_each_seeded_problem_is_reported(tmp_path):
    report = quality(QualityParams(file=str(seeded(tmp_path))))
    assert report["rows"] == 8
    assert report["exact_duplicates"] == {"rows": 1, "groups": [[0, 1]]}
    assert [0, 2] in report["near_duplicates"]["examples"] and report["near_duplicates"]["pairs"] == 1
    assert report["empty_fields"] == {"chosen": [5]}
    assert report["short_fields"]["messages"] == [4]
    assert report["unparsable_code"] == {"completion": [3], "messages": [4]}
    assert report["lengths"]["completion"]["count"] == 5 and report["lengths"]["completion"]["min"] == len("    return x +\n")


def test_cli_table_and_json(tmp_path):
    path = seeded(tmp_path)
    table = ladder("data", "quality", str(path)).stdout
    assert "exact duplicate rows" in table and "code not parsing: completion" in table
    assert json.loads(ladder("data", "quality", str(path), "--json").stdout)["rows"] == 8


def test_an_empty_file_is_not_called_clean(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    done = ladder("data", "quality", str(empty), check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (f"error: FILE {empty}: holds no rows (empty, or blank lines only); nothing to "
                                   "check, so nothing can be called clean. Give a JSONL file with one row per line")
