"""``ladder contracts check [FILE…] [--run RUN_DIR] [-o RESULT.json]``: run every claim of the contract files.

A contract file::

    contract: demo
    description: what codeladder claims about the demo recipe's outputs
    claims:
      - id: slerp-keeps-norms
        kind: merge_norms              # see `ladder ls claim`
        artifacts: {merge: merged}     # name -> path, relative to --run (default: the file's folder)
        params: {tolerance: 0.05}

Each claim ends ``pass`` or ``fail``, with the values and the files it read. A claim whose evidence is missing
fails, unless it says ``optional: true`` (then it is ``not-applicable``). The verb exits 1 when a claim fails, and
exits non-zero with one line when nothing was checked (no claims, or every claim optional and absent). Errors in a
file name the file, its line and the claim.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from codeladder.contracts.base import Artifacts, NotApplicable, Outcome
from codeladder.errors import LadderError
from codeladder.params import VerbParams, option
from codeladder.pipeline.yaml_lines import line_of, read_yaml
from codeladder.registry import registry
from codeladder.runs import check_new_file, write_text_atomic

SHIPPED = Path(__file__).resolve().parent / "shipped"


class ClaimSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    kind: str
    artifacts: dict[str, str] = Field(default_factory=dict)
    params: dict = Field(default_factory=dict)
    about: str = ""
    optional: bool = False


class ContractFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contract: str
    description: str = ""
    claims: list[ClaimSpec]


class ContractsCheckParams(VerbParams):
    """Check executable contracts: each claim passes, fails (with its evidence) or is not applicable."""

    verb: ClassVar[str] = "contracts check"
    files: list[Path] = option([], "contract YAML files (default: the shipped ones, see docs/contracts.md)",
                               argument=True)
    run: Optional[Path] = option(None, "folder the claims' artifact paths are relative to (e.g. a recipe run)")
    output: Optional[Path] = option(None, "write every outcome as JSON here", flags=("-o", "--output"))
    overwrite: bool = option(False, "replace an existing -o file")


def _error(where: str, lines, path: tuple, message: str) -> LadderError:
    line = line_of(lines, path)
    return LadderError(f"{where}{f':{line}' if line else ''}: {message}")


def _first(exc: ValidationError) -> dict:
    """The error to show: an unknown key first (a typo is the cause of the missing field beside it)."""
    errors = exc.errors()
    return next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])


def load_contract(path: Path) -> ContractFile:
    data, lines, _ = read_yaml(path)
    where = str(path)
    try:
        contract = ContractFile.model_validate(data)
    except ValidationError as exc:
        first = _first(exc)
        location = tuple(first["loc"])
        raise _error(where, lines, location, f"{'.'.join(map(str, location)) or 'the file'}: {first['msg']}") from None
    kinds = registry("claim")
    for index, claim in enumerate(contract.claims):
        entry = kinds.get(claim.kind, f"{where}: claims[{index}] ({claim.id}) kind")
        try:
            entry.params.model_validate(claim.params)
        except ValidationError as exc:
            first = _first(exc)
            field = ".".join(map(str, first["loc"]))
            raise _error(where, lines, ("claims", index, "params", *first["loc"]),
                         f"claim {claim.id!r} ({claim.kind}) params.{field}: {first['msg']}") from None
    return contract


def check_claim(claim: ClaimSpec, base: Path) -> Outcome:
    """The claim's outcome; missing evidence fails it unless the claim is optional."""
    entry = registry("claim").get(claim.kind, "kind")
    try:
        return entry.load()(entry.params.model_validate(claim.params), Artifacts(claim.artifacts, base))
    except NotApplicable as exc:
        if claim.optional:
            return Outcome("not-applicable", detail=str(exc))
        return Outcome("fail", detail=f"evidence missing: {exc} (a claim that may lack evidence says optional: true)")


def _nothing_checked(results: list[dict], files: list[Path]) -> str | None:
    """Why this check proved nothing (no claims, or only optional claims without evidence); None when it did."""
    if not results:
        return f"nothing to check: {', '.join(map(str, files))} hold no claims"
    if all(r["status"] == "not-applicable" for r in results):
        return (f"nothing checked: all {len(results)} claims are optional and their evidence is missing "
                f"({results[0]['id']}: {results[0]['detail']}); is --run the right folder?")
    return None


def contracts_check(params: ContractsCheckParams) -> dict:
    files = list(params.files) or sorted(SHIPPED.glob("*.yaml"))
    if not files:
        raise LadderError(f"nothing to check: no contract files given and none shipped in {SHIPPED}")
    if params.output is not None:
        check_new_file(params.output, "-o", params.overwrite)
    if params.run is not None and not params.run.is_dir():
        raise LadderError(f"--run {params.run}: not a folder; give the folder the claims' artifacts are in")
    results = []
    for path in files:
        if not path.is_file():
            raise LadderError(f"{path}: no such contract file")
        contract = load_contract(path)
        base = params.run if params.run is not None else path.resolve().parent
        for claim in contract.claims:
            outcome = check_claim(claim, base)
            results.append({"contract": contract.contract, "file": str(path), "id": claim.id, "kind": claim.kind,
                            "about": claim.about, **outcome.as_dict()})
    reason = _nothing_checked(results, files)
    if reason:
        raise LadderError(reason)
    counts = {status: sum(r["status"] == status for r in results) for status in ("pass", "fail", "not-applicable")}
    report = {"claims": results, "counts": counts, "passed": counts["fail"] == 0}
    if params.output is not None:
        write_text_atomic(params.output, json.dumps(report, indent=2, default=str) + "\n")
    return report
