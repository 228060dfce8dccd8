"""Text to shingles, in two views, for contamination matching.

Hand-written (no library offers it): datasketch hashes whatever shingles it is given, and the peers' word
n-grams miss copies whose identifiers were renamed. So each text is read twice:

- ``raw``: lower-cased words and punctuation (quotes dropped), the view an exact copy shares with its source;
- ``code``: a code-aware view in which every identifier that is not a keyword, a builtin or an attribute
  (``.append``) becomes ``ID``, comments are dropped and string literals (docstrings) keep their words. A copy
  with renamed variables reads the same here; generic idioms (``for ID in range(len(ID))``) read the same too,
  which is why :mod:`codeladder.data.index` drops shingles common across benchmark tasks and asks for long
  shingles.

Shingles are 64-bit hashes of n consecutive tokens, computed with numpy (a polynomial hash over per-token
hashes), so a benchmark's millions of shingles fit in a few sorted arrays.
"""

from __future__ import annotations

import builtins
import keyword
import re
import zlib

import numpy as np

WORDS = re.compile(r"\w+|[^\w\s\"'`\\]")
CODE = re.compile(r"""(?P<string>[rRbBuUfF]{0,2}(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''
                                                |"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'))
                     |(?P<comment>\#[^\n]*)
                     |(?P<name>[^\W\d]\w*)
                     |(?P<number>\d[\w.]*)
                     |(?P<op>[^\w\s\"'`\\])""", re.VERBOSE)
KEPT_NAMES = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins)) | {"self", "cls"}
IDENTIFIER = "ID"
_MULTIPLIER = np.uint64(0x100000001B3)


def raw_tokens(text: str) -> list[str]:
    """Lower-cased words and punctuation; quotes and backslashes dropped (``'a'`` and ``"a"`` read alike)."""
    return WORDS.findall(text.lower())


def code_tokens(text: str) -> list[str]:
    """Identifiers as ``ID`` (keywords, builtins and attributes kept), comments dropped, strings as words; a
    word in a string that is one of the code's identifiers (a doctest's call, a parameter named in the
    docstring) is ``ID`` too, so renaming a variable everywhere changes nothing here."""
    parts: list[tuple[str, str]] = []
    renamed: set[str] = set()
    after_dot = False
    for match in CODE.finditer(text):
        kind, value = match.lastgroup or "", match.group()
        if kind == "name" and not after_dot and value not in KEPT_NAMES:
            renamed.add(value)
            parts.append(("id", value))
        elif kind != "comment":
            parts.append((kind, value))
        after_dot = kind == "op" and value == "."
    out: list[str] = []
    for kind, value in parts:
        if kind == "id":
            out.append(IDENTIFIER)
        elif kind == "string":
            out.extend(IDENTIFIER if word in renamed else word.lower()
                       for word in WORDS.findall(value.lstrip("rbufRBUF")))
        else:
            out.append(value)
    return out


_TOKEN_IDS: dict[str, int] = {}


def _token_id(token: str) -> int:
    """A fixed 63-bit value per token (crc32-based, so equal in every process)."""
    value = _TOKEN_IDS[token] = (zlib.crc32(token.encode()) * 0x9E3779B97F4A7C15 + len(token)) % (1 << 63)
    return value


def shingle_pairs(token_lists: list[list[str]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct (shingle, owner) pair of a batch of token lists, sorted by shingle: the hashes of each
    n consecutive tokens, and the index of the list they came from (lists shorter than n give none)."""
    known = _TOKEN_IDS
    flat = [known[t] if t in known else _token_id(t) for tokens in token_lists for t in tokens]
    lengths = np.array([len(tokens) for tokens in token_lists], dtype=np.int64)
    hashes = np.array(flat, dtype=np.uint64)
    count = len(hashes) - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    out = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for offset in range(n):
            out = out * _MULTIPLIER + hashes[offset:offset + count]
    owner = np.repeat(np.arange(len(token_lists)), lengths)
    ends = np.cumsum(lengths)  # a window starting at i stays in its list when i + n <= that list's end
    inside = np.arange(count) + n <= ends[owner[:count]]
    out, owner = out[inside], owner[:count][inside]
    order = np.lexsort((owner, out))
    out, owner = out[order], owner[order]
    fresh = np.ones(len(out), dtype=bool)
    fresh[1:] = (out[1:] != out[:-1]) | (owner[1:] != owner[:-1])
    return out[fresh], owner[fresh]


def shingles(tokens: list[str], n: int) -> np.ndarray:
    """The distinct shingles of one token list."""
    return shingle_pairs([tokens], n)[0]


VIEWS = {"raw": raw_tokens, "code": code_tokens}

__all__ = ["raw_tokens", "code_tokens", "shingles", "shingle_pairs", "VIEWS", "IDENTIFIER"]
