"""``ladder submit MODEL --runs RUN… --repo ORG/NAME [--dry-run] [--gguf TYPE] [-o DIR]``: a release folder
(safetensors through the one writer, GGUF files when asked, the evidence files, a model card written from them)
and, without ``--dry-run``, its upload with ``huggingface_hub``.

Preflight checks run first and are all listed with their result: the model folder is whole, every run finished
and measured *this* model (its ``model_lineage`` matches the model's), the licence is known (the base model's,
found in its ``README.md`` front matter, a ``LICENSE`` file or a GGUF's ``general.license``, or ``--license``), the
repo name is valid, and for an upload a token is in the environment. A failed check stops before anything is
written, naming the fix.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Annotated, ClassVar, Optional

from pydantic import BeforeValidator

from codeladder.errors import LadderError
from codeladder.params import OUTPUT, VerbParams, comma_words, option
from codeladder.ship.card import Evidence, build_card, is_full_run, scope

_REPO = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
_FRONT_LICENSE = re.compile(r"^license:\s*['\"]?([\w.+-]+)", re.MULTILINE)


class SubmitParams(VerbParams):
    """Publish a model: a release folder with a model card built only from result files, then (unless
    --dry-run) its upload to the Hugging Face Hub."""

    verb: ClassVar[str] = "submit"
    model: Path = option(..., "model folder to release", argument=True)
    runs: Annotated[tuple[Path, ...], BeforeValidator(comma_words)] = option(
        ..., "run folders measuring this model (comma-separated)")
    repo: str = option(..., "the Hub repository, ORG/NAME")
    output: Path = option(..., "release folder to write", flags=OUTPUT)
    dry_run: bool = option(False, "write the release folder only; upload nothing")
    gguf: Optional[str] = option(None, "also export a GGUF of this type (see `ladder ls export`)", choices="export")
    contracts: Annotated[tuple[Path, ...], BeforeValidator(comma_words)] = option(
        (), "`ladder contracts check -o` outcome files to cite (comma-separated)")
    license: Optional[str] = option(None, "licence id when the base model's cannot be found (e.g. apache-2.0)")
    token_env: str = option("HF_TOKEN", "environment variable holding the Hub token (never a flag)")


def _license_in(path: Path) -> str | None:
    readme = path / "README.md" if path.is_dir() else None
    if readme and readme.is_file():
        found = _FRONT_LICENSE.search(readme.read_text(encoding="utf-8", errors="replace")[:4000])
        if found:
            return found.group(1)
    if path.is_dir() and any((path / name).is_file() for name in ("LICENSE", "LICENSE.txt", "LICENSE.md")):
        first = next(p for p in (path / n for n in ("LICENSE", "LICENSE.txt", "LICENSE.md")) if p.is_file())
        return f"other ({first})"
    if path.is_file() and path.suffix == ".gguf":
        from codeladder.models.io import _gguf_field
        from gguf import GGUFReader

        value = _gguf_field(GGUFReader(str(path)), "general.license")
        return str(value) if value else None
    return None


def lineage_sources(model: Path, lineage: dict) -> list[Path]:
    """The model and every input named in its lineage, nearest first."""
    found = [model]
    for stage in reversed(lineage.get("stages", [])):
        found += [Path(i["path"]) for i in stage.get("inputs", []) if i.get("path")]
    return found


def base_model(lineage: dict) -> str:
    """The Hub id the lineage starts from (``ladder fetch`` records it; a source named ORG/NAME that is not a
    local path counts too), or "" when there is none: a local path is never published as ``base_model``."""
    candidates = [lineage.get("hub_id"), lineage.get("source"), *(lineage.get("sources") or [])]
    for candidate in candidates:
        if isinstance(candidate, str) and _REPO.match(candidate) and not Path(candidate).exists():
            return candidate
    return ""


def _check(checks: list[dict], name: str, ok: bool, detail: str, skipped: bool = False) -> None:
    """One preflight line: what was checked (``detail``) and whether it held; ``skipped`` when there was nothing
    to check (it neither passes nor fails the release)."""
    checks.append({"check": name, "ok": bool(ok), "detail": detail, **({"skipped": True} if skipped else {})})


def _measures_model(summary: dict, model: Path, model_sha: str | None) -> str | None:
    """How the run is tied to this model (None when it is not): the same lineage document, or a GGUF whose
    sidecar names this model's weights as its input (a quantized copy of it)."""
    from codeladder.models.lineage import file_sha256, lineage_fingerprint, read_sidecar

    recorded = summary.get("model_lineage") or {}
    mine = lineage_fingerprint(model) or {}
    if recorded.get("lineage_sha256") and recorded.get("lineage_sha256") == mine.get("lineage_sha256"):
        return "this model"
    gguf = Path(str(recorded.get("path", "")))
    sidecar = read_sidecar(gguf) if recorded.get("kind") == "gguf" and gguf.is_file() else None
    weights = model / "model.safetensors"
    if sidecar and weights.is_file():
        digest = model_sha or file_sha256(weights)
        for stage in (sidecar.get("lineage") or {}).get("stages", [])[-1:]:
            if any((i.get("files") or {}).get("model.safetensors") == digest for i in stage.get("inputs", [])):
                return f"a {stage.get('params', {}).get('type') or stage.get('stage')} GGUF of this model"
    return None


def _runs(params: SubmitParams, checks: list[dict]) -> list[tuple[Path, dict]]:
    runs = []
    for run in params.runs:
        summary_path = run / "summary.json"
        if not summary_path.is_file():
            _check(checks, f"run {run}", False, "no summary.json: not a finished run; finish it or drop it")
            continue
        summary = json.loads(summary_path.read_text())
        tie = _measures_model(summary, params.model, None) if params.model.is_dir() else None
        where = "" if is_full_run(summary) else " (in the card, not in model-index)"
        _check(checks, f"run {run}", tie is not None,
               f"{summary.get('benchmark')}, {tie}, {scope(summary, markdown=False)}{where}" if tie else
               "measured another model (its model_lineage differs); evaluate this model or a GGUF exported from it")
        runs.append((run, summary))
    return runs


def _contracts(params: SubmitParams, checks: list[dict]) -> list[tuple[Path, dict]]:
    if not params.contracts:
        _check(checks, "contracts", True, "none given (--contracts): the card cites no contract", skipped=True)
        return []
    found = []
    for path in params.contracts:
        outcome = json.loads(path.read_text()) if path.is_file() else None
        passed = bool(outcome and outcome.get("passed") and outcome.get("claims"))
        _check(checks, f"contracts {path}", passed, "every claim passed" if passed else
               "missing: give a `ladder contracts check -o` file" if outcome is None else
               "records a failed claim or no claim; fix the model or the claims")
        if outcome is not None:
            found.append((path, outcome))
    return found


def preflight(params: SubmitParams) -> tuple[list[dict], Evidence]:
    from codeladder.models.integrity import require_model_folder
    from codeladder.models.lineage import read_lineage

    checks: list[dict] = []
    try:
        require_model_folder(params.model, "MODEL")
        _check(checks, "model folder", True, str(params.model))
    except LadderError as exc:
        _check(checks, "model folder", False, str(exc))
    lineage = read_lineage(params.model) if params.model.is_dir() else {}
    runs = _runs(params, checks)
    _check(checks, "runs", bool(runs), f"{len(runs)} finished run(s)" if runs else "give --runs of this model")
    licence = params.license or next(filter(None, (_license_in(p) for p in lineage_sources(params.model, lineage)
                                                   if p.exists())), None)
    _check(checks, "licence", bool(licence), licence or "the base model's licence is unknown: pass --license ID")
    _check(checks, "repo", bool(_REPO.match(params.repo)), params.repo if _REPO.match(params.repo) else
           f"{params.repo!r} is not ORG/NAME")
    contracts = _contracts(params, checks)
    if not params.dry_run:
        _check(checks, "token", bool(os.environ.get(params.token_env)),
               f"${params.token_env} is set" if os.environ.get(params.token_env) else
               f"set ${params.token_env} to a Hub token with write access (or use --dry-run)")
    evidence = Evidence(params.model, lineage, runs, contracts, license=licence or "",
                        base_model=base_model(lineage))
    return checks, evidence


def _write_release(params: SubmitParams, evidence: Evidence, stage: Path) -> None:
    from codeladder.models.export_types import ExportParams, export_model

    export_model(ExportParams(folder=params.model, output=stage / "model", format="safetensors"))
    for item in (stage / "model").iterdir():
        item.rename(stage / item.name)
    (stage / "model").rmdir()
    report = stage / "report.json"  # it names where the export was staged: name where the release will be
    report.write_text(json.dumps({**json.loads(report.read_text()), "output": str(params.output)}, indent=2) + "\n")
    if params.gguf:
        gguf = stage / f"{params.repo.split('/')[-1]}-{params.gguf}.gguf"
        export_model(ExportParams(folder=params.model, output=gguf, type=params.gguf))
        report = json.loads(Path(f"{gguf}.ladder.json").read_text()).get("report") or {}
        weights = sum(p.stat().st_size for p in params.model.glob("*.safetensors"))
        evidence.quantized = {**report, "file": gguf.name, "size_vs_model": report.get("bytes", 0) / max(weights, 1)}
    for run, _ in evidence.runs:
        shutil.copy2(run / "summary.json", _evidence_dir(stage) / f"{run.name}.summary.json")
    for path, _ in evidence.contracts:
        shutil.copy2(path, _evidence_dir(stage) / path.name)
    (stage / "README.md").write_text(build_card(evidence, params.repo), encoding="utf-8")


def _evidence_dir(stage: Path) -> Path:
    folder = stage / "evidence"
    folder.mkdir(exist_ok=True)
    return folder


def _upload(params: SubmitParams, folder: Path) -> str:
    from huggingface_hub import HfApi

    api = HfApi(token=os.environ[params.token_env])
    try:
        api.create_repo(params.repo, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=params.repo, commit_message="codeladder submit")
    except Exception as exc:  # noqa: BLE001 - offline, refused or rate-limited: one line, the release folder stays
        raise LadderError(f"upload to {params.repo} failed ({type(exc).__name__}: {str(exc)[:200]}); the release "
                          f"folder {params.output} is complete: retry, or upload it with `huggingface-cli upload`")
    return f"https://huggingface.co/{params.repo}"


def submit_verb(params: SubmitParams) -> dict:
    from codeladder.models.output import begin_output, discard, publish

    checks, evidence = preflight(params)
    result = {"checks": checks, "output": str(params.output), "uploaded": None}
    if not all(c["ok"] for c in checks):
        result["failed"] = [c for c in checks if not c["ok"]]
        return result
    stage = begin_output(params.output, [params.model, *params.runs], kind="folder")
    try:
        _write_release(params, evidence, stage)
    except BaseException:
        discard(stage)
        raise
    publish(stage, params.output)
    if not params.dry_run:
        result["uploaded"] = _upload(params, params.output)
    return result


__all__ = ["SubmitParams", "submit_verb", "preflight"]
