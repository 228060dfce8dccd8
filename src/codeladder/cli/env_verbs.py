"""The env verbs (``ladder env create|ls|check``): evaluation environments holding a benchmark's test-time
libraries, in which ``ladder eval`` runs that benchmark's samples."""

from __future__ import annotations

from rich.table import Table

from codeladder.cli.build import GROUP_HELP, Verb
from codeladder.cli.output import checks_table, console, key_value_table, print_json
from codeladder.envs.manage import (EnvCheckParams, EnvCreateParams, EnvLsParams, check_env, create_env,
                                    env_ls)

GROUP_HELP["env"] = "Evaluation environments: a benchmark's test-time libraries in a venv of their own."


def run_create(params: EnvCreateParams) -> dict:
    return create_env(params, show=True)


def render_create(meta: dict, params: EnvCreateParams, as_json: bool) -> None:
    if as_json:
        print_json({k: v for k, v in meta.items() if k != "packages"})
        return
    requirements = meta["requirements"]
    rows = [("path", meta["path"]), ("python", meta["python_version"]),
            ("requirements", f"{requirements['kind']} ({requirements['file']})"),
            ("packages", f"{len(meta['packages'])}, sha256 {meta['packages_sha256'][:16]}…"),
            ("size", f"{meta['size_mb']} MiB"), ("time", f"{meta['install_s']:.0f} s"),
            *[("not provided", limit) for limit in meta.get("limits", [])]]
    console.print(key_value_table(f"ladder env create {meta['name']}", rows))


def render_ls(rows: list[dict], params: EnvLsParams, as_json: bool) -> None:
    if as_json:
        print_json(rows)
        return
    table = Table(title="ladder env ls")
    for column in ("name", "status", "python", "requirements", "packages", "path"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["name"], row["status"], str(row.get("python_version") or ""),
                      str(row.get("requirements") or ""), str(row.get("packages") or ""), row["path"])
    console.print(table)


def render_check(report: dict, params: EnvCheckParams, as_json: bool) -> int:
    if as_json:
        print_json(report)
    else:
        console.print(checks_table(f"ladder env check {report['name']} ({report['path']})", report["checks"]))
    return 0 if report["ok"] else 1


VERBS = [
    Verb("env create", EnvCreateParams, run_create, render_create, panel="measure", json=True),
    Verb("env ls", EnvLsParams, env_ls, render_ls, panel="measure", json=True),
    Verb("env check", EnvCheckParams, check_env, render_check, panel="measure", json=True),
]
