"""``ladder contracts check`` and ``ladder submit`` (params and logic in codeladder/contracts/, codeladder/ship/)."""

from __future__ import annotations

from rich.table import Table

from codeladder.cli.build import GROUP_HELP, Verb
from codeladder.cli.output import checks_table, console, print_json
from codeladder.contracts.check import ContractsCheckParams, contracts_check
from codeladder.ship.submit import SubmitParams, submit_verb

GROUP_HELP["contracts"] = "Executable contracts: falsifiable claims checked against result files."
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


VERBS = [Verb("contracts check", ContractsCheckParams, contracts_check, render_contracts, panel="ship", json=True),
         Verb("submit", SubmitParams, submit_verb, render_submit, panel="ship", json=True)]
