"""A recipe: named stages, each naming a verb (the ``stage`` registry) with its ``inputs`` (earlier stages'
outputs by name, or paths), its ``config`` (the verb's other settings) and its ``gates``.

The stage is validated by the very params class that generates the verb's CLI (pydantic), so a setting added
to a verb is a recipe setting too. Every error is one line naming the file, the line, the stage and the field:
``demo.yaml:23: stage 'prune' (prune): config.sparsty: unknown field; did you mean 'sparsity'?``

References: an input equal to an earlier stage's name is that stage's main output; ``STAGE.NAME`` picks a named
output (``sft.adapter``); anything else is a path, relative to the recipe file's folder. Fields that take lists
take YAML lists: ``"a,b"`` where a list belongs is an error here (the CLI's comma form is for the shell only).
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from codeladder.errors import LadderError
from codeladder.pipeline.gates import Gate, parse_gate, plan_problem
from codeladder.pipeline.stages import PLANNED, StageKind, stage_kind
from codeladder.pipeline.yaml_lines import Lines, line_of, load_yaml
from codeladder.registry import Entry, registry

RECIPE_KEYS = ("name", "description", "stages")
STAGE_KEYS = ("name", "verb", "description", "inputs", "config", "gates")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
PLACEHOLDER_RUN = Path("RUN_DIR")


@dataclass
class Ref:
    """One input value: an earlier stage's output, a path, or a remote name (hub id, served model)."""

    kind: str  # "stage", "path" or "remote"
    value: str  # the stage name, or the path / name as written
    output: str | None = None  # the stage's named output (None: its main one)
    path: Path | None = None  # for "path": resolved against the recipe's folder

    def describe(self) -> str:
        if self.kind == "stage":
            return f"stage {self.value}" + (f".{self.output}" if self.output else "")
        return str(self.path or self.value)


@dataclass
class Stage:
    name: str
    verb: str
    line: int
    entry: Entry | None  # None: a planned verb this version does not have
    inputs: dict[str, Ref | list[Ref]] = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    gates: list[Gate] = field(default_factory=list)
    description: str = ""
    deferred: str | None = None  # a check that can run only when the inputs exist

    @property
    def kind(self) -> StageKind | None:
        return stage_kind(self.entry) if self.entry else None

    def refs(self) -> list[Ref]:
        return [r for value in self.inputs.values() for r in (value if isinstance(value, list) else [value])]


@dataclass
class Recipe:
    name: str
    path: Path
    text: str
    description: str
    stages: list[Stage]
    lines: Lines
    base: Path  # relative paths are taken from here

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)


class Where:
    """Builds the one-line errors: ``FILE:LINE: stage 'NAME' (VERB): FIELD: message``."""

    def __init__(self, path: Path, lines: Lines):
        self.path, self.lines = path, lines

    def error(self, at: tuple, message: str, stage: dict | None = None) -> LadderError:
        line = line_of(self.lines, at)
        head = f"{self.path}:{line}" if line else str(self.path)
        if stage is not None:
            head += f": stage {stage.get('name', '?')!r}" + (f" ({stage['verb']})" if stage.get("verb") else "")
        return LadderError(f"{head}: {message}")


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(choices)}"


def _is_sequence(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_sequence(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_sequence(a) for a in typing.get_args(annotation) if a is not type(None))
    return origin in (list, tuple)


def _mapping(value: Any, at: tuple, where: Where, stage: dict, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise where.error(at, f"{what} must be a mapping of field: value, got {type(value).__name__}", stage)
    return value


def _resolve_one(value: Any, earlier: dict[str, dict], later: set[str], base: Path, remote: bool,
                 at: tuple, where: Where, stage: dict) -> Ref:
    if not isinstance(value, str) or not value.strip():
        raise where.error(at, f"{'.'.join(map(str, at[2:]))}: expected a stage name or a path, got {value!r}", stage)
    head, _, tail = value.partition(".")
    if value in earlier:
        return Ref("stage", value)
    if head in earlier and tail in earlier[head]:
        return Ref("stage", head, tail)
    path = (base / Path(value).expanduser()) if not Path(value).expanduser().is_absolute() else Path(value)
    if head in earlier and not path.exists():
        raise where.error(at, f"{'.'.join(map(str, at[2:4]))}: stage {head!r} has no output {tail!r} (it has: "
                              f"{', '.join(earlier[head])})", stage)
    if path.exists() or remote:
        return Ref("path" if path.exists() else "remote", value, path=path if path.exists() else None)
    field_name = ".".join(map(str, at[2:4]))
    if value in later or head in later:
        raise where.error(at, f"{field_name}: {value!r} is a stage that runs later; a stage takes only earlier "
                              "stages' outputs (move it after that stage)", stage)
    if "/" not in value and "." not in value:
        names = ", ".join(earlier) or "none"
        raise where.error(at, f"{field_name}: {value!r} names no earlier stage (earlier: {names}) and no file", stage)
    return Ref("path", value, path=path)  # a path that does not exist yet: plan shows it, run refuses


def _outputs_of(stage: "Stage") -> list[str]:
    if stage.kind is None:
        return ["output"]
    return list(stage.kind.outputs(PLACEHOLDER_RUN, {**stage.kind.preset, **stage.config}))


def _check_keys(raw: dict, allowed, at: tuple, where: Where, stage: dict | None, what: str) -> None:
    for key in raw:
        if key not in allowed:
            raise where.error((*at, key), f"unknown {what} key {key!r}{_suggest(key, allowed)}", stage)


def _split_fields(entry: Entry, inputs: dict, config: dict, at: tuple, where: Where, stage: dict) -> None:
    kind, fields = stage_kind(entry), entry.params.model_fields
    for key in config:
        if key == kind.output_field:
            raise where.error((*at, "config", key), f"config.{key}: set by the runner (RUN_DIR/{stage['name']}); "
                                                    "remove it", stage)
        if key in kind.inputs:
            raise where.error((*at, "config", key), f"config.{key}: is an input; put it under inputs:", stage)
        if key not in fields:
            raise where.error((*at, "config", key), f"config.{key}: unknown field{_suggest(key, fields)}", stage)
    for key in inputs:
        if key not in kind.inputs:
            hint = ("is a setting; put it under config:" if key in fields
                    else f"unknown input{_suggest(key, kind.inputs)}")
            raise where.error((*at, "inputs", key), f"inputs.{key}: {hint}", stage)
    for key, value in {**config, **inputs}.items():
        section = "inputs" if key in inputs else "config"
        if isinstance(value, str) and _is_sequence(fields[key].annotation):
            raise where.error((*at, section, key), f"{section}.{key}: expects a list, e.g. [a, b]; got the string "
                                                   f"{value!r} (write it as a YAML list)", stage)
    for key in kind.inputs:
        if key not in inputs and fields[key].is_required() and key not in kind.preset:
            raise where.error(at, f"inputs.{key}: missing; this verb needs it (an earlier stage's name or a path)",
                              stage)


@functools.cache
def _plain(params: type) -> type:
    """The params class without VerbParams' flag-worded error (a recipe names ``config.FIELD``, not ``--flag``):
    the same fields and validators, pydantic's own errors."""
    return type(params.__name__, (params,), {"__init__": BaseModel.__init__, "__module__": params.__module__})


def _validate_params(stage: Stage, run_dir: Path, at: tuple, where: Where, raw: dict) -> None:
    """Check the stage with the verb's own params class; inputs stand in as the paths they will have."""
    values = stage_values(stage, run_dir)
    try:
        _plain(stage.entry.params)(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = str(error["loc"][0]) if error["loc"] else ""
        section = "inputs" if key in stage.inputs else "config"
        if error["type"] == "missing":
            raise where.error(at, f"{section}.{key}: missing; {stage.verb} needs it", raw) from None
        shown = f" = {values.get(key)!r}" if key in stage.config else ""
        message = error["msg"].removeprefix("Value error, ")
        raise where.error((*at, section, key), f"{section}.{key}{shown}: {message}", raw) from None
    except LadderError as exc:
        pending = [str(v) for k, v in values.items() if k in stage.inputs and not Path(str(v)).exists()]
        if any(p in str(exc) for p in pending):
            stage.deferred = str(exc)  # e.g. "no such file" of an input an earlier stage will write
            return
        raise where.error(at, str(exc), raw) from None


def stage_values(stage: Stage, run_dir: Path, outputs: dict[str, dict[str, Path]] | None = None) -> dict:
    """The params values of a stage: preset, config, inputs as paths, and the output in the run folder."""
    outputs = outputs or {}

    def path(ref: Ref) -> str:
        if ref.kind == "stage":
            named = outputs.get(ref.value) or {}
            if named:
                return str(named[ref.output] if ref.output else next(iter(named.values())))
            return str(run_dir / ref.value / (ref.output or ""))
        return str(ref.path or ref.value)

    values = {**stage.kind.preset, **stage.config}
    for key, value in stage.inputs.items():
        values[key] = [path(r) for r in value] if isinstance(value, list) else path(value)
    name = stage.kind.output_name(values)
    values[stage.kind.output_field] = str(run_dir / stage.name / name) if name else str(run_dir / stage.name)
    return values


def _stage(raw: Any, index: int, earlier: dict[str, dict], later: set[str], base: Path, where: Where) -> Stage:
    at = ("stages", index)
    if not isinstance(raw, dict):
        raise where.error(at, f"stages[{index}]: a stage is a mapping with name, verb, inputs, config, gates")
    _check_keys(raw, STAGE_KEYS, at, where, raw, "stage")
    for key in ("name", "verb"):
        if not isinstance(raw.get(key), str):
            raise where.error(at, f"stages[{index}]: {key} missing (a word)", raw if key == "verb" else None)
    if not NAME.fullmatch(raw["name"]) or "." in raw["name"]:
        raise where.error((*at, "name"), "name: letters, digits, '-' and '_' only", raw)
    if raw["name"] in earlier:
        raise where.error((*at, "name"), f"name {raw['name']!r} is used by an earlier stage; names are unique", raw)
    verb = raw["verb"]
    stages = registry("stage")
    if verb not in stages and verb not in PLANNED:
        raise where.error((*at, "verb"), f"verb {verb!r} is no stage{_suggest(verb, [*stages.names(), *PLANNED])} "
                                         "(see `ladder ls stage`)", raw)
    entry = stages.get(verb) if verb in stages else None
    inputs = _mapping(raw.get("inputs"), (*at, "inputs"), where, raw, "inputs")
    config = _mapping(raw.get("config"), (*at, "config"), where, raw, "config")
    gates_raw = raw.get("gates") or []
    if not isinstance(gates_raw, list):
        raise where.error((*at, "gates"), f"gates: expects a list, e.g. ['pass@1 >= 0.5']; got the "
                                          f"{type(gates_raw).__name__} {gates_raw!r} (write it as a YAML list)", raw)
    stage = Stage(raw["name"], verb, line_of(where.lines, at) or 0, entry, config=config,
                  description=str(raw.get("description") or ""))
    if entry is not None:
        _split_fields(entry, inputs, config, at, where, raw)
    remote = stage_kind(entry).remote_ok if entry else ()
    for key, value in inputs.items():
        if isinstance(value, list):
            stage.inputs[key] = [_resolve_one(v, earlier, later, base, key in remote, (*at, "inputs", key, i), where,
                                              raw) for i, v in enumerate(value)]
        else:
            stage.inputs[key] = _resolve_one(value, earlier, later, base, key in remote, (*at, "inputs", key), where,
                                             raw)
    for i, text in enumerate(gates_raw):
        try:
            stage.gates.append(parse_gate(text))
        except ValueError as exc:
            raise where.error((*at, "gates", i), f"gates[{i}]: {exc}", raw) from None
    if entry is not None:
        _validate_params(stage, PLACEHOLDER_RUN, at, where, raw)
        for i, gate in enumerate(stage.gates):
            problem = plan_problem(gate, verb, stage_values(stage, PLACEHOLDER_RUN), stage_kind(entry).results)
            if problem:
                raise where.error((*at, "gates", i), problem, raw)
    return stage


def parse_recipe(text: str, path: Path, base: Path | None = None) -> Recipe:
    """Validate a recipe's text: ``path`` names it in errors; relative paths are taken from ``base`` (default:
    the recipe's folder; a run folder's copy keeps the original's)."""
    data, lines = load_yaml(text, str(path))
    where = Where(path, lines)
    if not isinstance(data, dict):
        raise where.error((), "a recipe is a mapping with name, description and stages")
    _check_keys(data, RECIPE_KEYS, (), where, None, "recipe")
    raw_stages = data.get("stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        got = "nothing" if raw_stages is None else f"the {type(raw_stages).__name__} {raw_stages!r}"
        raise where.error(("stages",), f"stages: expects a list of stages; got {got}")
    names = [s.get("name") for s in raw_stages if isinstance(s, dict)]
    stages: list[Stage] = []
    earlier: dict[str, list[str]] = {}
    for index, raw in enumerate(raw_stages):
        later = {n for n in names[index + 1:] if isinstance(n, str)}
        stage = _stage(raw, index, earlier, later, base or path.parent, where)
        stages.append(stage)
        earlier[stage.name] = _outputs_of(stage)
    return Recipe(str(data.get("name") or path.stem), path, text, str(data.get("description") or "").strip(),
                  stages, lines, base or path.parent)


__all__ = ["Recipe", "Stage", "Ref", "parse_recipe", "stage_values", "PLACEHOLDER_RUN"]
