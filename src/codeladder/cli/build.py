"""Generate a Typer command from a verb's params class: every option, its help, its choices (read from the
registries at start-up, so a new entry appears in ``--help`` by itself) and its source file.

The CLI holds no logic: a command builds the params object (which validates), calls the verb's library
function with it (verbs are declared once, in :mod:`codeladder.verbs`) and hands the result to the renderer of the
verb's panel module (``cli/measure.py``, ...).
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, Optional

import typer
from pydantic.fields import FieldInfo

from codeladder.params import VerbParams, choice_names, meta
from codeladder.verbs import GROUPS, Verb

def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _cli_annotation(field: FieldInfo) -> Any:
    """The type Typer parses: choices a word (the params class checks it, naming the flag), sequences a
    comma-separated string."""
    base, optional = _unwrap_optional(field.annotation)
    if typing.get_origin(base) is typing.Annotated:
        base = typing.get_args(base)[0]
    if meta(field).get("choices") is not None:
        base = str
    elif meta(field).get("argument") and typing.get_origin(base) is list:
        return base
    elif typing.get_origin(base) in (tuple, list):
        base = str
    return Optional[base] if optional else base


def _metavar(name: str, field: FieldInfo) -> str | None:
    """Choices are shown as the words a user types (read from the registry now, so new entries show)."""
    choices = meta(field).get("choices")
    if choices is not None:
        return "|".join(choice_names(choices))
    return name.upper() if meta(field).get("argument") else None


def _cli_default(field: FieldInfo) -> Any:
    if field.is_required():
        return ...
    default = field.get_default(call_default_factory=True)
    if isinstance(default, (tuple, list)) and not meta(field).get("argument"):
        return ",".join(map(str, default))
    return default


def _typer_parameter(name: str, field: FieldInfo, panel: str | None = None,
                     help: str | None = None) -> inspect.Parameter:
    info, help = meta(field), help or field.description
    default, annotation = _cli_default(field), _cli_annotation(field)
    if info.get("argument"):
        spec = typer.Argument(default, help=help, metavar=_metavar(name, field), show_default=default is not None)
    else:
        flags = info.get("flags") or (f"--{name.replace('_', '-')}",)
        if annotation is bool and default is True:
            flags = (f"{flags[0]}/--no-{flags[0].lstrip('-')}",)
        spec = typer.Option(default, *flags, help=help, metavar=_metavar(name, field),
                            rich_help_panel=info.get("panel") or panel,
                            show_default=not (default is None or default is False or default == ""))
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=spec, annotation=annotation)


def engine_option_fields() -> dict[str, tuple[FieldInfo, list[str]]]:
    """Every registered backend's own options, once each, with the backends that take it."""
    from codeladder.registry import registry

    fields: dict[str, tuple[FieldInfo, list[str]]] = {}
    for entry in registry("backend").entries():
        for name, field in (getattr(entry.params, "model_fields", None) or {}).items():
            fields.setdefault(name, (field, []))[1].append(entry.name)
    return fields


def _engine_parameters(skip: set[str]) -> list[inspect.Parameter]:
    parameters = []
    for name, (field, owners) in engine_option_fields().items():
        if name in skip:
            continue
        parameters.append(_typer_parameter(name, field, panel="backend options",
                                           help=f"{field.description} ({', '.join(owners)})"))
    return parameters


def _help(verb: Verb) -> str:
    doc = inspect.cleandoc(verb.params.__doc__ or "")
    return f"{doc}\n\nSource: {verb.source}"


Render = Callable[[Any, Any, bool], "int | None"]  # (result, params, as_json) -> exit code or None


def _group(app: typer.Typer, name: str, panel: str) -> typer.Typer:
    """The sub-command group ``name`` (``ladder data …``), made on first use."""
    for info in app.registered_groups:
        if info.name == name:
            return info.typer_instance
    group = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
    app.add_typer(group, name=name, help=GROUPS.get(name, ""), rich_help_panel=panel)
    return group


def add_command(app: typer.Typer, verb: Verb, render: Render) -> None:
    """Add the verb's command; a name with a space (``"data pairs"``) goes into its group's sub-command."""
    if " " in verb.name:
        group_name, _, name = verb.name.partition(" ")
        app = _group(app, group_name, verb.panel)
    else:
        name = verb.name
    own = list(verb.params.model_fields.items())
    parameters = [_typer_parameter(n, f) for n, f in own if n != "backend_options"]
    engine = _engine_parameters({n for n, _ in own}) if verb.engine_options else []
    parameters += engine
    if verb.json:
        parameters.append(inspect.Parameter("json_out", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                                            default=typer.Option(False, "--json", help="print the result as JSON")))
    engine_names = {p.name for p in engine}

    def command(**values: Any) -> None:
        as_json = values.pop("json_out", False)
        options = {n: values.pop(n) for n in engine_names}
        if verb.engine_options:
            defaults = {n: f.get_default() for n, (f, _) in engine_option_fields().items()}
            values["backend_options"] = {n: v for n, v in options.items() if v != defaults.get(n)}
        params = verb.params(**{k: v for k, v in values.items() if v is not None or k in _nullable(verb.params)})
        code = render(verb.call(params, show_progress=True), params, as_json)
        if code:
            raise typer.Exit(code)

    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__name__ = name.replace("-", "_")
    app.command(name, help=_help(verb), short_help=verb.summary, rich_help_panel=verb.panel)(command)


def _nullable(params: type[VerbParams]) -> set[str]:
    return {n for n, f in params.model_fields.items() if _unwrap_optional(f.annotation)[1]}


__all__ = ["Render", "add_command", "engine_option_fields"]
