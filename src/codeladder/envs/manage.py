"""``ladder env create|ls|check``: build an evaluation environment (a separate venv with a benchmark's test-time
libraries, installed by pip from the registry, binary wheels only), list them, and check one end to end.

Hand-written on ``python -m venv`` and pip: both ship with Python, and pip's own resolver and cache do the work.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import ClassVar, Optional

from codeladder.envs.datafiles import install_data_files
from codeladder.envs.specs import SPECS, get_spec, normalized_lines
from codeladder.envs.store import (META, envs_root, installed_packages, interpreter, list_envs, load, locate,
                                   packages_sha256)
from codeladder.errors import LadderError
from codeladder.params import VerbParams, option
from codeladder.progress import progress_bar

INSTALL_LOG = "codeladder-install.log"
REQUIREMENTS = "codeladder-requirements.txt"


class EnvCreateParams(VerbParams):
    """Make an evaluation environment: a separate venv holding a benchmark's test-time libraries."""

    verb: ClassVar[str] = "env create"
    name: str = option(..., "which environment (the benchmark family it serves)", argument=True,
                       choices=tuple(SPECS))
    path: Optional[str] = option(None, "folder to make it in (default: $CODELADDER_CACHE/envs/NAME, "
                                       "~/.cache/codeladder/envs/NAME); `ladder eval --env DIR` then uses it")
    requirements: str = option("auto", "auto (the list made for the interpreter), lock (ours, binary wheels), "
                                       "upstream (the benchmark's own pins), or a requirements FILE")
    python: Optional[str] = option(None, "interpreter to make the venv with (default: this one)")
    force: bool = option(False, "remove an environment already there first (only one codeladder made)")


class EnvLsParams(VerbParams):
    """List the evaluation environments (made, and known but not made yet)."""

    verb: ClassVar[str] = "env ls"


class EnvCheckParams(VerbParams):
    """Check an evaluation environment: interpreter, package list unchanged, every module imports, a sandbox run."""

    verb: ClassVar[str] = "env check"
    name: str = option(..., "an environment's name (under $CODELADDER_CACHE/envs) or its folder", argument=True)
    imports: bool = option(True, "import every module the benchmark's tasks use (slow for big environments)")


def _run(command: list[str], timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LadderError(f"{command[0]}: {exc}") from None


def _python_version(python: str) -> str:
    done = _run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], timeout=60)
    if done.returncode != 0:
        raise LadderError(f"--python {python}: it does not run ({done.stderr.strip()[-200:]})")
    return done.stdout.strip()


def _requirement_file(params: EnvCreateParams, version: str) -> tuple[list[str], dict]:
    spec = get_spec(params.name)
    chosen = spec.requirement_list(params.requirements, version)
    if chosen is None:
        path = Path(params.requirements)
        if not path.is_file():
            raise LadderError(f"--requirements {params.requirements}: choose auto, lock, upstream or a FILE "
                              "that exists")
        return normalized_lines(path), {"kind": "file", "file": str(path.resolve()), "source": str(path.resolve())}
    return normalized_lines(chosen.path), {"kind": chosen.kind, "file": chosen.file, "source": chosen.source,
                                           "made_for_python": chosen.python}


def _pip_install(python: Path, requirements: Path, no_binary: tuple[str, ...], log: Path, total: int,
                 show: bool) -> None:
    # This interpreter's pip installs into the venv (``--python``): a venv made without pip starts in a second,
    # with pip (ensurepip) in ~15-50 s here. Add packages later the same way: python -m pip --python ENV/bin/python
    command = [sys.executable, "-m", "pip", "--python", str(python), "install", "--disable-pip-version-check",
               "--no-input",
               "--only-binary=:all:", *([f"--no-binary={','.join(no_binary)}"] if no_binary else []),
               "-r", str(requirements)]
    if show:
        print(f"pip install: {total} requirements into {python.parent.parent} (log: {log})", file=sys.stderr)
    with open(log, "w") as out, progress_bar("collecting packages", total, show) as advance:
        out.write(" ".join(command) + "\n")
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   env={**os.environ, "PIP_PROGRESS_BAR": "off"})
        seen = 0
        for line in process.stdout:
            out.write(line)
            if line.startswith(("Collecting ", "Processing ", "Requirement already satisfied")) and seen < total:
                seen += 1
                advance(1)
        code = process.wait()
    if code != 0:
        errors = [line for line in log.read_text().splitlines() if line.startswith("ERROR")]
        raise LadderError(f"pip install failed ({(errors or ['exit code %d' % code])[-1][:300]}); full log: {log}")


def create_env(params: EnvCreateParams, show_progress: bool = False) -> dict:
    """Make (or complete) the environment; returns the metadata written to ``DIR/codeladder-env.json``."""
    spec = get_spec(params.name)
    target = Path(params.path).expanduser() if params.path else envs_root() / params.name
    if target.exists() and any(target.iterdir()) and not (target / META).is_file() \
            and not interpreter(target).exists():
        raise LadderError(f"--path {target}: a folder that is not an environment; choose an empty or new one")
    if params.force and (target / META).is_file():
        shutil.rmtree(target)
    python = params.python or sys.executable
    started = time.monotonic()
    if not interpreter(target).exists():
        target.mkdir(parents=True, exist_ok=True)
        made = _run([python, "-m", "venv", "--without-pip", str(target)], timeout=300)
        if made.returncode != 0:
            raise LadderError(f"python -m venv {target} failed: {made.stderr.strip()[-300:]}")
    version = _python_version(str(interpreter(target)))
    lines, requirements = _requirement_file(params, version)
    listed = target / REQUIREMENTS
    listed.write_text("\n".join(lines) + "\n")
    requirements["sha256"] = packages_sha256(lines)
    _pip_install(interpreter(target), listed, spec.no_binary, target / INSTALL_LOG, len(lines), show_progress)
    data_files = [install_data_files(files, target) for files in spec.data_files]
    packages = installed_packages(target)
    meta = {"name": spec.name, "path": str(target.resolve()), "python": str(interpreter(target)),
            "python_version": version, "requirements": requirements, "packages": packages,
            "packages_sha256": packages_sha256(packages), "data_files": data_files, "limits": list(spec.limits),
            "install_s": round(time.monotonic() - started, 1), "size_mb": _size_mb(target),
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    (target / META).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _size_mb(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total >> 20


_IMPORT_PROBE = """
import importlib, json, sys, warnings
warnings.simplefilter("ignore")
bad = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        bad[name] = f"{type(exc).__name__}: {exc}"[:200]
print(json.dumps(bad))
"""


def _sandbox_probe(python: str, prefix: str) -> tuple[bool, str]:
    """One real sandbox job run by the environment's interpreter: proves the workers start there."""
    from codeladder.sandbox import Job, Limits, SandboxPool

    code = f"import os, sys\nassert os.path.realpath(sys.prefix) == {prefix!r}, sys.prefix\n"
    with SandboxPool(workers=1, limits=Limits(timeout_s=30), python=python) as pool:
        verdict = next(pool.run([Job("probe", code)]))
        level = pool.isolation["level"]
    return verdict.passed, f"{verdict.status} ({level}){': ' + verdict.detail[-200:] if verdict.detail else ''}"


def check_env(params: EnvCheckParams) -> dict:
    """Each check with ``ok`` and a detail; ``ok`` overall when all pass."""
    path = locate(params.name)
    env = load(path, flag="env check")
    checks = []

    def add(name: str, ok: bool, detail: str) -> None:
        checks.append({"check": name, "ok": ok, "detail": detail})

    try:
        add("interpreter", True, f"Python {_python_version(env.python)} at {env.python}")
    except LadderError as exc:
        add("interpreter", False, str(exc))
        return {"ok": False, "name": env.name, "path": str(env.path), "checks": checks}
    now = installed_packages(env.path)
    before = set(env.meta.get("packages", []))
    added, removed = sorted(set(now) - before), sorted(before - set(now))
    add("packages", not added and not removed,
        f"{len(now)} packages, sha256 {packages_sha256(now)[:16]}…" + (
            f"; changed since creation: +{', '.join(added[:5])} -{', '.join(removed[:5])}" if added or removed else
            ", unchanged since creation"))
    spec = SPECS.get(env.name)
    for files in env.meta.get("data_files", []):
        found = sum(1 for p in (env.path / files["into"]).rglob("*") if p.is_file())
        add("data files", found == files["count"],
            f"{files['files']}: {found}/{files['count']} files in {files['into']}")
    if params.imports and spec is not None:
        done = _run([env.python, "-c", _IMPORT_PROBE, *spec.modules], timeout=900, cwd=str(env.path),
                    env={**os.environ, "MPLBACKEND": "Agg", "PYTHONNOUSERSITE": "1", "PYTHONPATH": ""})
        try:
            bad = json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            bad = {"(probe)": done.stderr.strip()[-200:]}
        add("imports", not bad, f"{len(spec.modules) - len(bad)}/{len(spec.modules)} modules import"
            + (": " + "; ".join(f"{k} ({v})" for k, v in list(bad.items())[:6]) if bad else ""))
    ok, detail = _sandbox_probe(env.python, str(env.path))
    add("sandbox", ok, f"a sample run by this interpreter in the sandbox: {detail}")
    for limit in env.meta.get("limits", []):
        add("not provided", True, limit)
    return {"ok": all(c["ok"] for c in checks), "name": env.name, "path": str(env.path), "checks": checks}


def env_ls(params: EnvLsParams) -> list[dict]:
    return list_envs()


__all__ = ["EnvCreateParams", "EnvLsParams", "EnvCheckParams", "create_env", "check_env", "env_ls"]
