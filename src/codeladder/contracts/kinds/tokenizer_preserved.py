"""``tokenizer_preserved``: a model's tokenizer files are byte-equal to those of every model in its lineage (the
sha256 recorded for each stage's inputs), so no stage swapped or lost the tokenizer on the way."""

from __future__ import annotations

from codeladder.contracts.base import Artifacts, ClaimParams, NotApplicable, Outcome, judged, model_lineage
from codeladder.models.lineage import TOKENIZER_FILES, file_sha256


class TokenizerPreservedParams(ClaimParams):
    pass


def check(params: TokenizerPreservedParams, artifacts: Artifacts) -> Outcome:
    model = artifacts.path("model")
    if not model.is_dir():
        raise NotApplicable(f"{model} is not a model folder (a GGUF carries its tokenizer inside)")
    lineage, path = model_lineage(model)
    current = {name: file_sha256(model / name) for name in TOKENIZER_FILES if (model / name).is_file()}
    compared, differing = 0, []
    for stage in lineage.get("stages", []):
        for source in stage.get("inputs", []):
            recorded = source.get("files") or {}
            for name, digest in current.items():
                if name in recorded:
                    compared += 1
                    if recorded[name] != digest:
                        differing.append(f"{stage.get('stage')}: {source.get('path')}/{name}")
    if not compared:
        raise NotApplicable(f"{path} records no input with tokenizer files (a model made from scratch)")
    return judged(not differing, compared - len(differing), compared, [path, *(str(model / n) for n in current)],
                  "differs: " + ", ".join(differing) if differing else f"{compared} recorded tokenizer files equal")
