"""The pipeline panel's renderers: ``ladder recipe ls|show|cp|plan|run|resume`` (params and logic in
pipeline/verbs.py; the verbs are in codeladder/verbs.py)."""

from __future__ import annotations

import sys

from rich.table import Table

from codeladder.cli.output import console, err_console, print_json
from codeladder.pipeline.verbs import RecipeCpParams, RecipeLsParams, RecipePlanParams, RecipeShowParams

def render_ls(rows: list[dict], params: RecipeLsParams, as_json: bool) -> None:
    if as_json:
        print_json(rows)
        return
    table = Table(title="ladder recipe ls")
    for column in ("name", "stages", "description"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["name"], " -> ".join(row["stages"]), row["description"])
    console.print(table)


def render_show(text: str, params: RecipeShowParams, as_json: bool) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def render_cp(written: list[str], params: RecipeCpParams, as_json: bool) -> None:
    console.print(f"wrote {', '.join(written)}", highlight=False)


def _inputs(row: dict) -> str:
    parts = []
    for key, value in row["inputs"].items():
        items = value if isinstance(value, list) else [value]
        parts.append(f"{key} <- {', '.join(item.removeprefix('stage ') for item in items)}")
    return "\n".join(parts)


def render_plan(plan: dict, params: RecipePlanParams, as_json: bool) -> int:
    if as_json:
        print_json(plan)
    else:
        table = Table(title=f"recipe {plan['name']} ({plan['path']})")
        for column in ("#", "stage", "verb", "inputs", "outputs", "gates", "state"):
            table.add_column(column, overflow="fold")
        for number, row in enumerate(plan["stages"], 1):
            outputs = "\n".join(row.get("outputs", {}).values())
            state = row["state"] if row["state"].startswith(("would", "done")) else f"[yellow]{row['state']}[/]"
            table.add_row(str(number), row["name"], row["verb"], _inputs(row), outputs, "\n".join(row["gates"]), state)
        console.print(table)
        for warning in plan["warnings"]:
            err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
        verdict = "valid; runnable" if plan["runnable"] else "valid; not runnable yet (see the warnings)"
        err_console.print(f"{plan['path']}: {verdict}", highlight=False)
    return 0


def render_run(result: dict, params, as_json: bool) -> int:
    if as_json:
        print_json(result)
    else:
        table = Table(title=f"recipe run {result['run_dir']}")
        for column in ("stage", "verb", "status", "seconds", "gates", "output"):
            table.add_column(column, overflow="fold")
        for stage in result["lineage"]["stages"]:
            gates = "\n".join(f"{g['expr']}: {g['value']:.4g} {'ok' if g['passed'] else 'FAIL'}"
                              for g in stage["gates"])
            seconds = f"{stage['seconds']:.1f}" if stage.get("seconds") is not None else "-"
            output = next(iter(stage["outputs"].values()), {}).get("path", "")
            table.add_row(stage["name"], stage["kind"], stage["status"], seconds, gates, output)
        console.print(table)
        console.print(f"lineage: {result['run_dir']}/lineage.json", highlight=False)
    if result["stopped"]:
        err_console.print(f"[bold red]stopped:[/] {result['stopped']}", highlight=False)
        return 1
    return 0


RENDERERS = {"recipe ls": render_ls, "recipe show": render_show, "recipe cp": render_cp, "recipe plan": render_plan,
             "recipe run": render_run, "recipe resume": render_run}
