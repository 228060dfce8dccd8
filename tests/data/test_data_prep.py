"""``ladder data prep``: rows from a real source tree, every definition accounted for, the real decontaminator."""

import json

import pytest

from conftest import ladder

from codeladder.benchmarks import get_benchmark

MEAN = '''def mean(values):
    """The arithmetic mean of a non-empty list of numbers."""
    total = 0
    for value in values:
        total += value
    return total / len(values)
'''
RENAMED = MEAN.replace("values", "items").replace("value", "item").replace("total", "acc")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("src")
    (root / "pkg").mkdir()
    (root / "pkg" / "stats.py").write_text(MEAN + '''

def untold(x):
    return x + 1


def tiny():
    """Two lines."""


@staticmethod
class Point:
    """A point in the plane."""

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def norm(self) -> float:
        """Its distance from the origin."""
        return (self.x ** 2 + self.y ** 2) ** 0.5
''')
    (root / "pkg" / "copy.py").write_text(MEAN.replace("    total = 0", "    total  =  0"))  # exact, but spacing
    (root / "pkg" / "renamed.py").write_text(RENAMED)  # the same code with other names: a near duplicate
    task = get_benchmark("humaneval").load()[0]
    (root / "leak.py").write_text(task.prompt + "    return False\n")  # HumanEval/0's docstring, copied
    (root / "broken.py").write_text("def broken(:\n    pass\n")
    for installed in (".venv/lib/site-packages/dep", "lib/site-packages/other"):  # not the user's source: skipped
        (root / installed).mkdir(parents=True)
        (root / installed / "mod.py").write_text(MEAN.replace("mean", "avg"))
    (root / "latin1.py").write_bytes('def f():\n    """caf\xe9"""\n    return 1\n'.encode("latin-1"))  # undeclared
    (root / "declared.py").write_bytes('# -*- coding: latin-1 -*-\ndef g():\n    """Caf\xe9."""\n    return 2\n'
                                       .encode("latin-1"))  # PEP 263: read as the file says
    return root


def test_every_definition_is_a_row_or_a_counted_drop(tree, tmp_path):
    out = tmp_path / "pairs.jsonl"
    meta = json.loads(ladder("data", "prep", str(tree), "-o", str(out), "--json").stdout)
    assert meta["files"] == 7 and meta["files_unparsable"] == 2
    assert sorted(meta["unparsable"]) == ["broken.py: SyntaxError", "latin1.py: UnicodeDecodeError"]
    dropped = meta["dropped"]
    assert dropped == {"no_docstring": 2, "too_short": 1, "too_long": 0, "exact_duplicates": 1,
                       "near_duplicates": 1, "contaminated": 1}  # untold and __init__; tiny; copy; renamed; leak
    assert meta["definitions"] == sum(dropped.values()) + meta["rows"] == 10
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == meta["rows"] == 4
    by_source = {row["source"]: row for row in rows}
    # files in name order: copy.py's mean is kept, stats.py's is its exact duplicate
    assert set(by_source) == {"declared.py:2", "pkg/copy.py:1", "pkg/stats.py:17", "pkg/stats.py:25"}
    assert "Café." in by_source["declared.py:2"]["prompt"]
    point = by_source["pkg/stats.py:17"]
    assert point["completion"].startswith("@staticmethod\nclass Point:")  # decorators belong to the definition
    assert "`class Point:`" in point["prompt"] and "A point in the plane." in point["prompt"]
    norm = by_source["pkg/stats.py:25"]
    assert "`def norm(self) -> float:`" in norm["prompt"] and norm["completion"].startswith("def norm(self)")
    assert by_source["pkg/copy.py:1"]["completion"] == MEAN.replace("    total = 0", "    total  =  0").rstrip("\n")
    assert meta["contaminated"] is False and "humaneval" in meta["decontaminated_against"]


def test_the_output_rule_and_bad_input_are_one_line(tree, tmp_path):
    out = tmp_path / "pairs.jsonl"
    ladder("data", "prep", str(tree), "-o", str(out))
    ladder("data", "prep", str(tree), "-o", str(out))  # a file a data verb wrote is replaced
    mine = tmp_path / "mine.jsonl"
    mine.write_text("{}\n")
    refused = ladder("data", "prep", str(tree), "-o", str(mine), check=False)
    assert refused.returncode != 0 and "--overwrite" in refused.stdout + refused.stderr
    missing = ladder("data", "prep", str(tmp_path / "nope"), "-o", str(tmp_path / "x.jsonl"), check=False)
    assert missing.returncode != 0 and "no such folder" in missing.stdout + missing.stderr
    bounds = ladder("data", "prep", str(tree), "-o", str(tmp_path / "y.jsonl"), "--min-lines", "9",
                    "--max-lines", "4", check=False)
    assert bounds.returncode != 0 and "--min-lines 9: more than --max-lines 4" in bounds.stdout + bounds.stderr
    for result in (refused, missing, bounds):
        assert "Traceback" not in result.stdout + result.stderr
