"""Evaluation environments, for real: a venv with two light libraries from the registry (pytz, prettytable; the
harness's own interpreter has neither), BigCodeBench tasks that need only those run by its interpreter in the real
sandbox, the missing-library split, the summary's record, and one-line errors for bad input."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil

import pytest

from conftest import ladder
from host_isolation import require_namespaces

from codeladder.benchmarks import get_benchmark
from codeladder.envs.manage import EnvCheckParams, EnvCreateParams, check_env, create_env
from codeladder.envs.store import META, envs_root, installed_packages, packages_sha256
from codeladder.errors import LadderError
from codeladder.evaluate import EvalParams, evaluate

LIGHT = "pytz==2023.3.post1\nprettytable==3.10.0\n"
ONLY_LIGHT = ("BigCodeBench/497", "BigCodeBench/564", "BigCodeBench/1107", "BigCodeBench/546")  # pytz / prettytable
DECLARES_FAKER = "BigCodeBench/844"  # libs: faker, which the small environment lacks


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private CODELADDER_CACHE for the module: the environment is made at its default place there."""
    root = tmp_path_factory.mktemp("cache")
    before = os.environ.get("CODELADDER_CACHE")
    os.environ["CODELADDER_CACHE"] = str(root)
    yield root
    if before is None:
        os.environ.pop("CODELADDER_CACHE", None)
    else:
        os.environ["CODELADDER_CACHE"] = before


@pytest.fixture(scope="module")
def small_env(cache, tmp_path_factory):
    requirements = tmp_path_factory.mktemp("req") / "light.txt"
    requirements.write_text(LIGHT)
    return create_env(EnvCreateParams(name="bigcodebench", requirements=str(requirements)))


def test_create_installs_and_records(small_env, cache):
    path = envs_root() / "bigcodebench"
    assert small_env["path"] == str(path.resolve()) and (path / META).is_file()
    names = {p.split("==")[0] for p in small_env["packages"]}
    assert {"pytz", "prettytable", "wcwidth"} <= names
    assert small_env["packages_sha256"] == packages_sha256(installed_packages(path))
    assert small_env["requirements"]["kind"] == "file" and small_env["python_version"]
    assert importlib.util.find_spec("pytz") is None, "the test needs a harness without pytz"


def _samples(tmp_path) -> str:
    tasks = {t.task_id: t for t in get_benchmark("bigcodebench").load()}
    rows = [{"task_id": t, "solution": tasks[t].reference} for t in (*ONLY_LIGHT, DECLARES_FAKER)]
    invented = "import codeladder_invented_module\n" + tasks["BigCodeBench/1107"].reference
    # a real library the task does not declare, which the harness has and the environment lacks
    undeclared = "import pydantic\n" + tasks["BigCodeBench/497"].reference
    # a test's subprocess.run(["python", ...]) gets the environment's interpreter (BigCodeBench/1101, 1103, 1104)
    child = 'import subprocess\nsubprocess.run(["python", "-c", "import pytz, prettytable"], check=True)\n'
    rows += [{"task_id": "BigCodeBench/1107", "solution": invented},
             {"task_id": "BigCodeBench/497", "solution": undeclared},
             {"task_id": "BigCodeBench/1107", "solution": child + tasks["BigCodeBench/1107"].reference}]
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _statuses(output) -> dict:
    rows = [json.loads(line) for line in (output / "results.jsonl").read_text().splitlines()]
    return {(r["task_id"], r["sample_index"]): (r["status"], r["error"]) for r in rows}


def test_eval_runs_in_the_environment_automatically_with_the_split(small_env, tmp_path):
    summary = evaluate(EvalParams(benchmark="bigcodebench", samples=_samples(tmp_path), output=str(tmp_path / "run"),
                                  workers=2))
    got = _statuses(tmp_path / "run")
    for task in ONLY_LIGHT:  # their libraries come from the environment: the harness has neither
        assert got[(task, 0)][0] == "passed", got[(task, 0)]
    status, error = got[(DECLARES_FAKER, 0)]  # declared by the task, absent from the environment: its problem
    assert status == "error" and "faker" in error
    status, error = got[("BigCodeBench/1107", 1)]  # invented by the sample: the sample's failure
    assert status == "failed" and "codeladder_invented_module" in error
    status, error = got[("BigCodeBench/497", 1)]  # the harness's libraries are not on the environment's path
    assert status == "failed" and "pydantic" in error
    assert got[("BigCodeBench/1107", 2)][0] == "passed", got[("BigCodeBench/1107", 2)]
    env = summary["environment"]
    assert env["name"] == "bigcodebench" and env["packages_sha256"] == small_env["packages_sha256"]
    assert env["unchanged_since_creation"] and summary["dataset"]["version"] == "v0.1.4"
    require_namespaces(summary["isolation"])  # one line where the host refuses them or the run fell back


def test_env_none_and_explicit_folder(small_env, tmp_path):
    """``--env none`` runs this interpreter (pytz missing: a declared library, so error); ``--env DIR`` the
    environment there, copied elsewhere under another name."""
    samples = _samples(tmp_path)
    evaluate(EvalParams(benchmark="bigcodebench", samples=samples, output=str(tmp_path / "none"), env="none"))
    got = _statuses(tmp_path / "none")
    assert got[("BigCodeBench/497", 0)][0] == "error" and "pytz" in got[("BigCodeBench/497", 0)][1]
    assert got[("BigCodeBench/546", 0)][0] == "error"
    assert json.loads((tmp_path / "none" / "summary.json").read_text())["environment"] is None


def test_check_passes_then_sees_a_changed_package_list(small_env, tmp_path):
    report = check_env(EnvCheckParams(name="bigcodebench", imports=False))
    assert report["ok"], report
    assert {c["check"] for c in report["checks"]} >= {"interpreter", "packages", "sandbox"}
    site = next((envs_root() / "bigcodebench").glob("lib/python*/site-packages"))
    extra = site / "codeladder_extra-1.0.dist-info"
    extra.mkdir()
    try:
        report = check_env(EnvCheckParams(name=str(envs_root() / "bigcodebench"), imports=False))
        packages = next(c for c in report["checks"] if c["check"] == "packages")
        assert not report["ok"] and not packages["ok"] and "codeladder-extra==1.0" in packages["detail"]
    finally:
        shutil.rmtree(extra)


def test_cli_ls_and_one_line_errors(small_env, tmp_path):
    rows = json.loads(ladder("env", "ls", "--json").stdout)
    assert [r["status"] for r in rows if r["name"] == "bigcodebench"] == ["ready"]
    with pytest.raises(LadderError, match="not an evaluation environment"):
        evaluate(EvalParams(benchmark="bigcodebench-hard", env=str(tmp_path), output=str(tmp_path / "x"), limit=1))
    with pytest.raises(LadderError, match="--requirements"):
        create_env(EnvCreateParams(name="bigcodebench", path=str(tmp_path / "e"), requirements="no-such-file.txt"))
    with pytest.raises(LadderError, match="NAME"):
        EnvCreateParams(name="no-such-env")
    with pytest.raises(LadderError, match="--data-version v9"):
        evaluate(EvalParams(benchmark="bigcodebench", data_version="v9", output=str(tmp_path / "y")))
    done = ladder("env", "check", str(tmp_path / "nothing"), check=False)
    assert done.returncode != 0 and "not an evaluation environment" in done.stderr and "Traceback" not in done.stderr
