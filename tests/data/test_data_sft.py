"""``ladder data sft``: chat rows from a training pool's reference solutions, decontaminated, counted."""

import json

from conftest import ladder


def test_sft_rows_from_mbpp_train_are_decontaminated_and_counted(tmp_path):
    out = tmp_path / "sft.jsonl"
    meta = json.loads(ladder("data", "sft", "mbpp-train", "--limit", "40", "-o", str(out), "--json").stdout)
    rows = [json.loads(line) for line in out.open()]
    assert meta["tasks"] == 40 and meta["rows"] == len(rows) == 40 - len(meta["dropped_contaminated"])
    assert meta["split"] == "train" and meta["contaminated"] is False and "mbpp-plus" in meta["decontaminated_against"]
    first = rows[0]["messages"]
    assert first[-1]["role"] == "assistant" and first[-1]["content"].startswith("```python\n")
    assert first[-2]["role"] == "user" and "assert " in first[-2]["content"]
    assert json.loads((tmp_path / "sft.jsonl.meta.json").read_text())["sha256"] == meta["sha256"]


def test_sft_refuses_a_test_split_and_an_existing_file(tmp_path):
    done = ladder("data", "sft", "mbpp", "-o", str(tmp_path / "x.jsonl"), check=False)
    assert done.returncode != 0 and "test split" in done.stderr and not (tmp_path / "x.jsonl").exists()
    mine = tmp_path / "mine.jsonl"
    mine.write_text("keep me\n")
    done = ladder("data", "sft", "mbpp-train", "--limit", "3", "-o", str(mine), check=False)
    assert done.returncode != 0 and mine.read_text() == "keep me\n"
    ours = tmp_path / "ours.jsonl"
    ladder("data", "sft", "mbpp-train", "--limit", "3", "-o", str(ours))
    ladder("data", "sft", "mbpp-train", "--limit", "2", "-o", str(ours))  # its own output (sha256 in the metadata)
    meta = json.loads((tmp_path / "ours.jsonl.meta.json").read_text())
    assert meta["tasks"] == 2 and meta["rows"] == len(ours.read_text().splitlines())
