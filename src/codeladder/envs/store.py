"""Where evaluation environments live and what each records: ``ENV/codeladder-env.json`` beside the venv.

Default place: ``$CODELADDER_CACHE/envs/NAME`` (``~/.cache/codeladder/envs/NAME``). An environment is identified
by its name (the spec it was made from) and the sha256 of its package list (``name==version`` of every
distribution in its site-packages, sorted), which ``ladder eval`` records in ``summary.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from codeladder.errors import LadderError

META = "codeladder-env.json"


def envs_root() -> Path:
    """The folder holding environments made without ``--path`` (respects ``$CODELADDER_CACHE``)."""
    root = os.environ.get("CODELADDER_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "codeladder")
    return Path(root) / "envs"


def interpreter(path: Path) -> Path:
    return path / "bin" / "python"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_packages(path: Path) -> list[str]:
    """``name==version`` of every distribution installed in the venv at ``path``, from its dist-info folders."""
    found = set()
    for site in sorted(path.glob("lib/python*/site-packages")):
        for info in site.glob("*.dist-info"):
            stem = info.name[: -len(".dist-info")]
            name, _, version = stem.partition("-")
            metadata = info / "METADATA"
            if metadata.is_file():  # the folder name may be normalised differently: the metadata is exact
                head = metadata.read_text(errors="replace").split("\n\n", 1)[0]
                fields = dict(line.split(": ", 1) for line in head.splitlines() if ": " in line)
                name, version = fields.get("Name", name), fields.get("Version", version)
            found.add(f"{_normal(name)}=={version}")
    return sorted(found)


def packages_sha256(packages: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(packages)).encode()).hexdigest()


@dataclass(frozen=True)
class Environment:
    """A made environment: its folder, interpreter and what its metadata recorded at creation."""

    name: str
    path: Path
    meta: dict

    @property
    def python(self) -> str:
        return str(interpreter(self.path))

    def record(self) -> dict:
        """What a run's ``summary.json`` says of the environment its samples ran in."""
        packages = installed_packages(self.path)
        digest = packages_sha256(packages)
        return {"name": self.name, "path": str(self.path), "python_version": self.meta.get("python_version"),
                "requirements": self.meta.get("requirements", {}).get("kind"), "packages": len(packages),
                "packages_sha256": digest, "unchanged_since_creation": digest == self.meta.get("packages_sha256")}


def load(path: Path, flag: str = "--env") -> Environment:
    meta_file = Path(path) / META
    if not meta_file.is_file():
        raise LadderError(f"{flag} {path}: not an evaluation environment (no {META}); make one with "
                          "`ladder env create NAME --path DIR`")
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError) as exc:
        raise LadderError(f"{flag} {path}: unreadable {META} ({exc}); make it again with --force") from None
    if not interpreter(Path(path)).exists():
        raise LadderError(f"{flag} {path}: its interpreter bin/python is missing; make it again with --force")
    return Environment(meta.get("name", Path(path).name), Path(path).resolve(), meta)


def locate(name_or_path: str, flag: str = "--env") -> Path:
    """A folder given as a path, or an environment's name under :func:`envs_root`."""
    given = Path(name_or_path).expanduser()
    if os.sep in name_or_path or given.exists():
        return given
    return envs_root() / name_or_path


def resolve(default_name: str | None, option: str | None) -> Environment | None:
    """The environment a benchmark's samples run in: ``--env`` (a folder or a name; ``none``: this interpreter),
    else the benchmark's own environment when it has been made, else None (this interpreter)."""
    if option == "none":
        return None
    if option:
        return load(locate(option))
    if default_name and (envs_root() / default_name / META).is_file():
        return load(envs_root() / default_name, flag=f"environment {default_name!r}")
    return None


def list_envs() -> list[dict]:
    """Every environment under :func:`envs_root`, and each known spec not made yet."""
    from codeladder.envs.specs import SPECS

    rows, root = [], envs_root()
    for meta_file in sorted(root.glob(f"*/{META}")) if root.is_dir() else []:
        try:
            env = load(meta_file.parent, flag="environment")
        except LadderError as exc:
            rows.append({"name": meta_file.parent.name, "path": str(meta_file.parent), "status": str(exc)})
            continue
        rows.append({"name": env.name, "path": str(env.path), "status": "ready",
                     "python_version": env.meta.get("python_version"),
                     "requirements": env.meta.get("requirements", {}).get("kind"),
                     "packages": len(env.meta.get("packages", [])), "created_at": env.meta.get("created_at")})
    made = {row["name"] for row in rows}
    for name in SPECS:
        if name not in made:
            rows.append({"name": name, "path": str(root / name), "status": "not created"})
    return rows
