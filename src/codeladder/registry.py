"""One registry helper for every kind of plug-in: name -> entry (summary, reference, params, factory, source).

Benchmarks, prompt strategies, backends, rerank methods, merge, prune and quantize methods and export
types are each one file plus one ``add``/``register`` call; ``ladder ls KIND`` lists any of them and every
CLI choice list is read from here. A factory may be given as ``"module:attribute"`` so that listing a
kind never imports torch or llama.cpp; it is resolved on first use.

Users add their own entries from a module of theirs: import it before calling codeladder from Python,
or name it in ``LADDER_PLUGINS=pkg.module,other.module`` for the CLI.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeladder.errors import LadderError

# The module whose import fills each kind's registry with the built-in entries.
OWNERS = {
    "benchmark": "codeladder.benchmarks",
    "strategy": "codeladder.prompts",
    "backend": "codeladder.backends",
    "rerank": "codeladder.rerank",
    "merge": "codeladder.transforms.merge",
    "prune": "codeladder.transforms.prune",
    "quantize": "codeladder.transforms.quantize",
    "export": "codeladder.models.export_types",
    "train": "codeladder.transforms.finetune",
    "stage": "codeladder.verbs",
    "verb": "codeladder.verbs",
    "claim": "codeladder.contracts",
    "model": "codeladder.models.fetch",
}
PACKAGE_ROOT = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    summary: str
    factory: Any  # the object itself, or "module:attribute" resolved by load()
    reference: str = ""  # paper or documentation
    params: type | None = None  # the typed parameters this entry takes, if any
    source: str = ""  # the file that defines it
    aliases: tuple[str, ...] = ()
    data: dict = field(default_factory=dict, compare=False, hash=False)

    def load(self) -> Any:
        if not isinstance(self.factory, str):
            return self.factory
        module, _, attribute = self.factory.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def create(self, *args, **kwargs) -> Any:
        return self.load()(*args, **kwargs)

    def describe(self) -> dict:
        return {"kind": self.kind, "name": self.name, "summary": self.summary, "reference": self.reference,
                "aliases": list(self.aliases), "source": self.source,
                "params": sorted(self.params.model_fields) if hasattr(self.params, "model_fields") else []}


def _relative(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(PACKAGE_ROOT.parent))
    except ValueError:
        return path


def _source_of(factory: Any) -> str | None:
    """The file that defines a factory given as "module:attribute", a class or a named function."""
    if isinstance(factory, str):
        module = factory.partition(":")[0]
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            return None
        return _relative(spec.origin) if spec and spec.origin else None
    name = getattr(factory, "__name__", "<lambda>")
    module = sys.modules.get(getattr(factory, "__module__", "") or "")
    if name == "<lambda>" or module is None or not getattr(module, "__file__", None):
        return None
    return _relative(module.__file__)


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        self._aliases: dict[str, str] = {}

    def add(self, name: str, summary: str, factory: Any, reference: str = "", params: type | None = None,
            aliases: tuple[str, ...] = (), source: str | None = None, **data) -> Entry:
        if source is None:
            source = _source_of(factory) or _relative(sys._getframe(1).f_code.co_filename)
        entry = Entry(self.kind, name, summary, factory, reference, params, source, tuple(aliases), data)
        self._entries[name] = entry
        for alias in aliases:
            self._aliases[alias] = name
        return entry

    def register(self, name: str, summary: str, reference: str = "", params: type | None = None,
                 aliases: tuple[str, ...] = (), **data) -> Callable:
        """Decorator form of :meth:`add` for a class or function defined in the calling file."""
        def wrap(obj):
            source = _relative(sys.modules[obj.__module__].__file__ or "")
            self.add(name, summary, obj, reference, params, aliases, source=source, **data)
            return obj
        return wrap

    def remove(self, name: str) -> None:
        entry = self._entries.pop(name)
        for alias in entry.aliases:
            self._aliases.pop(alias, None)

    def names(self, with_aliases: bool = False) -> list[str]:
        return [*self._entries, *(self._aliases if with_aliases else ())]

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def __contains__(self, name: str) -> bool:
        return name in self._entries or name in self._aliases

    def get(self, name: str, flag: str | None = None) -> Entry:
        found = self._entries.get(self._aliases.get(name, name))
        if found is None:
            where = f"{flag} {name}" if flag else f"unknown {self.kind} {name!r}"
            raise LadderError(f"{where}: choose one of {', '.join(self.names())} (see `ladder ls {self.kind}`)")
        return found

    def create(self, name: str, *args, **kwargs) -> Any:
        return self.get(name).create(*args, **kwargs)


_REGISTRIES: dict[str, Registry] = {}


def registry(kind: str) -> Registry:
    """The registry of one kind, its built-in entries loaded."""
    if kind not in _REGISTRIES:
        _REGISTRIES[kind] = Registry(kind)
        owner = OWNERS.get(kind)
        if owner:
            importlib.import_module(owner)
    return _REGISTRIES[kind]


def new_registry(kind: str) -> Registry:
    """Called once by the module that owns a kind (see OWNERS)."""
    return _REGISTRIES.setdefault(kind, Registry(kind))


def kinds() -> list[str]:
    return sorted({*OWNERS, *_REGISTRIES})


def load_plugins(spec: str | None = None) -> list[str]:
    """Import the user's modules named in ``LADDER_PLUGINS`` (comma-separated) so their entries register."""
    names = [n.strip() for n in (spec if spec is not None else os.environ.get("LADDER_PLUGINS", "")).split(",")
             if n.strip()]
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise LadderError(f"LADDER_PLUGINS: cannot import {name!r} ({exc}); check the module name and "
                              "PYTHONPATH") from None
    return names


__all__ = ["Entry", "Registry", "registry", "new_registry", "kinds", "load_plugins", "OWNERS"]
