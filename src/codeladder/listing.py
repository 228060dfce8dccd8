"""``ladder ls``: what is registered, per kind (verbs, stages, benchmarks, strategies, backends, methods, ...)."""

from __future__ import annotations

from typing import ClassVar, Optional

from codeladder.params import VerbParams, option
from codeladder.registry import kinds, registry


class LsParams(VerbParams):
    """List what can be chosen: benchmarks, strategies, backends, rerank, merge, prune, quantize, export."""

    verb: ClassVar[str] = "ls"
    kind: Optional[str] = option(None, "one kind to list (default: every kind)", argument=True, choices=tuple(kinds()))


def list_entries(params: LsParams) -> list[dict]:
    return [entry.describe() for kind in ([params.kind] if params.kind else kinds())
            for entry in registry(kind).entries()]


__all__ = ["LsParams", "list_entries"]
