"""The one writer every model-producing command goes through.

A checkpoint is a normal Hugging Face folder - ``config.json``, safetensors shards with an
index, the tokenizer files, ``generation_config.json`` - plus ``ladder.json``, its lineage:
the source, and every stage applied with its parameters, input checksums, codeladder version
and timestamps. Tokenizer files are copied byte for byte from the input folder, never
re-serialized, so no stage can lose or alter them.

Tensors are added one at a time and written shard by shard, so a transform that streams
tensors never holds more than one shard in memory. A transform's typed report is written here too
(``report.json``), and a GGUF file gets its lineage in a sidecar (:func:`gguf_output`); what lineage
holds and how it is read back is :mod:`codeladder.models.lineage`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from codeladder.errors import LadderError
from codeladder.models.lazy import DTYPES, INDEX, weight_files  # noqa: F401 (weight_files: read here by callers)
from codeladder.models.lineage import (REPORT, TOKENIZER_FILES, TRAINING_CUTOFF, extend_lineage, fingerprint, now,
                                       read_sidecar, remember_sha256, report_dict, sha256_of, sidecar_path,
                                       stage_record, to_json)
from codeladder.models.output import LINEAGE, begin_output, clean_stale, crash_point, discard, partial_path, publish

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


@dataclass
class CheckpointWriter:
    """``writer.add(name, tensor)`` for every tensor, then ``writer.finish(stage, params)``."""

    out_dir: Path
    tokenizer_source: Path | None  # the folder whose tokenizer files are copied byte for byte (required)
    config: dict | None = None  # may be set later, before finish()
    max_shard_bytes: int = DEFAULT_SHARD_BYTES
    lineage_source: Path | None = None  # the folder whose lineage this one continues
    lineage_parents: Sequence[Path] = ()  # every model whose weights went in (a merge's inputs): their lineages join
    inputs: Sequence[Path] = ()  # everything read to make this model: never the output, fingerprinted in lineage
    origin: str | None = None  # the lineage's "source" when no lineage is continued (e.g. "ladder tiny")
    training_cutoff: str | None = None  # YYYY-MM-DD the user states for the weights (import); parents' carry over
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
        self._fingerprints = pool.submit(lambda: [fingerprint(Path(p)) for p in inputs])
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

    def stream(self, specs: list[tuple[str, tuple[int, ...], str]], produce, overlap: bool = False) -> None:
        """Write tensors without holding them: ``specs`` is (name, shape, safetensors dtype) for each,
        in order; ``produce(name, sink)`` calls ``sink(tensor_part)`` with consecutive row blocks of it.
        Headers are written first (sizes are known from the specs), then the bytes as they come.

        ``overlap``: each part is written in a thread while the producer makes the next one (a write releases
        the GIL); ``sink`` returns once the previous part is written, so a producer that alternates between
        two buffers may reuse each as soon as it gets it back."""
        import struct
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=1) if overlap else None
        try:
            self._stream(specs, produce, pool, struct)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)

    def _stream(self, specs, produce, pool, struct) -> None:

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
                pending = None
                for name, shape, dtype, nbytes in group:
                    written = 0

                    def sink(part) -> None:
                        nonlocal written, pending
                        data = memoryview(part.contiguous().reshape(-1).view(__import__("torch").uint8).numpy())
                        if pending is not None:
                            pending.result()  # the part before is on disk (and its error, if any, raised here)
                        if pool is not None:
                            pending = pool.submit(f.write, data)
                        else:
                            f.write(data)
                        written += data.nbytes

                    produce(name, sink)
                    crash_point("mid-shard")
                    if written != nbytes:
                        raise LadderError(f"{name}: produced {written} bytes, expected {nbytes}")
                if pending is not None:
                    pending.result()
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
               extras: dict[str, str] | None = None, report: object = None) -> Path:
        """Complete the staged folder and move it onto ``out_dir``: ``report`` (a typed report, or a function
        of the staged folder that returns one, e.g. to measure file sizes) becomes ``report.json``;
        ``extras`` are more files (name -> text)."""
        if self.config is None:
            raise ValueError("CheckpointWriter.config must be set before finish()")
        self._flush()
        crash_point("after-shards")
        self._name_shards()
        (self._stage / "config.json").write_text(json.dumps(self.config, indent=2, sort_keys=True) + "\n")
        self._copy_tokenizer()
        source = Path(self.lineage_source or self.tokenizer_source)
        generation = source / "generation_config.json"
        if generation.is_file():
            shutil.copyfile(generation, self._stage / generation.name)
        fingerprints = (self._fingerprints.result() if self._fingerprints is not None
                        else [fingerprint(Path(p)) for p in (inputs if inputs is not None else self.inputs)])
        lineage = extend_lineage(self.lineage_source, self.origin or str(source),
                                 stage_record(stage, params, fingerprints, started_at), self.lineage_parents)
        if self.training_cutoff:
            lineage[TRAINING_CUTOFF] = self.training_cutoff
        (self._stage / LINEAGE).write_text(to_json(lineage))
        if callable(report):
            report = report(self._stage)
        if report is not None:
            (self._stage / REPORT).write_text(to_json(report_dict(report)))
        for name, text in (extras or {}).items():
            (self._stage / name).write_text(text)
        return publish(self._stage, self.out_dir)


@dataclass
class GgufOutput:
    """A GGUF file being written: write ``path`` (the staging file), set ``report``; see :func:`gguf_output`."""

    path: Path
    report: object = None


@contextmanager
def gguf_output(out: str | Path, source: Path, inputs: Sequence[Path], stage: str,
                params: dict) -> Iterator[GgufOutput]:
    """``with gguf_output(out, folder, [folder], "export", params) as staged:`` write ``staged.path``.

    On success the GGUF and its sidecar ``NAME.gguf.ladder.json`` (lineage continued from ``source``,
    the GGUF's sha256, the report) are renamed into place, the GGUF first: the sidecar's checksum makes
    a crash between the two renames visible to readers (an old sidecar no longer matches)."""
    out = Path(out)
    started = now()
    staged = GgufOutput(begin_output(out, inputs, kind="file"))
    sidecar = partial_path(sidecar_path(out))
    try:
        fingerprints = [fingerprint(Path(p)) for p in inputs]
        yield staged
        digest = sha256_of(staged.path)
        lineage = extend_lineage(source, str(source), stage_record(stage, params, fingerprints, started))
        clean_stale(sidecar_path(out))
        sidecar.write_text(to_json(_sidecar(digest, lineage, staged.report)))
    except BaseException:
        discard(staged.path)
        discard(sidecar)
        raise
    publish(staged.path, out)
    crash_point("before-sidecar")
    os.replace(sidecar, sidecar_path(out))
    remember_sha256(out, digest)


def _sidecar(digest: str, lineage: dict, report: object) -> dict:
    return {"format": 1, "sha256": digest, "lineage": lineage,
            "report": report_dict(report) if report is not None else None}


def rewrite_gguf_report(gguf: Path, report: object) -> None:
    """Replace the report in a GGUF's sidecar (e.g. with a perplexity measured on the published file)."""
    document = read_sidecar(gguf)
    if document is None:
        raise LadderError(f"{gguf}: its sidecar {sidecar_path(gguf).name} is missing or describes another file")
    document["report"] = report_dict(report)
    staged = partial_path(sidecar_path(gguf))
    staged.write_text(to_json(document))
    os.replace(staged, sidecar_path(gguf))
