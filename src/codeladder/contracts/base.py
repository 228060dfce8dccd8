"""What every claim kind shares: its parameters' base class, the artifacts it reads, and its outcome.

A claim is falsifiable: its kind computes one number (or fact) from result files the toolkit wrote and
compares it with a bound. The outcome names the files and the keys it read, so a reader can check it by hand.
Missing evidence is a ``fail`` (a mistyped ``--run`` must not pass a CI gate), or ``not-applicable`` for a claim
marked ``optional: true``; evidence that contradicts the claim is ``fail``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

STATUSES = ("pass", "fail", "not-applicable")


class ClaimParams(BaseModel):
    """A kind's parameters; unknown keys are an error (a typo must not loosen a claim)."""

    model_config = ConfigDict(extra="forbid")


class NotApplicable(Exception):
    """The evidence this claim needs is not there (or is of another kind): a failure unless the claim is optional."""


@dataclass
class Outcome:
    status: str
    value: Any = None
    bound: Any = None
    evidence: list[str] = field(default_factory=list)
    detail: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def judged(ok: bool, value: Any, bound: Any, evidence: list[str], detail: str = "") -> Outcome:
    return Outcome("pass" if ok else "fail", value, bound, evidence, detail)


class Artifacts:
    """The named paths a claim reads, resolved against the contract's base folder."""

    def __init__(self, named: dict[str, str], base: Path):
        self.named, self.base = named, base

    def path(self, name: str) -> Path:
        if name not in self.named:
            raise NotApplicable(f"no artifact {name!r} given")
        path = Path(self.named[name])
        path = path if path.is_absolute() else self.base / path
        if not path.exists():
            raise NotApplicable(f"{path} does not exist")
        return path

    def json(self, name: str, file: str | None = None) -> tuple[dict, str]:
        """The JSON document at the artifact (or at ``file`` inside it when it is a folder), and its path."""
        path = self.path(name)
        if path.is_dir():
            path = path / (file or "")
        if not path.is_file():
            raise NotApplicable(f"{path} is not a file")
        try:
            return json.loads(path.read_text(encoding="utf-8")), str(path)
        except (OSError, ValueError) as exc:
            raise NotApplicable(f"{path}: unreadable JSON ({exc})") from None


def model_lineage(model: Path) -> tuple[dict, str]:
    """A model's lineage: ``ladder.json`` in a folder, the sidecar's ``lineage`` for a GGUF file."""
    if model.is_dir():
        path = model / "ladder.json"
        if not path.is_file():
            raise NotApplicable(f"{model} has no ladder.json (not written by codeladder)")
        return json.loads(path.read_text(encoding="utf-8")), str(path)
    sidecar = model.with_name(model.name + ".ladder.json")
    if not sidecar.is_file():
        raise NotApplicable(f"{model} has no sidecar {sidecar.name}")
    return json.loads(sidecar.read_text(encoding="utf-8")).get("lineage") or {}, str(sidecar)
