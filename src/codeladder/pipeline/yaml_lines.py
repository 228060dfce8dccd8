"""YAML read with the line of every key and item kept, so a recipe's errors can say ``recipe.yaml:14``.

PyYAML's safe loader composes the node tree (each node knows its start mark); we construct the data from
that same tree and record ``path -> line`` for every mapping key and sequence item. A key given twice in
one mapping is an error here (the plain loader silently keeps the last one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from codeladder.errors import LadderError

Lines = dict[tuple, int]  # ("stages", 2, "config", "sparsity") -> 1-based line


def _walk(node: yaml.Node, path: tuple, lines: Lines, where: str) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                raise LadderError(f"{where}:{key_node.start_mark.line + 1}: key {key!r} is given twice in the "
                                  "same mapping; keep one")
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), lines, where)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, where)


def load_yaml(text: str, where: str) -> tuple[Any, Lines]:
    """The document's data and the line of each of its parts; ``where`` names the file in errors."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: Lines = {}
        _walk(node, (), lines, where)
        return loader.construct_document(node), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise LadderError(f"{where}{line}: not valid YAML ({exc.problem or exc.context})") from None
    finally:
        loader.dispose()


def line_of(lines: Lines, path: tuple) -> int | None:
    """The line of ``path``, or of its nearest recorded parent."""
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def read_yaml(path: Path) -> tuple[Any, Lines, str]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise LadderError(f"{path}: cannot read the recipe ({exc.strerror})") from None
    data, lines = load_yaml(text, str(path))
    return data, lines, text


__all__ = ["Lines", "load_yaml", "read_yaml", "line_of"]
