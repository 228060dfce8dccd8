"""Progress for long work: a rich bar on a terminal, a plain line every few seconds otherwise (so a
``| tee log`` or a batch job's log shows the run moving), nothing when not shown (tests, library use)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

LINE_EVERY_S = 10.0


@contextmanager
def progress_bar(description: str, total: int, show: bool) -> Iterator[Callable[[int], None]]:
    if not show or total == 0:
        yield lambda amount=1: None
    elif sys.stderr.isatty():
        with _rich_bar(description, total) as advance:
            yield advance
    else:
        with _plain_lines(description, total) as advance:
            yield advance


@contextmanager
def _rich_bar(description: str, total: int) -> Iterator[Callable[[int], None]]:
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task(description, total=total)
        yield lambda amount=1: progress.advance(task, amount)


@contextmanager
def _plain_lines(description: str, total: int) -> Iterator[Callable[[int], None]]:
    started = last = time.monotonic()
    done = 0

    def line() -> None:
        elapsed = time.monotonic() - started
        print(f"{description}: {done}/{total} ({100 * done / total:.0f}%), {elapsed:.0f} s", file=sys.stderr,
              flush=True)

    def advance(amount: int = 1) -> None:
        nonlocal done, last
        done += amount
        if time.monotonic() - last >= LINE_EVERY_S:
            last = time.monotonic()
            line()

    yield advance
    line()
