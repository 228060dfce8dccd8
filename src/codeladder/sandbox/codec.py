"""The safe codec: plain values across the boundary between an untrusted candidate and its trusted checker.

Hand-written because neither pickle (it runs code while loading) nor plain JSON (no tuples, sets,
bytes, complex, NaN or big integers) fits. A value becomes a *tree* of JSON values: JSON scalars
stand for themselves (None, bool, int, float with NaN/±inf, str) and every container is an array
whose first item is a tag::

    ["l", ...] list      ["t", ...] tuple     ["s", ...] set (sorted: canonical)   ["F", ...] frozenset
    ["d", k, v, ...] dict (insertion order)   ["y", b64] bytes   ["Y", b64] bytearray
    ["c", re, im] complex   ["r", start, stop, step] range   ["I", hex] int too long for JSON
    ["i", ...] iterator or generator, materialised (decoded as an iterator over a list)

Subclasses of builtins are encoded as their builtin base, so an object whose ``__eq__`` always
says True arrives as the plain value it pretends to be; anything else cannot be encoded. The
decoder builds builtin types only, refuses unknown tags, JSON objects, too deep or too large
input, and never calls code of the sender's choosing. ``dump_chunks`` streams a long top-level
sequence in batches, byte for byte what ``dumps`` would produce, so multi-gigabyte outputs
never need a second full copy in memory.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from types import GeneratorType
from typing import Any

MAX_DEPTH = 200
_JSON_INT_BITS = 4000  # decimal strings past ~4300 digits are refused by int(); send those as hex
_BATCH = 20000
_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=True).encode


class CodecError(ValueError):
    """A value that cannot cross the boundary, or bytes that are not a valid encoding."""


def _is_iterator(value: Any) -> bool:
    return isinstance(value, GeneratorType) or (hasattr(type(value), "__next__") and hasattr(type(value), "__iter__"))


def _scalar(value: Any) -> Any:
    """The JSON form of a scalar builtin (or subclass), or ``NotImplemented``."""
    if value is None or value is True or value is False:
        return value
    if isinstance(value, int):
        number = int.__int__(value)
        return number if number.bit_length() < _JSON_INT_BITS else ["I", format(number, "x")]
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, complex):
        return ["c", float(value.real), float(value.imag)]
    if isinstance(value, (bytes, bytearray)):
        return ["Y" if isinstance(value, bytearray) else "y", base64.b64encode(bytes(value)).decode()]
    item = getattr(value, "item", None)  # numpy scalars: np.int64 is not an int subclass
    if type(value).__module__ == "numpy" and callable(item) and getattr(value, "ndim", None) == 0:
        return _scalar(item())
    return NotImplemented


def to_tree(value: Any, depth: int = 0) -> Any:
    """The tagged JSON tree of ``value``; raises :class:`CodecError` for what cannot cross."""
    kind = type(value)
    if kind is str or kind is float or kind is bool or value is None:  # exact builtins: the common case, fast
        return value
    if kind is int:
        return value if value.bit_length() < _JSON_INT_BITS else ["I", format(value, "x")]
    if depth > MAX_DEPTH:
        raise CodecError("value nested too deeply (or a container holds itself)")
    if kind is list or kind is tuple:
        down = depth + 1
        return ["l" if kind is list else "t", *[to_tree(v, down) for v in value]]
    scalar = _scalar(value)
    if scalar is not NotImplemented:
        return scalar
    down = depth + 1
    if isinstance(value, (list, tuple)):
        return ["t" if isinstance(value, tuple) else "l", *(to_tree(v, down) for v in list.__iter__(list(value)))]
    if isinstance(value, (set, frozenset)):
        items = sorted((to_tree(v, down) for v in value), key=_dumps)
        return ["F" if isinstance(value, frozenset) else "s", *items]
    if isinstance(value, dict):
        flat: list[Any] = ["d"]
        for key, item in dict.items(value):
            flat += [to_tree(key, down), to_tree(item, down)]
        return flat
    if isinstance(value, range):
        return ["r", value.start, value.stop, value.step]
    if _is_iterator(value):
        return ["i", *(to_tree(v, down) for v in value)]
    raise CodecError(f"a {type(value).__module__}.{type(value).__qualname__} cannot be sent (plain values only)")


def dumps(value: Any) -> bytes:
    return _dumps(to_tree(value)).encode()


def dump_chunks(value: Any) -> Iterator[bytes]:
    """``dumps(value)`` in pieces: a long list, tuple or iterator is encoded a batch at a time."""
    if type(value) in (list, tuple) and len(value) <= _BATCH:
        yield dumps(value)
        return
    if isinstance(value, (list, tuple)) or (_is_iterator(value) and _scalar(value) is NotImplemented):
        tag = "t" if isinstance(value, tuple) else "l" if isinstance(value, list) else "i"
        source = iter(list.__iter__(value) if isinstance(value, list) else value)
        yield f'["{tag}"'.encode()
        while True:
            batch = [to_tree(v, 1) for _, v in zip(range(_BATCH), source)]
            if not batch:
                break
            yield b"," + _dumps(batch)[1:-1].encode()
        yield b"]"
        return
    yield dumps(value)


def _reject_object(pairs: list) -> Any:
    raise CodecError("JSON objects are not part of the encoding")


_decoder = json.JSONDecoder(object_pairs_hook=_reject_object)


def parse(data: bytes | str) -> Any:
    """The JSON (arrays, strings, numbers; no objects) the other side sent, not yet rebuilt into values."""
    try:
        return _decoder.decode(data.decode() if isinstance(data, bytes) else data)
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise CodecError(f"not a valid encoding: {str(exc)[:120]}") from None


def loads(data: bytes | str) -> Any:
    """Decode bytes from the other side into builtin values only."""
    return from_tree(parse(data))


def _from_container(tag: str, items: list, depth: int) -> Any:
    if tag in ("l", "t", "i"):
        values = [from_tree(v, depth) for v in items]
        return values if tag == "l" else tuple(values) if tag == "t" else iter(values)
    if tag in ("s", "F"):
        values = [from_tree(v, depth) for v in items]
        return set(values) if tag == "s" else frozenset(values)
    if tag == "d":
        if len(items) % 2:
            raise CodecError("a dict needs key/value pairs")
        return {from_tree(items[i], depth): from_tree(items[i + 1], depth) for i in range(0, len(items), 2)}
    return _from_atom(tag, items)


def _from_atom(tag: str, items: list) -> Any:
    if tag in ("y", "Y") and len(items) == 1 and isinstance(items[0], str):
        raw = base64.b64decode(items[0].encode(), validate=True)
        return raw if tag == "y" else bytearray(raw)
    if tag == "c" and len(items) == 2 and all(type(v) in (int, float) for v in items):
        return complex(items[0], items[1])
    if tag == "r" and len(items) == 3 and all(type(v) is int for v in items) and items[2] != 0:
        return range(*items)
    if tag == "I" and len(items) == 1 and isinstance(items[0], str) and len(items[0]) < 1 << 20:
        return int(items[0], 16)
    raise CodecError(f"unknown or malformed tag {tag!r}")


def from_tree(tree: Any, depth: int = 0) -> Any:
    """Rebuild a value from its tree (a tree read from JSON holds builtin types only)."""
    kind = type(tree)
    if tree is None or kind in (bool, int, float, str):
        return tree
    if kind is not list or not tree or type(tree[0]) is not str:
        raise CodecError("malformed tree")
    if depth > MAX_DEPTH:
        raise CodecError("encoding nested too deeply")
    try:
        return _from_container(tree[0], tree[1:], depth + 1)
    except (TypeError, ValueError, OverflowError) as exc:  # an unhashable key, bad base64, ...
        raise CodecError(f"malformed {tree[0]!r} node: {str(exc)[:120]}") from None
