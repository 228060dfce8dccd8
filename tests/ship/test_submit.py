"""`ladder submit --dry-run` on a real tiny pipeline: a release folder whose card is built from result files."""

import json
import os
from pathlib import Path

import pytest

from conftest import ladder


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    from codeladder.evaluate import EvalParams, evaluate
    from codeladder.models.tiny import TinySpec, build_tiny_model
    from codeladder.transforms.merge.engine import merge_verb
    from codeladder.transforms.merge.params import MergeModelsParams

    root = tmp_path_factory.mktemp("release")
    here = os.getcwd()
    os.chdir(root)
    try:
        for name, seed in (("a", 1), ("b", 2)):
            build_tiny_model(Path(name), TinySpec(seed=seed))
        merge_verb(MergeModelsParams(models=["a", "b"], method="slerp", output="merged"))
        evaluate(EvalParams(benchmark="humaneval", model="merged", limit=3, max_new_tokens=8, output="run-merged",
                            workers=2))
        evaluate(EvalParams(benchmark="humaneval", model="merged", max_new_tokens=2, output="run-full", workers=2,
                            backend_options={"batch_size": 64}))
        evaluate(EvalParams(benchmark="humaneval", model="a", limit=2, max_new_tokens=8, output="run-a", workers=2))
    finally:
        os.chdir(here)
    (root / "claims.yaml").write_text("contract: release\nclaims:\n"
                                      "  - {id: norms, kind: merge_norms, artifacts: {merge: merged}}\n")
    ladder("contracts", "check", "claims.yaml", "-o", "outcome.json", cwd=root)
    return root


def test_a_dry_run_writes_a_card_whose_numbers_trace_to_files(pipeline):
    done = ladder("submit", "merged", "--runs", "run-merged,run-full", "--repo", "me/tiny-merged", "-o", "release",
                  "--dry-run", "--license", "apache-2.0", "--contracts", "outcome.json", "--json", cwd=pipeline)
    result = json.loads(done.stdout)
    assert all(check["ok"] for check in result["checks"]) and result["uploaded"] is None
    release = pipeline / "release"
    from huggingface_hub import ModelCard

    card = ModelCard.load(release / "README.md")
    full = json.loads((pipeline / "run-full" / "summary.json").read_text())
    assert card.data.license == "apache-2.0"
    assert card.data.base_model is None  # the lineage starts at `ladder tiny`, not at a Hub id
    (result_entry,) = card.data.eval_results  # the 3-task run is no benchmark score: only the full run is
    assert result_entry.metric_type == "pass@1" and result_entry.metric_value == round(full["pass_at_k"]["1"], 4)
    assert "| **subset**: 3/164 tasks |" in card.text and "| 164/164 tasks |" in card.text
    lineage = json.loads((pipeline / "merged" / "ladder.json").read_text())
    for stage in lineage["stages"]:
        assert f"`{stage['stage']}`" in card.text
    assert "`evidence/run-merged.summary.json`" in card.text and (release / "evidence" / "run-merged.summary.json").is_file()
    assert "release/norms" in card.text and (release / "evidence" / "outcome.json").is_file()
    assert (release / "model.safetensors").is_file() and (release / "tokenizer.json").read_bytes() == \
        (pipeline / "merged" / "tokenizer.json").read_bytes()
    written = [p for p in release.rglob("*") if p.is_file() and p.suffix in (".json", ".md")]
    assert written and not [p for p in written if ".partial-" in p.read_text()]  # no staging path survives
    ladder("check", str(release))


def test_a_lineage_table_never_cuts_a_value(pipeline):
    card = (pipeline / "release" / "README.md").read_text()
    table = card.split("## How it was made")[1].split("## Results")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == 3  # tiny a, tiny b, merge: both parents of the merge are in its lineage
    for row in rows:
        assert row.count("[") == row.count("]") and row.count("{") == row.count("}") and row.count('"') % 2 == 0
    assert "| #1, #2 |" in rows[2]  # the merge row names both parents


def test_a_subset_only_release_still_has_a_card_and_the_preflight_says_what_it_checked(pipeline):
    done = ladder("submit", "merged", "--runs", "run-merged", "--repo", "me/sub", "-o", "subset", "--dry-run",
                  "--license", "mit", "--json", cwd=pipeline)
    checks = {c["check"]: c for c in json.loads(done.stdout)["checks"]}
    assert "3/164 tasks" in checks["run run-merged"]["detail"] and "not in model-index" in checks["run run-merged"][
        "detail"]
    assert checks["contracts"]["skipped"] and "none given" in checks["contracts"]["detail"]
    from huggingface_hub import ModelCard

    card = ModelCard.load(pipeline / "subset" / "README.md")
    assert not card.data.eval_results and "| **subset**: 3/164 tasks |" in card.text


def test_a_missing_contract_outcome_fails_the_preflight(pipeline):
    done = ladder("submit", "merged", "--runs", "run-merged", "--repo", "me/x", "-o", "nocontract", "--dry-run",
                  "--license", "mit", "--contracts", "outcom.json", cwd=pipeline, check=False)
    assert done.returncode == 1 and "outcom.json" in done.stdout and "missing" in done.stdout
    assert not (pipeline / "nocontract").exists()


def test_an_unknown_licence_is_refused_with_the_fix_named(pipeline):
    done = ladder("submit", "merged", "--runs", "run-merged", "--repo", "me/x", "-o", "nolicence", "--dry-run",
                  cwd=pipeline, check=False)
    assert done.returncode == 1 and "pass --license ID" in done.stdout
    assert not (pipeline / "nolicence").exists()


def test_a_run_of_another_model_is_refused(pipeline):
    done = ladder("submit", "merged", "--runs", "run-a", "--repo", "me/x", "-o", "other", "--dry-run", "--license",
                  "mit", cwd=pipeline, check=False)
    assert done.returncode == 1 and "measured another model" in done.stdout and not (pipeline / "other").exists()


def test_an_upload_without_a_token_or_a_hub_says_so(pipeline, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    done = ladder("submit", "merged", "--runs", "run-merged", "--repo", "me/x", "-o", "up", "--license", "mit",
                  cwd=pipeline, check=False)
    assert done.returncode == 1 and "set $HF_TOKEN" in done.stdout and not (pipeline / "up").exists()
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: offline, as on this machine
    done = ladder("submit", "merged", "--runs", "run-merged", "--repo", "me/x", "-o", "up", "--license", "mit",
                  cwd=pipeline, check=False)
    assert done.returncode == 2 and "upload to me/x failed" in done.stderr and "Traceback" not in done.stderr
    assert (pipeline / "up" / "README.md").is_file()  # the release folder is complete: retry the upload later


def test_a_dated_benchmarks_score_names_its_release_and_window():
    """A LiveCodeBench score means nothing without the release and dates that chose its tasks."""
    from codeladder.ship.card import scope

    summary = {"benchmark": "livecodebench", "num_tasks": 7, "num_tasks_in_benchmark": 7,
               "window": {"release": "v6", "since": "2024-03-01", "until": None, "after": "2024-06-30"}}
    assert scope(summary) == "7/7 tasks (release v6, published from 2024-03-01 after 2024-06-30)"
    assert scope({**summary, "window": None, "benchmark": "humaneval", "num_tasks_in_benchmark": 164}) == \
        "**subset**: 7/164 tasks"
