"""The recipes shipped in the package (``codeladder/recipes/*.yaml``) and how a name or a file is found.

A shipped recipe's relative paths (its small data files) are taken from the package's recipes folder;
``ladder recipe cp`` copies those files beside the copy, so the copy runs from wherever it is put.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from codeladder.errors import LadderError
from codeladder.pipeline.schema import Recipe, parse_recipe
from codeladder.pipeline.yaml_lines import read_yaml

RECIPES = Path(__file__).resolve().parent.parent / "recipes"


def shipped() -> dict[str, Path]:
    return {path.stem: path for path in sorted(RECIPES.glob("*.yaml"))}


def find_recipe(name_or_file: str | Path) -> Path:
    """A recipe file's path: an existing file as given, else a shipped recipe by name."""
    path = Path(name_or_file)
    if path.is_file():
        return path
    found = shipped().get(str(name_or_file))
    if found is None:
        raise LadderError(f"{name_or_file}: no such recipe file, and no shipped recipe of that name (shipped: "
                          f"{', '.join(shipped())}; see `ladder recipe ls`)")
    return found


def load_recipe(name_or_file: str | Path) -> Recipe:
    path = find_recipe(name_or_file)
    _, _, text = read_yaml(path)
    return parse_recipe(text, path)


def local_files(recipe: Recipe) -> list[Path]:
    """The files of the recipe's own folder that its inputs name by a relative path."""
    found = []
    for stage in recipe.stages:
        for ref in stage.refs():
            if ref.kind == "path" and not Path(ref.value).is_absolute() and ref.path and ref.path.is_file():
                found.append(Path(ref.value))
    return sorted(set(found))


def copy_recipe(name: str, destination: Path, overwrite: bool = False) -> list[Path]:
    """Copy a recipe (shipped name or file) and the data files it names by relative path; returns what was
    written. An existing file is replaced only with ``overwrite``."""
    recipe = load_recipe(name)
    destination = Path(destination)
    if destination.is_dir():
        destination = destination / recipe.path.name
    targets = [(recipe.path, destination)] + [(recipe.base / rel, destination.parent / rel)
                                              for rel in local_files(recipe)]
    for source, target in targets:
        if target.exists() and not overwrite and target.read_bytes() != source.read_bytes():
            raise LadderError(f"{target}: exists; pass --overwrite to replace it, or choose another path")
    written = []
    for source, target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        written.append(target)
    return written


__all__ = ["RECIPES", "shipped", "find_recipe", "load_recipe", "copy_recipe", "local_files"]
