"""Executable contracts against a real tiny pipeline: merges, a prune, a GGUF, real sandboxed runs, real parity."""

import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from codeladder.benchmarks import get_benchmark
from conftest import ladder

GOOD = """
contract: toolkit
claims:
  - {id: slerp-norms, kind: merge_norms, artifacts: {merge: slerp}, params: {tolerance: 0.05}}
  - {id: ties-signs, kind: sign_conflicts, artifacts: {merge: ties}}
  - {id: rows-pruned, kind: sparsity, artifacts: {model: pruned}}
  - {id: q8-small, kind: size_ratio, artifacts: {model: q8.gguf, reference: a}, params: {max: 0.7}}
  - {id: tokenizer, kind: tokenizer_preserved, artifacts: {model: ties}}
  - {id: order, kind: lineage_order, artifacts: {model: q8.gguf}}
  - {id: parent-scores, kind: pass_at_k, artifacts: {run: runs/parent}, params: {min: 1.0}}
  - {id: parity, kind: logit_parity, artifacts: {parity: parity.json}, params: {min_cosine: 0.999}}
"""


def _samples(path: Path, wrong: int) -> Path:
    tasks = get_benchmark("humaneval").load()[:5]
    with open(path, "w") as f:
        for i, task in enumerate(tasks):
            body = "    return None\n" if i < wrong else task.reference[len(task.prompt):]
            f.write(json.dumps({"task_id": task.task_id, "completion": body}) + "\n")
    return path


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    """The pipeline built through the verbs' Python API (the CLI is the same params classes; one process keeps
    the fixture fast), from inside its folder so reports record relative paths as a CLI user's would."""
    from codeladder.evaluate import EvalParams, evaluate
    from codeladder.measure.parity import ParityParams, parity_verb
    from codeladder.models.export_types import ExportParams, export_model
    from codeladder.models.tiny import TinySpec, build_tiny_model
    from codeladder.transforms.merge.engine import merge_verb
    from codeladder.transforms.merge.params import MergeModelsParams
    from codeladder.transforms.prune import PruneParams, prune_verb
    from codeladder.transforms.quantize import QuantizeParams, quantize_verb

    root = tmp_path_factory.mktemp("pipeline")
    here = os.getcwd()
    os.chdir(root)
    try:
        for name, seed in (("a", 1), ("b", 2), ("base", 3)):
            build_tiny_model(Path(name), TinySpec(seed=seed))
        merge_verb(MergeModelsParams(models=["a", "b"], method="slerp", output="slerp"))
        merge_verb(MergeModelsParams(models=["a", "b"], base="base", method="ties", density=0.5, output="ties"))
        prune_verb(PruneParams(folder="a", method="magnitude", sparsity=0.5, output="pruned"))
        quantize_verb(QuantizeParams(folder="a", scheme="q8_0", output="q8.gguf"))
        export_model(ExportParams(folder="a", type="f16", output="f16.gguf"))
        report = parity_verb(ParityParams(a="a", b="f16.gguf", greedy_tokens=4))
        Path("parity.json").write_text(json.dumps(report.as_dict()))
        for name, wrong in (("parent", 0), ("quantized", 2)):
            evaluate(EvalParams(benchmark="humaneval", samples=str(_samples(root / f"{name}.jsonl", wrong)),
                                output=f"runs/{name}", workers=2))
    finally:
        os.chdir(here)
    return root


def check(root: Path, text: str, *extra: str):
    (root / "contract.yaml").write_text(text)
    done = ladder("contracts", "check", "contract.yaml", "--json", *extra, cwd=root, check=False)
    return done, (json.loads(done.stdout) if done.stdout.strip().startswith("{") else None)


def by_id(report: dict) -> dict:
    return {c["id"]: c for c in report["claims"]}


def test_the_toolkits_claims_hold_on_a_real_pipeline(pipeline):
    done, report = check(pipeline, GOOD, "-o", "outcome.json")
    assert done.returncode == 0, done.stdout
    assert {c["id"]: c["status"] for c in report["claims"]} == dict.fromkeys(by_id(report), "pass")
    assert json.loads((pipeline / "outcome.json").read_text())["counts"] == {"pass": 8, "fail": 0,
                                                                            "not-applicable": 0}
    claims = by_id(report)
    assert claims["ties-signs"]["value"] < claims["ties-signs"]["bound"]
    assert any(e.endswith("model.safetensors") for e in claims["rows-pruned"]["evidence"])


def test_a_quantized_model_20pp_worse_than_its_parent_fails_with_its_evidence(pipeline):
    text = ("contract: q\nclaims:\n  - {id: within-5pp, kind: pass_at_k_delta, params: {max_drop_pp: 5},\n"
            "     artifacts: {reference: runs/parent, candidate: runs/quantized}}\n")
    done, report = check(pipeline, text)
    claim = by_id(report)["within-5pp"]
    assert done.returncode == 1 and claim["status"] == "fail"
    assert claim["value"] == pytest.approx(40.0) and claim["bound"] == 5
    assert {Path(e.split(":")[0]).parent.name for e in claim["evidence"]} == {"parent", "quantized"}


def _scale_tensor(folder: Path, name: str, factor: float) -> None:
    shard = folder / "model.safetensors"
    with open(shard, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        info = json.loads(f.read(size))[name]
    begin, end = info["data_offsets"]
    values = np.memmap(shard, dtype=np.float32, mode="r+", offset=8 + size + begin, shape=((end - begin) // 4,))
    values *= factor
    values.flush()


def test_a_merge_with_a_norm_off_by_30_percent_fails(pipeline, tmp_path):
    shutil.copytree(pipeline / "slerp", tmp_path / "slerp")
    for name in ("a", "b"):
        (tmp_path / name).symlink_to(pipeline / name)
    _scale_tensor(tmp_path / "slerp", "model.layers.0.mlp.up_proj.weight", 1.3)
    text = "contract: m\nclaims:\n  - {id: norms, kind: merge_norms, artifacts: {merge: slerp}}\n"
    done, report = check(tmp_path, text)
    claim = by_id(report)["norms"]
    assert done.returncode == 1 and claim["status"] == "fail"
    assert claim["value"] == pytest.approx(0.3, abs=0.01) and "model.layers.0.mlp.up_proj.weight" in claim["detail"]


def test_sparsity_is_read_from_the_weights_not_the_report(pipeline, tmp_path):
    shutil.copytree(pipeline / "pruned", tmp_path / "pruned")
    _scale_tensor(tmp_path / "pruned", "model.layers.1.self_attn.o_proj.weight", 0.0)  # still sparse: zeros
    done, report = check(tmp_path, "contract: s\nclaims:\n  - {id: rows, kind: sparsity, artifacts: {model: pruned}}\n")
    assert by_id(report)["rows"]["status"] == "pass"
    shard = tmp_path / "pruned" / "model.safetensors"
    with open(shard, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        info = json.loads(f.read(size))["model.layers.0.self_attn.q_proj.weight"]
    row = np.memmap(shard, dtype=np.float32, mode="r+", offset=8 + size + info["data_offsets"][0],
                    shape=(info["shape"][1],))
    row[:] = 0.5  # one row un-pruned: the report still says 0.5
    row.flush()
    done, report = check(tmp_path, "contract: s\nclaims:\n  - {id: rows, kind: sparsity, artifacts: {model: pruned}}\n")
    assert done.returncode == 1 and by_id(report)["rows"]["status"] == "fail"
    assert by_id(report)["rows"]["value"] == 0.0


def test_decontamination_claims_read_the_real_report(pipeline, tmp_path):
    prompt = get_benchmark("humaneval").load()[0].prompt
    rows = [{"prompt": prompt, "completion": "    pass\n"}, {"prompt": "Say hello.", "completion": "print('hi')"}]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ladder("data", "decontaminate", "train.jsonl", "--against", "humaneval", "-o", "decon.json", cwd=tmp_path)
    text = ("contract: d\nclaims:\n  - {id: clean, kind: decontamination, artifacts: {report: decon.json}}\n"
            "  - {id: half, kind: decontamination, artifacts: {report: decon.json}, params: {max_share: 0.5}}\n")
    done, report = check(tmp_path, text)
    assert by_id(report)["clean"]["status"] == "fail" and by_id(report)["clean"]["value"] == 0.5
    assert by_id(report)["half"]["status"] == "pass"


def test_missing_evidence_fails_unless_the_claim_is_optional(pipeline):
    text = ("contract: n\nclaims:\n  - {id: gone, kind: pass_at_k, artifacts: {run: runs/nothing}, params: {min: 1}}\n"
            "  - {id: wrong-kind, kind: merge_norms, artifacts: {merge: ties}}\n"
            "  - {id: maybe, kind: size_ratio, optional: true, artifacts: {model: no.gguf, reference: a},"
            " params: {max: 1}}\n"
            "  - {id: order, kind: lineage_order, artifacts: {model: q8.gguf}}\n")
    done, report = check(pipeline, text)
    claims = by_id(report)
    assert done.returncode == 1 and report["passed"] is False
    assert {k: c["status"] for k, c in claims.items()} == {"gone": "fail", "wrong-kind": "fail",
                                                           "maybe": "not-applicable", "order": "pass"}
    assert claims["gone"]["detail"].startswith("evidence missing: ") and "does not exist" in claims["gone"]["detail"]
    assert report["counts"] == {"pass": 1, "fail": 2, "not-applicable": 1}
    text = "".join(line for line in text.splitlines(keepends=True) if "{id: gone" not in line
                   and "{id: wrong-kind" not in line)
    done, report = check(pipeline, text)  # an optional claim without evidence beside one that passes
    assert done.returncode == 0 and by_id(report)["maybe"]["status"] == "not-applicable"


def test_an_existing_outcome_file_is_replaced_only_with_overwrite(pipeline, tmp_path):
    text = "contract: o\nclaims:\n  - {id: order, kind: lineage_order, artifacts: {model: q8.gguf}}\n"
    (pipeline / "mine.json").write_text("{}\n")
    done, _ = check(pipeline, text, "-o", "mine.json")
    assert done.returncode == 2 and "-o mine.json: exists; choose a new path, or pass --overwrite" in done.stderr
    assert (pipeline / "mine.json").read_text() == "{}\n"
    done, _ = check(pipeline, text, "-o", "mine.json", "--overwrite")
    assert done.returncode == 0 and json.loads((pipeline / "mine.json").read_text())["counts"]["pass"] == 1


def test_a_mistyped_run_folder_fails_every_shipped_claim(tmp_path):
    (tmp_path / "demo-rnu").mkdir()
    done = ladder("contracts", "check", "--run", str(tmp_path / "demo-rnu"), "--json", check=False)
    report = json.loads(done.stdout)
    assert done.returncode == 1 and report["counts"] == {"pass": 0, "fail": 7, "not-applicable": 0}
    assert all(c["detail"].startswith("evidence missing: ") for c in report["claims"])


@pytest.mark.parametrize("text, message", [
    ("contract: empty\nclaims: []\n", "nothing to check: contract.yaml hold no claims"),
    ("contract: o\nclaims:\n  - {id: maybe, kind: lineage_order, optional: true, artifacts: {model: gone.gguf}}\n",
     "nothing checked: all 1 claims are optional and their evidence is missing (maybe: "),
])
def test_nothing_to_check_is_one_line_and_non_zero(pipeline, text, message):
    done, _ = check(pipeline, text)
    assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_run_measured_fails_a_partial_run_and_another_benchmark(pipeline, tmp_path):
    shutil.copytree(pipeline / "runs" / "parent", tmp_path / "errored")
    summary_path = tmp_path / "errored" / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["statuses"] = {"passed": 4, "error": 1}
    summary_path.write_text(json.dumps(summary))
    (tmp_path / "runs").symlink_to(pipeline / "runs")
    text = ("contract: r\nclaims:\n"
            "  - {id: five, kind: run_measured, artifacts: {run: runs/parent}, params: {min_tasks: 5, "
            "benchmark: humaneval}}\n"
            "  - {id: six, kind: run_measured, artifacts: {run: runs/quantized}, params: {min_tasks: 6}}\n"
            "  - {id: other, kind: run_measured, artifacts: {run: runs/parent}, params: {benchmark: mbpp}}\n"
            "  - {id: errored, kind: run_measured, artifacts: {run: errored}}\n")
    done, report = check(tmp_path, text)
    claims = by_id(report)
    assert done.returncode == 1
    assert {k: c["status"] for k, c in claims.items()} == {"five": "pass", "six": "fail", "other": "fail",
                                                           "errored": "fail"}
    assert claims["five"]["value"] == 5 and "passed 5" in claims["five"]["detail"]
    assert claims["six"]["detail"] == "5 tasks judged, fewer than 6"
    assert claims["other"]["detail"] == "the run is on humaneval, not mbpp"
    assert claims["errored"]["detail"] == "1 samples ended in a harness error, not a verdict"


def test_no_shipped_claim_is_optional_and_none_is_a_vacuous_pass_at_k():
    """With the test above (each fails without its evidence) and the kinds' failing cases in this file."""
    from codeladder.contracts.check import SHIPPED, load_contract

    claims = [claim for path in SHIPPED.glob("*.yaml") for claim in load_contract(path).claims]
    assert len(claims) == 7 and not [c.id for c in claims if c.optional]
    assert by_id({"claims": [c.model_dump() for c in claims]})["eval-finished"]["kind"] == "run_measured"


@pytest.mark.parametrize("text, message", [
    ("contract: t\nclaims:\n  - {id: x, kind: size_ratio, artifacts: {}, params: {maxx: 1}}\n",
     "contract.yaml:3: claim 'x' (size_ratio) params.maxx: Extra inputs are not permitted"),
    ("contract: t\nclaims:\n  - {id: x, kind: no_such_kind}\n", "kind no_such_kind: choose one of"),
    ("contract: t\nclaimz: []\n", "contract.yaml:2: claimz: Extra inputs are not permitted"),
    ("contract: t\nclaims:\n  - {id: x, kind: pass_at_k, artifacts: {run: r}, params: {min: 0.0}}\n",
     "contract.yaml:3: claim 'x' (pass_at_k) params.min: Value error, a pass@k bound must be in (0, 1]: a bound of 0 "
     "cannot fail"),
])
def test_a_bad_contract_file_is_one_line_naming_file_and_line(pipeline, text, message):
    done, _ = check(pipeline, text)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
