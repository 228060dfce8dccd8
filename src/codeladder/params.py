"""Typed parameters: one pydantic class per verb is the library call's argument, the CLI's options (generated
from it, help text and choices included) and, when recipes land, the recipe stage's schema.

A field is declared with :func:`option`: its help text, the flag a user types (``--field-name`` unless
given), whether it is a positional argument, and which registry its choices come from. Every bad value,
wrong type or unknown choice becomes one :class:`LadderError` line naming the flag, whether it came from
the CLI, a recipe or Python.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic.fields import FieldInfo

from codeladder.errors import LadderError


def option(default: Any = ..., help: str = "", *, flags: tuple[str, ...] | None = None, argument: bool = False,
           choices: str | tuple[str, ...] | None = None, panel: str | None = None, **constraints) -> Any:
    """A verb parameter: ``choices`` is a registry kind (``"benchmark"``) or a fixed tuple of words."""
    from pydantic import Field

    extra = {"flags": flags, "argument": argument, "choices": choices, "panel": panel}
    return Field(default, description=help, json_schema_extra={k: v for k, v in extra.items() if v is not None},
                 **constraints)


def with_default(field: FieldInfo, default: Any) -> Any:
    """A field declared elsewhere (its help, flags and checks) with another default."""
    return FieldInfo.merge_field_infos(field, default=default)


def meta(field: FieldInfo) -> dict:
    extra = field.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def flag_of(name: str, field: FieldInfo) -> str:
    """The flag a user types for a field (its longest spelling), or its name for an argument."""
    info = meta(field)
    if info.get("argument"):
        return name.upper()
    flags = info.get("flags") or (f"--{name.replace('_', '-')}",)
    return max(flags, key=len)


def choice_names(choices: str | tuple[str, ...]) -> list[str]:
    if isinstance(choices, str):
        from codeladder.registry import registry

        return registry(choices).names(with_aliases=True)
    return list(choices)


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


class VerbParams(BaseModel):
    """Base of every verb's parameters. Subclasses set ``verb`` and ``summary`` and declare fields with
    :func:`option`."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    verb: ClassVar[str] = ""

    def __init__(self, **data: Any):
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise LadderError(self._one_line(exc, data)) from None

    @classmethod
    def _one_line(cls, exc: ValidationError, data: dict) -> str:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else ""
        field = cls.model_fields.get(name)
        if field is None:
            if error["type"] == "extra_forbidden":
                return f"{cls.verb or cls.__name__}: unknown parameter {name!r}; see `ladder {cls.verb} --help`"
            return f"{cls.verb or cls.__name__}: {error['msg']}"
        message = error["msg"].removeprefix("Value error, ")
        return f"{flag_of(name, field)} {_shown(data.get(name, ''))}: {message}"

    @model_validator(mode="after")
    def _check_choices(self) -> "VerbParams":
        for name, field in type(self).model_fields.items():
            choices, value = meta(field).get("choices"), getattr(self, name)
            if choices is None or value is None:
                continue
            for item in value if isinstance(value, (list, tuple)) else (value,):
                if isinstance(choices, str):
                    from codeladder.registry import registry

                    registry(choices).get(item, flag_of(name, field))
                elif item not in choices:
                    raise LadderError(f"{flag_of(name, field)} {item}: choose one of {', '.join(choices)}")
        return self

    def stage(self) -> dict:
        """The parameters as a recipe stage or a lineage entry would record them."""
        return {"verb": self.verb, **self.model_dump(mode="json")}


def comma_ints(value: Any) -> Any:
    """``"1,10,100"`` -> ``(1, 10, 100)``; lists and tuples pass through for pydantic to check."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
        try:
            return tuple(int(p) for p in parts)
        except ValueError:
            raise ValueError("expected comma-separated integers, e.g. 1,10,100") from None
    return value


def comma_floats(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return tuple(float(p) for p in value.split(",") if p.strip())
        except ValueError:
            raise ValueError("expected comma-separated numbers, e.g. 0.7,0.3") from None
    return value


def iso_day(value: Any) -> Any:
    """A date option: ``YYYY-MM-DD`` (a longer ISO timestamp is cut to its day), kept as that string."""
    if value is None or value == "":
        return None
    from datetime import date

    try:
        return date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        raise ValueError("give a date as YYYY-MM-DD") from None


def comma_words(value: Any) -> Any:
    """``"q_proj,v_proj"`` -> ``("q_proj", "v_proj")`` (words or paths); lists and tuples pass through."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def read_text(path: Path | None, flag: str) -> str | None:
    """A text file a verb reads (``--text``): missing is one line; undecodable bytes are replaced."""
    if path is None:
        return None
    if not Path(path).is_file():
        raise LadderError(f"{flag} {path}: no such file")
    return Path(path).read_text(errors="replace")


OUTPUT = ("-o", "--output")

__all__ = ["read_text", "OUTPUT", "VerbParams", "option", "with_default", "meta", "flag_of", "choice_names",
           "comma_ints", "comma_floats", "comma_words"]
