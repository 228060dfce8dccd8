"""The search space of ``ladder tune``: defaults per method, or a YAML file; each entry a list (categorical), a
range ``{low, high, log}`` or a fixed value. Read and checked before any trial runs; one line per mistake.

```yaml
rank: [8, 16, 32]            # categorical
alpha_ratio: [1, 2]          # alpha = alpha_ratio * rank
lr: {low: 1.0e-5, high: 1.0e-3, log: true}
dropout: {low: 0.0, high: 0.1}
epochs: 2                    # fixed
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codeladder.errors import LadderError

SEARCHABLE = {"rank": int, "alpha_ratio": float, "alpha": float, "lr": float, "dropout": float, "epochs": int,
              "warmup_ratio": float, "beta": float}
DEFAULTS = {"rank": [4, 8, 16, 32], "alpha_ratio": [1, 2, 4], "lr": {"low": 1e-5, "high": 1e-3, "log": True},
            "dropout": {"low": 0.0, "high": 0.1}, "epochs": [1, 2, 3]}
DPO_DEFAULTS = {**DEFAULTS, "lr": {"low": 1e-6, "high": 1e-4, "log": True},
                "beta": {"low": 0.01, "high": 0.5, "log": True}}


def default_space(method: str) -> dict:
    chosen = DPO_DEFAULTS if method == "dpo" else DEFAULTS
    return {name: _check_entry("default space", name, value) for name, value in chosen.items()}


def _check_entry(where: str, name: str, value: Any) -> Any:
    kind = SEARCHABLE.get(name)
    if kind is None:
        raise LadderError(f"{where}: {name!r} is not searchable; choose from {', '.join(SEARCHABLE)}")
    if isinstance(value, list):
        if not value or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise LadderError(f"{where}: {name}: a list of numbers to choose from, e.g. [8, 16, 32]")
        return [kind(v) for v in value]
    if isinstance(value, dict):
        unknown = set(value) - {"low", "high", "log"}
        if unknown or not {"low", "high"} <= set(value):
            raise LadderError(f"{where}: {name}: a range is {{low: A, high: B, log: true|false}}")
        low, high = value["low"], value["high"]
        if not all(isinstance(v, (int, float)) for v in (low, high)) or not low < high:
            raise LadderError(f"{where}: {name}: low must be a number below high (got {low}, {high})")
        if value.get("log") and low <= 0:
            raise LadderError(f"{where}: {name}: a log range needs low > 0")
        return {"low": kind(low), "high": kind(high), "log": bool(value.get("log", False))}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return kind(value)
    raise LadderError(f"{where}: {name}: give a list, a range {{low, high, log}} or a number")


def read_space(path: Path | None, method: str) -> dict:
    """The space to search: the defaults for ``method``, or the file's (checked)."""
    if path is None:
        return default_space(method)
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError:
        raise LadderError(f"--space {path}: no such file") from None
    except yaml.YAMLError as exc:
        raise LadderError(f"--space {path}: not YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict) or not data:
        raise LadderError(f"--space {path}: a mapping of parameter: choices (see docs/tune.md)")
    if "alpha" in data and "alpha_ratio" in data:
        raise LadderError(f"--space {path}: give alpha or alpha_ratio, not both")
    if "beta" in data and method != "dpo":
        raise LadderError(f"--space {path}: beta is a dpo setting; drop it or use --method dpo")
    return {str(name): _check_entry(f"--space {path}", str(name), value) for name, value in data.items()}


def suggest(trial, space: dict) -> dict:
    """One point of the space, as finetune settings (``alpha_ratio`` turned into ``alpha``)."""
    values: dict[str, Any] = {}
    for name, entry in space.items():
        kind = SEARCHABLE[name]
        if isinstance(entry, list):
            values[name] = trial.suggest_categorical(name, entry)
        elif isinstance(entry, dict):
            pick = trial.suggest_int if kind is int else trial.suggest_float
            values[name] = pick(name, entry["low"], entry["high"], log=entry["log"])
        else:
            values[name] = entry
    return as_settings(values)


def as_settings(values: dict) -> dict:
    settings = {k: v for k, v in values.items() if k != "alpha_ratio"}
    if "alpha_ratio" in values:
        settings["alpha"] = float(values["alpha_ratio"]) * float(values.get("rank", 16))
    return settings


def scout_space(space: dict) -> dict:
    """A scout's trials run one epoch each: epochs is fixed, not searched."""
    return {**space, "epochs": 1}


__all__ = ["read_space", "suggest", "as_settings", "scout_space", "default_space", "SEARCHABLE"]
