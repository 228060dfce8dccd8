"""``ladder data split`` and ``ladder data calibration``: seeded, complete, duplicates kept on one side, and a
calibration file the real Wanda prune reads."""

import hashlib
import json

from conftest import ladder


def write_rows(path, count: int, distinct: int) -> list[str]:
    lines = [json.dumps({"prompt": f"Add {i % distinct} to x.", "completion": f"x + {i % distinct}"})
             for i in range(count)]
    path.write_text("".join(line + "\n" for line in lines))
    return lines


def parts(folder, stem="data") -> dict[str, list[str]]:
    return {part: (folder / f"{stem}.{part}.jsonl").read_text().splitlines() for part in ("train", "val", "test")}


def test_split_is_seeded_complete_and_never_splits_a_duplicate(tmp_path):
    source = tmp_path / "data.jsonl"
    lines = write_rows(source, 200, 150)  # 50 rows have a twin
    metas = json.loads(ladder("data", "split", str(source), "--seed", "7", "--json").stdout)
    first = parts(tmp_path)
    assert sorted(sum(first.values(), [])) == sorted(lines)  # every row once, nothing invented
    assert [metas[p]["rows"] for p in ("train", "val", "test")] == [len(first[p]) for p in ("train", "val", "test")]
    assert abs(len(first["train"]) - 160) <= 1 and abs(len(first["val"]) - 20) <= 1
    held_out = set(first["val"]) | set(first["test"])
    assert not held_out & set(first["train"])  # a twin is never on both sides
    for part, meta in metas.items():
        text = (tmp_path / f"data.{part}.jsonl").read_bytes()
        assert meta["sha256"] == hashlib.sha256(text).hexdigest() and meta["seed"] == 7
        assert meta["source_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    ladder("data", "split", str(source), "--seed", "7")  # its own outputs are replaced
    assert parts(tmp_path) == first  # same seed, same parts
    other = tmp_path / "other"
    ladder("data", "split", str(source), "--seed", "8", "-o", str(other))
    assert parts(other) != first


def test_split_shares_must_sum_to_one(tmp_path):
    source = tmp_path / "data.jsonl"
    write_rows(source, 10, 10)
    bad = ladder("data", "split", str(source), "--train", "0.5", check=False)
    assert bad.returncode != 0 and "sum to 0.7; give shares that sum to 1" in bad.stdout + bad.stderr
    assert not (tmp_path / "data.train.jsonl").exists()


def test_calibration_rows_are_a_seeded_sample_that_prune_reads(tmp_path, tiny_model):
    source = tmp_path / "data.jsonl"
    write_rows(source, 40, 40)
    out = tmp_path / "calib.jsonl"
    meta = json.loads(ladder("data", "calibration", str(source), "-n", "8", "-o", str(out), "--json").stdout)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == meta["rows"] == 8 and meta["rows_in_source"] == 40
    assert all(row["text"].startswith("Add ") and "\nx + " in row["text"] for row in rows)
    again = tmp_path / "again.jsonl"
    ladder("data", "calibration", str(source), "-n", "8", "-o", str(again))
    assert again.read_text() == out.read_text()
    too_many = ladder("data", "calibration", str(source), "-n", "41", "-o", str(tmp_path / "x.jsonl"), check=False)
    assert too_many.returncode != 0 and "has 40 rows; ask for at most 40" in too_many.stdout + too_many.stderr
    pruned = tmp_path / "pruned"
    report = json.loads(ladder("prune", str(tiny_model), "--method", "wanda", "--sparsity", "0.5", "--calibration",
                               str(out), "--samples", "8", "-o", str(pruned), "--json").stdout)
    assert report["calibration"] == str(out)
