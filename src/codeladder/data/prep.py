"""``ladder data prep SRC_DIR -o pairs.jsonl``: instruction/response rows from a Python source tree.

Every ``*.py`` file under SRC_DIR (not in ``site-packages``, ``dist-packages`` or a hidden folder such as
``.venv``) is parsed with :mod:`ast`; a file that does not parse, or cannot be decoded by its PEP 263 declaration
or as UTF-8, is counted and named, never fatal. Every function, method and class with a docstring and 3–200 lines
(decorators included) becomes one ``prompt``/``completion`` row: the prompt is the definition's signature and its
docstring, the completion the definition's source as written. Rows are then dropped, each counted with its
reason, as exact duplicates (same code up to whitespace), near duplicates (MinHash over normalized code tokens,
the same detector as ``data quality``) and contaminated (``data decontaminate``'s own code against every bundled
scored benchmark, or ``--against``). ``pairs.jsonl.meta.json`` holds the counts; they add up: definitions seen =
without a docstring + too short + too long + exact duplicates + near duplicates + contaminated + rows written.

Hand-written: walking the tree and cutting definitions out of it, because what a row is (which definitions, which
prompt) is this verb's whole point; the matching is reused.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import tempfile
import textwrap
import tokenize
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import BeforeValidator

import codeladder
from codeladder.errors import LadderError
from codeladder.params import OUTPUT, VerbParams, comma_words, option
from codeladder.runs import write_json_atomic, write_text_atomic

DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
INSTALLED = ("site-packages", "dist-packages", "__pycache__")  # other people's code, installed into the tree


def _skipped(relative: Path) -> bool:
    """Installed packages and hidden folders (.git, .venv, .tox) are not the user's source."""
    return any(part in INSTALLED or part.startswith(".") for part in relative.parts[:-1])


class PrepParams(VerbParams):
    """Instruction/response rows (signature + docstring -> code) from a Python source tree, deduplicated and
    decontaminated."""

    verb: ClassVar[str] = "data prep"
    source: Path = option(..., "a folder of Python source (every *.py under it)", argument=True)
    output: Path = option(..., "the JSONL to write (metadata beside it: FILE.meta.json)", flags=OUTPUT)
    min_lines: int = option(3, "shortest definition kept, in lines", ge=1)
    max_lines: int = option(200, "longest definition kept, in lines", ge=1)
    near_threshold: float = option(0.85, "estimated Jaccard similarity at which two rows are near duplicates",
                                   gt=0, le=1)
    against: Annotated[tuple[str, ...], BeforeValidator(comma_words)] = option(
        (), "benchmarks to decontaminate against (default: every bundled scored benchmark)", choices="benchmark")
    overwrite: bool = option(False, "replace an existing output file (one a data verb wrote is replaced anyway)")


def _signature(node: ast.AST) -> str:
    if isinstance(node, ast.ClassDef):
        bases = ", ".join(ast.unparse(b) for b in [*node.bases, *node.keywords])
        return f"class {node.name}({bases}):" if bases else f"class {node.name}:"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    return f"{prefix} {node.name}({ast.unparse(node.args)}){returns}:"


def _row(node: ast.AST, lines: list[str], first: int, where: str) -> dict:
    code = textwrap.dedent("\n".join(lines[first - 1:node.end_lineno]))
    kind = "class" if isinstance(node, ast.ClassDef) else "function"
    prompt = (f"Write the Python {kind} `{_signature(node)}`, as its docstring describes:\n\n"
              f"{ast.get_docstring(node, clean=True)}")
    return {"prompt": prompt, "completion": code, "source": where}


def definitions(path: Path, root: Path, settings: PrepParams, counts: Counter) -> list[dict]:
    """The rows one file gives; ``counts`` gets every definition it skips, by reason."""
    raw = path.read_bytes()
    text = raw.decode(tokenize.detect_encoding(io.BytesIO(raw).readline)[0])  # PEP 263 cookie, BOM, else UTF-8
    tree = ast.parse(text, filename=str(path))
    lines, rows = text.splitlines(), []
    for node in ast.walk(tree):
        if not isinstance(node, DEFINITIONS):
            continue
        counts["definitions"] += 1
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        size = node.end_lineno - first + 1
        if not ast.get_docstring(node):
            counts["no_docstring"] += 1
        elif size < settings.min_lines:
            counts["too_short"] += 1
        elif size > settings.max_lines:
            counts["too_long"] += 1
        else:
            rows.append(_row(node, lines, first, f"{path.relative_to(root)}:{first}"))  # its first line
    return rows


def _exact_unique(rows: list[dict]) -> tuple[list[dict], int]:
    seen, kept = set(), []
    for row in rows:
        key = hashlib.sha1(" ".join(row["completion"].split()).encode()).hexdigest()
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return kept, len(rows) - len(kept)


def _near_unique(rows: list[dict], threshold: float) -> tuple[list[dict], int]:
    from codeladder.data.quality import near_duplicate_pairs
    from codeladder.data.rows import Row

    as_rows = [Row(i, {"completion": r["completion"]}, "") for i, r in enumerate(rows)]
    later = {pair[1] for pair in near_duplicate_pairs(as_rows, threshold, [])}
    return [r for i, r in enumerate(rows) if i not in later], len(later)


def _clean(rows: list[dict], against: tuple[str, ...]) -> tuple[list[str], dict]:
    from codeladder.data.decontaminate import DecontaminateParams, decontaminate

    with tempfile.TemporaryDirectory(prefix="ladder-prep-") as tmp:
        raw, clean = Path(tmp) / "rows.jsonl", Path(tmp) / "clean.jsonl"
        raw.write_text("".join(json.dumps(r) + "\n" for r in rows))
        report = decontaminate(DecontaminateParams(file=str(raw), drop=str(clean), against=against))
        return clean.read_text().splitlines(), report


def prep(params: PrepParams) -> dict:
    """Write the rows and their metadata; returns the metadata."""
    from codeladder.data import require_datasketch
    from codeladder.data.pairs import check_output, meta_path

    require_datasketch("data prep")
    root, out = Path(params.source), Path(params.output)
    if not root.is_dir():
        raise LadderError(f"SRC_DIR {root}: no such folder; give a folder of Python source")
    if params.min_lines > params.max_lines:
        raise LadderError(f"--min-lines {params.min_lines}: more than --max-lines {params.max_lines}")
    check_output(out, params.overwrite)
    counts, unparsable, rows = Counter(), [], []
    files = sorted(p for p in root.rglob("*.py") if p.is_file() and not _skipped(p.relative_to(root)))
    for path in files:
        try:
            rows += definitions(path, root, params, counts)
        except (SyntaxError, ValueError, UnicodeDecodeError, RecursionError, MemoryError) as exc:
            unparsable.append(f"{path.relative_to(root)}: {type(exc).__name__}")
    if not rows:
        raise LadderError(f"SRC_DIR {root}: no definition with a docstring of {params.min_lines}-{params.max_lines} "
                          f"lines in {len(files)} .py file(s); nothing to write")
    rows, exact = _exact_unique(rows)
    rows, near = _near_unique(rows, params.near_threshold)
    clean, report = _clean(rows, params.against)
    if not clean:
        raise LadderError(f"SRC_DIR {root}: every row matched a scored benchmark; nothing to write")
    dropped = {"no_docstring": counts["no_docstring"], "too_short": counts["too_short"],
               "too_long": counts["too_long"], "exact_duplicates": exact, "near_duplicates": near,
               "contaminated": report["rows_contaminated"]}
    if counts["definitions"] != sum(dropped.values()) + len(clean):  # every definition must be accounted for
        raise LadderError(f"data prep: {counts['definitions']} definitions but {sum(dropped.values())} dropped + "
                          f"{len(clean)} rows; a bug: nothing was written")
    text = "".join(line + "\n" for line in clean)
    write_text_atomic(out, text)
    meta = {"kind": "prep-rows", "file": str(out), "sha256": hashlib.sha256(text.encode()).hexdigest(),
            "source": str(root), "format": "prompt/completion", "contaminated": False,
            "files": len(files), "files_unparsable": len(unparsable), "unparsable": unparsable,
            "definitions": counts["definitions"], "dropped": dropped, "rows": len(clean),
            "lines": [params.min_lines, params.max_lines], "near_threshold": params.near_threshold,
            "decontaminated_against": report["against"], "codeladder_version": codeladder.__version__,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    write_json_atomic(meta_path(out), meta)
    return meta


__all__ = ["PrepParams", "prep", "definitions"]
