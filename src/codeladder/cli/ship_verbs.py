"""The ship panel: compile (a one-file executable of a model; params classes in ship/)."""

from __future__ import annotations

from dataclasses import asdict

from codeladder.cli.build import Verb
from codeladder.cli.output import console, print_json
from codeladder.ship.compile import CompileParams, CompileReport, compile_model


def render_compile(report: CompileReport, params: CompileParams, as_json: bool) -> None:
    if as_json:
        print_json(asdict(report))
        return
    total, runtime, gguf = (f"{n / 2**20:.1f} MiB" for n in (report.total_bytes, report.runtime_bytes,
                                                              report.gguf_bytes))
    console.print(f"wrote {report.output}: {total} = runtime {runtime} + GGUF {gguf} ({report.gguf_type or 'GGUF'}), "
                  f"in {report.seconds} s")
    console.print(f"  {report.output} --prompt 'def fib(n):' -n 64    # greedy completion")
    console.print(f"  {report.output}                                # interactive")
    console.print(f"  {report.output} --server --port 8080           # OpenAI API at http://127.0.0.1:8080/v1")


VERBS = [
    Verb("compile", CompileParams, compile_model, render_compile, panel="ship", json=True),
]
