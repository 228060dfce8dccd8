"""Helpers shared by the pipeline tests: write a recipe, run the CLI in-process and read its one-line error."""

from pathlib import Path

from conftest import run_cli  # noqa: F401 - the pipeline tests import it from here

GOOD = """\
name: small
stages:
  - name: base
    verb: tiny
    config: {seed: 0}
  - name: sft
    verb: finetune
    inputs: {base: base, data: rows.jsonl}
    config: {method: lora, merge: true, max_steps: 2}
  - name: pruned
    verb: prune
    inputs: {folder: sft}
    config: {method: magnitude, sparsity: 0.2}
  - name: q
    verb: quantize
    inputs: {folder: pruned}
    config: {scheme: q8_0}
    gates: ["size_ratio <= 0.7"]
"""


def write_recipe(folder: Path, text: str, name: str = "recipe.yaml") -> Path:
    (folder / "rows.jsonl").write_text('{"prompt": "p", "completion": "c"}\n')
    path = folder / name
    path.write_text(text)
    return path
