"""The requirement lists carried as package data: upstream's (with its source) and our lock, picked by Python."""

from __future__ import annotations

import pytest

from codeladder.benchmarks import get_benchmark
from codeladder.envs.specs import get_spec, normalized_lines
from codeladder.errors import LadderError


def test_both_lists_are_carried_with_their_source():
    spec = get_spec("bigcodebench")
    upstream, lock = spec.requirement_list("upstream", "3.11"), spec.requirement_list("lock", "3.11")
    assert "158327f1893f5bfd5cdfc233344771ccfa7887e9" in upstream.path.read_text()
    assert "numpy==1.21.2" in upstream.path.read_text() and "numpy==1.23.5" in normalized_lines(lock.path)
    assert spec.requirement_list("auto", "3.11") == lock and spec.requirement_list("auto", "3.10") == upstream
    with pytest.raises(LadderError, match="Python 3.13"):
        spec.requirement_list("auto", "3.13")
    assert spec.requirement_list("some/file.txt", "3.11") is None


def test_upstream_list_normalised_for_pip():
    lines = normalized_lines(get_spec("bigcodebench").requirement_list("upstream", "3.10").path)
    assert "selenium==4.15.*" in lines  # upstream's "selenium==4.15." is not a valid version
    projects = [line.split("==")[0].lower().replace("_", "-") for line in lines]
    assert len(projects) == len(set(projects)) and len(lines) == 71  # 74 lines, three listed twice
    lock = normalized_lines(get_spec("bigcodebench").requirement_list("lock", "3.11").path)
    assert all("==" in line for line in lock) and len(lock) == 166


def test_data_versions():
    assert get_benchmark("bigcodebench").data_version == "v0.1.4"
    old = get_benchmark("bigcodebench-hard", "instruct", "v0.1.0")
    assert (old.data_version, old.data_file, old.mode) == ("v0.1.0", "bigcodebench-hard-v0.1.0.jsonl.gz", "instruct")
    new, old = {t.task_id: t for t in get_benchmark("bigcodebench").load()}, {t.task_id: t for t in
                                                                              get_benchmark("bigcodebench", None,
                                                                                            "v0.1.0").load()}
    assert sorted(k for k in new if new[k] != old[k] or new[k].data != old[k].data) == sorted(
        f"BigCodeBench/{n}" for n in (16, 37, 178, 211, 215, 241, 267, 760, 1005, 1006))
    with pytest.raises(LadderError, match="v0.1.4, v0.1.0"):
        get_benchmark("bigcodebench", None, "v0.1.2")
    with pytest.raises(LadderError, match="one data version"):
        get_benchmark("humaneval", None, "v0.1.4")
