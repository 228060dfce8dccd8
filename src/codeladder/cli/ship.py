"""The ship panel's renderers: ``ladder contracts check``, ``submit`` and ``compile`` (params and logic in
codeladder/contracts/ and codeladder/ship/; the verbs are in codeladder/verbs.py)."""

from __future__ import annotations

from dataclasses import asdict

from rich.table import Table

from codeladder.cli.output import checks_table, console, print_json
from codeladder.contracts.check import ContractsCheckParams
from codeladder.ship.compile import CompileParams, CompileReport
from codeladder.ship.submit import SubmitParams

_STYLE = {"pass": "green", "fail": "bold red", "not-applicable": "yellow"}


def render_contracts(report: dict, params: ContractsCheckParams, as_json: bool) -> int:
    if as_json:
        print_json(report)
    else:
        table = Table(title="ladder contracts check")
        for column in ("claim", "kind", "status", "value", "bound", "evidence / detail"):
            table.add_column(column, overflow="fold")
        for claim in report["claims"]:
            evidence = "\n".join([*claim["evidence"], *([claim["detail"]] if claim["detail"] else [])])
            table.add_row(f"{claim['contract']}/{claim['id']}", claim["kind"],
                          f"[{_STYLE[claim['status']]}]{claim['status']}[/]", _show(claim["value"]),
                          _show(claim["bound"]), evidence)
        console.print(table)
        counts = report["counts"]
        console.print(f"{counts['pass']} passed, {counts['fail']} failed, {counts['not-applicable']} not applicable")
    return 0 if report["passed"] else 1


def _show(value) -> str:
    return "" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)


def render_submit(result: dict, params: SubmitParams, as_json: bool) -> int:
    if as_json:
        print_json(result)
    else:
        console.print(checks_table(f"ladder submit {params.model} -> {params.repo}", result["checks"],
                                   "preflight check", "result", "[bold red]failed[/]"))
        if result.get("failed"):
            console.print(f"nothing written: {len(result['failed'])} check(s) failed (see above)")
        else:
            console.print(f"release folder: {result['output']}" + (f"; uploaded to {result['uploaded']}"
                                                                    if result["uploaded"] else " (dry run)"))
    return 1 if result.get("failed") else 0


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


RENDERERS = {"contracts check": render_contracts, "submit": render_submit, "compile": render_compile}
