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
    from codeladder.transforms.merge.params import MergeModelsParams, merge_verb

    root = tmp_path_factory.mktemp("release")
    here = os.getcwd()
    os.chdir(root)
    try:
        for name, seed in (("a", 1), ("b", 2)):
            build_tiny_model(Path(name), TinySpec(seed=seed))
        merge_verb(MergeModelsParams(models=["a", "b"], method="slerp", output="merged"))
        evaluate(EvalParams(benchmark="humaneval", model="merged", limit=3, max_new_tokens=8, output="run-merged",
                            workers=2))
        evaluate(EvalParams(benchmark="humaneval", model="a", limit=2, max_new_tokens=8, output="run-a", workers=2))
    finally:
        os.chdir(here)
    (root / "claims.yaml").write_text("contract: release\nclaims:\n"
                                      "  - {id: norms, kind: merge_norms, artifacts: {merge: merged}}\n")
    ladder("contracts", "check", "claims.yaml", "-o", "outcome.json", cwd=root)
    return root


def test_a_dry_run_writes_a_card_whose_numbers_trace_to_files(pipeline):
    done = ladder("submit", "merged", "--runs", "run-merged", "--repo", "me/tiny-merged", "-o", "release",
                  "--dry-run", "--license", "apache-2.0", "--contracts", "outcome.json", "--json", cwd=pipeline)
    result = json.loads(done.stdout)
    assert all(check["ok"] for check in result["checks"]) and result["uploaded"] is None
    release = pipeline / "release"
    from huggingface_hub import ModelCard

    card = ModelCard.load(release / "README.md")
    summary = json.loads((pipeline / "run-merged" / "summary.json").read_text())
    assert card.data.license == "apache-2.0"
    (result_entry,) = card.data.eval_results
    assert result_entry.metric_type == "pass@1" and result_entry.metric_value == round(summary["pass_at_k"]["1"], 4)
    lineage = json.loads((pipeline / "merged" / "ladder.json").read_text())
    for stage in lineage["stages"]:
        assert f"`{stage['stage']}`" in card.text
    assert "`evidence/run-merged.summary.json`" in card.text and (release / "evidence" / "run-merged.summary.json").is_file()
    assert "release/norms" in card.text and (release / "evidence" / "outcome.json").is_file()
    assert (release / "model.safetensors").is_file() and (release / "tokenizer.json").read_bytes() == \
        (pipeline / "merged" / "tokenizer.json").read_bytes()
    ladder("check", str(release))


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
