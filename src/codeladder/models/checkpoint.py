"""The one writer every model-producing command goes through.

A checkpoint is a normal Hugging Face folder - ``config.json``, safetensors shards with an
index, the tokenizer files, ``generation_config.json`` - plus ``ladder.json``, its lineage:
the source, and every stage applied with its parameters, input checksums, codeladder version
and timestamps. Tokenizer files are copied byte for byte from the input folder, never
re-serialized, so no stage can lose or alter them.

Tensors are added one at a time and written shard by shard, so a transform that streams
tensors never holds more than one shard in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import codeladder
from codeladder.errors import LadderError
from codeladder.models.output import LINEAGE, begin_output, crash_point, discard, publish

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
                   "tokenizer.model", "added_tokens.json", "chat_template.jinja", "chat_template.json")
INDEX = "model.safetensors.index.json"
DEFAULT_SHARD_BYTES = 2 * 1024 ** 3


def element_count(shape) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def _file_mode() -> int:
    """The mode ``open()`` gives a new file under the current umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _checksum_cache() -> Path:
    return Path(os.environ.get("CODELADDER_CACHE", Path.home() / ".cache" / "codeladder")) / "sha256.json"


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime, inode): a merge tournament reads the same
    multi-GB base many times, and hashing it each time would cost more than the merge."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ino}"
    cache_path = _checksum_cache()
    try:
        cache = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        cache = {}
    if key in cache:
        return cache[key]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    cache[key] = digest.hexdigest()
    try:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache_path.with_name(f".{cache_path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(cache))
        os.replace(temporary, cache_path)
    except OSError:
        pass  # a read-only home only costs the next run the hashing again
    return cache[key]


def folder_fingerprint(folder: Path) -> dict:
    """Checksums of what defines a model folder (config, tokenizer, weights)."""
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and (
        p.suffix in (".safetensors", ".gguf") or p.name in TOKENIZER_FILES or p.name in ("config.json", INDEX)))
    return {"path": str(folder), "files": {name: file_sha256(folder / name) for name in names}}


def _fingerprint(path: Path) -> dict:
    return folder_fingerprint(path) if path.is_dir() else {"path": str(path), "sha256": file_sha256(path)}


def read_lineage(folder: Path) -> dict:
    path = folder / LINEAGE
    if path.exists():
        return json.loads(path.read_text())
    return {"format": 1, "source": str(folder), "stages": []}


def weight_files(folder: Path) -> list[Path]:
    """The safetensors files of a model folder, in index order."""
    index = folder / INDEX
    if index.exists():
        try:
            mapping = json.loads(index.read_text())["weight_map"]
            files = [folder / name for name in dict.fromkeys(mapping.values())]
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
            raise LadderError(f"{index}: not a valid index (JSON with a weight_map of tensor -> file); "
                              "copy it again with the model's shards") from None
        absent = [p.name for p in files if not p.is_file()]
        if absent:
            raise LadderError(f"{index}: names {absent[0]}, which is missing; copy every shard of the model")
        return files
    single = folder / "model.safetensors"
    if single.exists():
        return [single]
    found = sorted(folder.glob("*.safetensors"))
    if not found:
        raise LadderError(f"{folder}: no safetensors weights (model.safetensors or {INDEX}); "
                          "is this a Hugging Face model folder?")
    return found


@dataclass
class CheckpointWriter:
    """``writer.add(name, tensor)`` for every tensor, then ``writer.finish(stage, params)``."""

    out_dir: Path
    tokenizer_source: Path | None  # the folder whose tokenizer files are copied byte for byte (required)
    config: dict | None = None  # may be set later, before finish()
    max_shard_bytes: int = DEFAULT_SHARD_BYTES
    lineage_source: Path | None = None  # the folder whose lineage this one continues
    inputs: Sequence[Path] = ()  # everything read to make this model: never the output, fingerprinted in lineage
    origin: str | None = None  # the lineage's "source" when no lineage is continued (e.g. "ladder tiny")
    _pending: dict = field(default_factory=dict)
    _pending_bytes: int = 0
    _shards: list[tuple[str, list[str]]] = field(default_factory=list)
    _total_bytes: int = 0
    _fingerprints: object = None
    _stage: Path = Path()

    def fingerprint_inputs(self, inputs: list[Path]) -> None:
        """Start checksumming the inputs in a thread (hashlib releases the GIL), so the lineage's
        checksums cost no wall time while the transform reads and computes."""
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=1)
        self._fingerprints = pool.submit(lambda: [_fingerprint(Path(p)) for p in inputs])
        pool.shutdown(wait=False)

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        guarded = [*self.inputs, *(p for p in (self.tokenizer_source, self.lineage_source) if p is not None)]
        from codeladder.models.integrity import require_tokenizer

        if self.tokenizer_source is None:
            raise ValueError("CheckpointWriter needs a tokenizer_source: a model without a tokenizer is not written")
        require_tokenizer(Path(self.tokenizer_source))
        self._stage = begin_output(self.out_dir, guarded, kind="folder")

    def __enter__(self) -> "CheckpointWriter":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None:
            discard(self._stage)

    def add(self, name: str, tensor) -> None:
        size = tensor.numel() * tensor.element_size()
        if self._pending and self._pending_bytes + size > self.max_shard_bytes:
            self._flush()
        self._pending[name] = tensor.contiguous()
        self._pending_bytes += size
        self._total_bytes += size

    def stream(self, specs: list[tuple[str, tuple[int, ...], str]], produce) -> None:
        """Write tensors without holding them: ``specs`` is (name, shape, safetensors dtype) for each,
        in order; ``produce(name, sink)`` calls ``sink(tensor_part)`` with consecutive row blocks of it.
        Headers are written first (sizes are known from the specs), then the bytes as they come."""
        import struct

        from codeladder.models.lazy import DTYPES

        self._flush()
        groups, current, size = [], [], 0
        for spec in specs:
            nbytes = DTYPES[spec[2]][1] * element_count(spec[1])
            if current and size + nbytes > self.max_shard_bytes:
                groups.append(current)
                current, size = [], 0
            current.append((*spec, nbytes))
            size += nbytes
        if current:
            groups.append(current)
        for group in groups:
            header, offset = {"__metadata__": {"format": "pt"}}, 0
            for name, shape, dtype, nbytes in group:
                header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
                offset += nbytes
            blob = json.dumps(header, separators=(",", ":")).encode()
            blob += b" " * (-len(blob) % 8)
            temporary = f".shard-{len(self._shards) + 1:05d}.safetensors"
            with open(self._stage / temporary, "wb") as f:
                f.write(struct.pack("<Q", len(blob)))
                f.write(blob)
                for name, shape, dtype, nbytes in group:
                    written = 0

                    def sink(part) -> None:
                        nonlocal written
                        data = part.contiguous().reshape(-1).view(__import__("torch").uint8).numpy()
                        f.write(memoryview(data))
                        written += data.nbytes

                    produce(name, sink)
                    crash_point("mid-shard")
                    if written != nbytes:
                        raise LadderError(f"{name}: produced {written} bytes, expected {nbytes}")
            self._shards.append((temporary, [g[0] for g in group]))
            self._total_bytes += offset

    def _flush(self) -> None:
        from safetensors.torch import save_file

        if not self._pending:
            return
        name = f".shard-{len(self._shards) + 1:05d}.safetensors"
        save_file(self._pending, str(self._stage / name), metadata={"format": "pt"})
        os.chmod(self._stage / name, _file_mode())  # safetensors creates it 0600; a model is as readable as any file
        self._shards.append((name, list(self._pending)))
        self._pending, self._pending_bytes = {}, 0

    def _name_shards(self) -> None:
        count = len(self._shards)
        if count == 1:
            final = ["model.safetensors"]
        else:
            final = [f"model-{i:05d}-of-{count:05d}.safetensors" for i in range(1, count + 1)]
        weight_map = {}
        for (temporary, names), name in zip(self._shards, final):
            os.replace(self._stage / temporary, self._stage / name)
            weight_map.update({tensor: name for tensor in names})
        if count > 1:
            (self._stage / INDEX).write_text(json.dumps({"metadata": {"total_size": self._total_bytes},
                                                         "weight_map": weight_map}, indent=2))

    def _copy_tokenizer(self) -> list[str]:
        copied = []
        for name in TOKENIZER_FILES:
            source = Path(self.tokenizer_source) / name
            if source.exists():
                shutil.copyfile(source, self._stage / name)
                copied.append(name)
        return copied

    def finish(self, stage: str, params: dict, inputs: list[Path] | None = None, started_at: str | None = None,
               extras: dict[str, str] | None = None) -> Path:
        """Complete the staged folder (``extras``: more files, name -> text) and move it onto ``out_dir``."""
        if self.config is None:
            raise ValueError("CheckpointWriter.config must be set before finish()")
        self._flush()
        crash_point("after-shards")
        self._name_shards()
        (self._stage / "config.json").write_text(json.dumps(self.config, indent=2, sort_keys=True) + "\n")
        self._copy_tokenizer()
        source = Path(self.lineage_source or self.tokenizer_source)
        generation = source / "generation_config.json"
        if generation.exists():
            shutil.copyfile(generation, self._stage / generation.name)
        origin = self.origin or str(source)
        lineage = read_lineage(source) if self.lineage_source else {"format": 1, "source": origin, "stages": []}
        fingerprints = (self._fingerprints.result() if self._fingerprints is not None
                        else [_fingerprint(Path(p)) for p in (inputs if inputs is not None else self.inputs)])
        lineage["stages"].append({
            "stage": stage, "params": params, "inputs": fingerprints,
            "codeladder_version": codeladder.__version__, "started_at": started_at or now(), "finished_at": now()})
        (self._stage / LINEAGE).write_text(json.dumps(lineage, indent=2) + "\n")
        for name, text in (extras or {}).items():
            (self._stage / name).write_text(text)
        return publish(self._stage, self.out_dir)
