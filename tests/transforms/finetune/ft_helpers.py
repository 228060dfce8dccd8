"""Data builders shared by the finetune tests."""

import json
from pathlib import Path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def sft_rows(count: int) -> list[dict]:
    return [{"prompt": f"Write add{i}(x) that returns x plus {i}.", "completion": f"def add{i}(x):\n    return x + {i}\n"}
            for i in range(count)]


def pair_rows(count: int) -> list[dict]:
    return [{"prompt": f"Write add{i}(x) that returns x plus {i}.", "chosen": f"def add{i}(x):\n    return x + {i}\n",
             "rejected": f"def add{i}(x):\n    return x - {i}\n"} for i in range(count)]
