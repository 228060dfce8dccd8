"""A dated benchmark split at a training cutoff: real LiveCodeBench runs judged in the sandbox, then
``ladder analyze compare --cutoff``; and the ``training_cutoff`` a model's lineage carries into ``--after-cutoff``."""

import json

import pytest

from conftest import ladder

from codeladder.errors import LadderError
from codeladder.models.io import ImportParams
from codeladder.models.lineage import training_cutoff
from codeladder.stats import difference_interval, wilson

SUM = [{"input": "2\n1 2\n", "output": "3\n", "testtype": "stdin"}]
EARLY = [f"e{i}" for i in range(12)]  # published 2024-03
LATE = [f"l{i}" for i in range(12)]  # published 2024-10
RIGHT, WRONG = "input()\nprint(sum(map(int, input().split())))", "print(0)"


def row(qid: str, day: str) -> dict:
    return {"question_title": qid, "question_content": f"Sum the numbers ({qid}).", "platform": "atcoder",
            "question_id": qid, "contest_id": "c1", "contest_date": f"{day}T00:00:00", "starter_code": "",
            "difficulty": "easy", "public_test_cases": json.dumps(SUM), "private_test_cases": "[]", "metadata": "{}"}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lcb")
    rows = [row(q, f"2024-03-{i + 1:02d}") for i, q in enumerate(EARLY)] + \
           [row(q, f"2024-10-{i + 1:02d}") for i, q in enumerate(LATE)]
    (folder / "test6.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def run(release, tmp_path, name: str, solved: set[str]):
    samples = tmp_path / f"{name}.jsonl"
    samples.write_text("".join(json.dumps({"task_id": q, "solution": RIGHT if q in solved else WRONG}) + "\n"
                               for q in EARLY + LATE))
    ladder("eval", "livecodebench", "--data", str(release), "--release", "v6", "--samples", str(samples),
           "--output", str(tmp_path / name))
    return tmp_path / name


def test_one_run_scoring_lower_after_the_cutoff_is_flagged(release, tmp_path):
    seen = run(release, tmp_path, "seen", set(EARLY) | {"l0"})
    summary = json.loads((seen / "summary.json").read_text())
    assert summary["task_dates"]["e0"] == "2024-03-01" and summary["task_dates"]["l11"] == "2024-10-12"
    result = json.loads(ladder("analyze", "compare", str(seen), "--cutoff", "2024-06-30", "--json").stdout)
    assert result["up_to_cutoff"]["tasks"] == 12 and result["up_to_cutoff"]["pass_at_1"] == 1.0
    assert result["after_cutoff"]["tasks"] == 12 and result["after_cutoff"]["pass_at_1"] == pytest.approx(1 / 12)
    difference = result["after_minus_up_to"]
    assert difference["delta"] == pytest.approx(1 / 12 - 1)
    assert difference["ci95"] == pytest.approx(difference_interval(1 / 12, wilson(1, 12), 1.0, wilson(12, 12)))
    assert difference["ci95"][1] < 0 and difference["signal"] == "lower after the cutoff"
    table = " ".join(ladder("analyze", "compare", str(seen), "--cutoff", "2024-06-30").stdout.split())
    assert "lower after the cutoff" in table and "after 2024-06-30" in table


def test_a_small_difference_is_not_called_a_signal(release, tmp_path):
    even = run(release, tmp_path, "even", set(EARLY[:6]) | set(LATE[:5]))
    result = json.loads(ladder("analyze", "compare", str(even), "--cutoff", "2024-06-30", "--json").stdout)
    assert result["after_minus_up_to"]["signal"] == "no measurable difference"
    late = json.loads(ladder("analyze", "compare", str(even), "--cutoff", "2025-01-01", "--json").stdout)
    assert late["after_cutoff"]["tasks"] == 0 and late["after_minus_up_to"]["signal"].startswith("not measurable")


def test_two_runs_are_compared_on_each_side_of_the_cutoff(release, tmp_path):
    before = run(release, tmp_path, "before", set(EARLY))
    after = run(release, tmp_path, "after", set(EARLY) | set(LATE))
    out = tmp_path / "cmp"
    result = json.loads(ladder("analyze", "compare", str(before), str(after), "--cutoff", "2024-06-30",
                               "--json", "-o", str(out)).stdout)
    split = result["by_cutoff"]["paired"]
    assert split["up_to_cutoff"]["tasks"] == 12 and split["up_to_cutoff"]["outcome"] == "no measurable change"
    assert split["after_cutoff"]["tasks_gained"] == 12 and split["after_cutoff"]["outcome"] == "gained"
    assert result["by_cutoff"]["before"]["after_minus_up_to"]["signal"] == "lower after the cutoff"
    assert result["outcome"] == "gained"  # the whole-run paired comparison is unchanged by the split
    assert json.loads((out / "compare.json").read_text())["by_cutoff"]["cutoff"] == "2024-06-30"


def test_bad_cutoffs_and_undated_runs_get_one_line(release, tmp_path):
    seen = run(release, tmp_path, "seen", set(EARLY))
    bad = ladder("analyze", "compare", str(seen), "--cutoff", "2024-13-01", check=False)
    assert bad.returncode != 0 and "--cutoff 2024-13-01: give a date as YYYY-MM-DD" in bad.stdout + bad.stderr
    alone = ladder("analyze", "compare", str(seen), check=False)
    assert alone.returncode != 0 and "or one with --cutoff" in alone.stdout + alone.stderr
    undated = tmp_path / "he"
    ladder("eval", "humaneval", "--backend", "reference", "--limit", "3", "--output", str(undated))
    refused = ladder("analyze", "compare", str(undated), "--cutoff", "2024-06-30", check=False)
    assert refused.returncode != 0 and "records no task dates" in refused.stdout + refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr


def test_training_cutoff_is_recorded_at_import_carried_and_read_by_after_cutoff(tiny_model, release, tmp_path):
    with pytest.raises(LadderError, match="--training-cutoff 2024-02-30: give a date as YYYY-MM-DD"):
        ImportParams(source=str(tiny_model), output=tmp_path / "x", training_cutoff="2024-02-30")
    model = tmp_path / "imported"
    ladder("import", str(tiny_model), "-o", str(model), "--training-cutoff", "2024-06-30")
    assert training_cutoff(model) == "2024-06-30"
    pruned = tmp_path / "pruned"
    ladder("prune", str(model), "-o", str(pruned), "--method", "magnitude", "--sparsity", "0.2")
    assert training_cutoff(pruned) == "2024-06-30"  # a stage made from the model carries it
    out = tmp_path / "after"
    ladder("eval", "livecodebench", "--data", str(release), "--release", "v6", "--model", str(model),
           "--after-cutoff", "--max-new-tokens", "4", "--output", str(out))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["window"]["after"] == "2024-06-30" and summary["num_tasks"] == len(LATE)
    assert set(summary["task_dates"]) == set(LATE)
