"""`ladder data pairs` on real run folders: a samples run scored by the real sandbox (borderline tasks made on
purpose) and an N=4 run of a tiny random model on HumanEval (a test split: refused without the flag)."""

import json
from pathlib import Path

import pytest

from conftest import ladder
from codeladder.benchmarks import get_benchmark
from codeladder.data.pairs import PairsParams, make_pairs, meta_path
from codeladder.errors import LadderError


@pytest.fixture(scope="module")
def train_run(tmp_path_factory):
    """mbpp-train, 3 tasks: Mbpp/1 borderline (2 right, 3 wrong, one wrong twice), Mbpp/5 all right, Mbpp/10
    all wrong."""
    tasks = {t.task_id: t for t in get_benchmark("mbpp-train").load()[:3]}
    one, five, ten = tasks["Mbpp/1"], tasks["Mbpp/5"], tasks["Mbpp/10"]
    wrong = "def {name}(*args):\n    return None\n"
    rows = [(one, one.reference), (one, one.reference + "\n# the same, commented\n"),
            (one, wrong.format(name=one.entry_point)), (one, wrong.format(name=one.entry_point)),
            (one, "def min_cost(cost, m, n):\n    return 0\n"),
            (five, five.reference), (five, five.reference + "\n"), (five, "# first\n" + five.reference),
            (ten, wrong.format(name=ten.entry_point)), (ten, "def small_nnum(xs, n):\n    return xs[:n]\n")]
    folder = tmp_path_factory.mktemp("train-run")
    samples = folder / "samples-in.jsonl"
    samples.write_text("".join(json.dumps({"task_id": t.task_id, "solution": code}) + "\n" for t, code in rows))
    ladder("eval", "mbpp-train", "--samples", str(samples), "--limit", "3", "--output", str(folder / "run"))
    return folder / "run", tasks


def test_pairs_come_only_from_borderline_tasks(train_run, tmp_path):
    run, tasks = train_run
    out = tmp_path / "pairs.jsonl"
    done = ladder("data", "pairs", str(run), "-o", str(out), "--json")
    meta = json.loads(done.stdout)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    sources = json.loads(meta_path(out).read_text())["sources"]
    assert meta["split"] == "train" and meta["contaminated"] is False and meta["format"] == "completion"
    assert meta["tasks"] == 3 and meta["borderline_tasks"] == 1
    assert {s["task_id"] for s in sources} == {"Mbpp/1"}
    # 2 distinct passing x 2 distinct failing answers (the repeated wrong one counted once) = 4 pairs, under the cap
    assert len(rows) == meta["pairs"] == 4
    assert len({(r["chosen"], r["rejected"]) for r in rows}) == 4
    verdicts = {(r["task_id"], r["sample_index"]): r["passed"] for r in map(json.loads, (run / "results.jsonl").open())}
    for row, source in zip(rows, sources):
        assert row["prompt"] == tasks["Mbpp/1"].prompt  # the exact text a completion run would send
        assert verdicts[("Mbpp/1", source["chosen_sample"])] is True
        assert verdicts[("Mbpp/1", source["rejected_sample"])] is False
        assert "return None" in row["rejected"] or "return 0" in row["rejected"]


def test_cap_per_task(train_run, tmp_path):
    meta = make_pairs(PairsParams(run_dir=str(train_run[0]), output=str(tmp_path / "p.jsonl"), max_per_task=3))
    assert meta["pairs"] == 3
    used = {(s["chosen_sample"], s["rejected_sample"]) for s in meta["sources"]}
    assert len({c for c, _ in used}) == 2 and len({r for _, r in used}) == 2  # both sides spread, not one reused


def test_not_a_run_folder_is_one_line(tmp_path):
    with pytest.raises(LadderError, match="not a run folder"):
        make_pairs(PairsParams(run_dir=str(tmp_path), output=str(tmp_path / "p.jsonl")))


@pytest.fixture(scope="module")
def humaneval_run(tiny_model, tmp_path_factory):
    """A real N=4 run of a tiny random model on two HumanEval tasks (sampled, scored in the sandbox)."""
    from codeladder.evaluate import EvalParams, evaluate

    out = tmp_path_factory.mktemp("he-run") / "run"
    evaluate(EvalParams(benchmark="humaneval", model=str(tiny_model), n=4, limit=2, temperature=0.8,
                        max_new_tokens=8, output=str(out), workers=2))
    return out


def test_test_split_run_is_refused_without_the_flag(humaneval_run, tmp_path):
    out = tmp_path / "pairs.jsonl"
    done = ladder("data", "pairs", str(humaneval_run), "-o", str(out), check=False)
    assert done.returncode == 2 and not out.exists()
    assert "test split" in done.stderr and "--allow-test-split" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_run_without_a_borderline_task_gives_no_file_but_the_reason(humaneval_run, tmp_path):
    out = tmp_path / "pairs.jsonl"
    results = [json.loads(line) for line in (humaneval_run / "results.jsonl").open()]
    assert not any(r["passed"] for r in results)  # a random model: every sample fails
    done = ladder("data", "pairs", str(humaneval_run), "-o", str(out), "--allow-test-split", check=False)
    assert done.returncode == 2 and not out.exists() and not meta_path(out).exists()
    assert ("no borderline task (some samples passing, some failing) among its 2 tasks: 0 passed every sample, 2 "
            "failed every sample; no pair to write") in " ".join(done.stderr.split())
    assert len(done.stderr.strip().splitlines()) == 1


def _samples_run(root, benchmark: str, answers: list[tuple]) -> Path:
    """A real run scored in the sandbox from a samples file of (task, code) rows."""
    samples = root / f"{benchmark}-samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": t.task_id, "solution": code}) + "\n" for t, code in answers))
    ladder("eval", benchmark, "--samples", str(samples), "--limit", "2", "--output", str(root / f"{benchmark}-run"))
    return root / f"{benchmark}-run"


def test_a_run_with_one_sample_per_task_is_refused(train_run, tmp_path):
    tasks = list(train_run[1].values())[:2]
    run = _samples_run(tmp_path, "mbpp-train", [(tasks[0], tasks[0].reference), (tasks[1], "def x():\n    pass\n")])
    out = tmp_path / "pairs.jsonl"
    done = ladder("data", "pairs", str(run), "-o", str(out), check=False)
    assert done.returncode == 2 and not out.exists()
    assert "one sample per task (n=1); a pair needs a passing and a failing answer" in " ".join(done.stderr.split())


def test_flag_marks_the_output_contaminated(tmp_path):
    task = get_benchmark("humaneval").load()[0]
    run = _samples_run(tmp_path, "humaneval", [(task, task.reference), (task, task.prompt + "    return None\n")])
    out = tmp_path / "pairs.jsonl"
    meta = make_pairs(PairsParams(run_dir=str(run), output=str(out), allow_test_split=True))
    assert json.loads(meta_path(out).read_text())["contaminated"] is True
    assert meta["tasks"] == 1 and meta["borderline_tasks"] == 1 and meta["pairs"] == 1
    assert out.read_text().count("\n") == 1


def test_a_users_file_is_never_overwritten_without_the_flag(train_run, tmp_path):
    run = str(train_run[0])
    curated = tmp_path / "curated.jsonl"
    curated.write_text('{"prompt": "mine", "chosen": "a", "rejected": "b"}\n')
    done = ladder("data", "pairs", run, "-o", str(curated), check=False)
    assert done.returncode == 2 and "curated.jsonl: exists; choose a new path, or pass --overwrite" in done.stderr
    assert curated.read_text().startswith('{"prompt": "mine"') and not meta_path(curated).exists()
    ladder("data", "pairs", run, "-o", str(curated), "--overwrite")
    assert json.loads(meta_path(curated).read_text())["pairs"] == 4
    ladder("data", "pairs", run, "-o", str(curated), "--max-per-task", "2")  # its own earlier output: replaced
    assert json.loads(meta_path(curated).read_text())["pairs"] == 2
    curated.write_text(curated.read_text().splitlines()[0] + "\n")  # the user edits it: theirs now
    done = ladder("data", "pairs", run, "-o", str(curated), check=False)
    assert done.returncode == 2 and curated.read_text().count("\n") == 1
