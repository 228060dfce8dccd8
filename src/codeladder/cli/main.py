"""``ladder``: the Typer app, generated from each verb's params class; it holds no logic of its own.

Every command comes from the verb table (:mod:`codeladder.verbs`), grouped into panels by flow (measure, models,
improve, pipeline, ship, inspect), rendered by its panel's module; each verb's help names the file that
implements it. Errors are one line: a LadderError as ``error: ...`` (exit 2), a usage error likewise,
anything unexpected as one line naming the exception (``LADDER_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import typer

from codeladder import quiet_library_noise
from codeladder.cli.output import err_console, render_plain
from codeladder.errors import LadderError

INTERRUPTED = 130
_METAVARS = {"<int>": "N", "<float>": "NUMBER", "<str>": "TEXT", "<path>": "PATH", "<bool>": ""}
quiet_library_noise()


def _version(value: bool) -> None:
    if value:
        import codeladder

        print(f"codeladder {codeladder.__version__}")
        raise typer.Exit()


def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit")) -> None:
    """codeladder: evaluate and improve open code LLMs, with every step measured."""


def renderer(verb):
    """The verb's renderer from its panel's module (``cli/measure.py``, ...); a verb without one (a plug-in's)
    prints its result as JSON."""
    module = importlib.import_module(f"codeladder.cli.{verb.panel}")
    return module.RENDERERS.get(verb.name, render_plain)


def build_app() -> typer.Typer:
    """The app as the verb table stands now (plugins included), so a new entry shows in --help by itself."""
    from codeladder.cli.build import add_command
    from codeladder.verbs import all_verbs

    app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
    app.callback()(_root)
    for verb in all_verbs():
        add_command(app, verb, renderer(verb))
    return app


def _tidy_metavars(command) -> None:
    """Flags show no value to type (``--overwrite``, not ``--overwrite <bool>``); other options show N,
    NUMBER, TEXT or PATH instead of Python type names."""
    help_option = command.get_help_option(command.context_class(command))
    for param in [*command.params, *([help_option] if help_option else [])]:
        if getattr(param, "metavar", None) is None:
            label = param.display_type(None)
            if getattr(param, "is_flag", False):
                param.metavar = ""
            elif "|" in label:  # choices: shown as the words a user types
                param.metavar = label.strip("<>")
            else:
                param.metavar = _METAVARS.get(label, label.strip("<>").upper())
    for sub in getattr(command, "commands", {}).values():
        _tidy_metavars(sub)


def _one_line(exc: BaseException) -> str:
    """An unexpected failure as one line; LADDER_DEBUG=1 shows the traceback instead."""
    where = ""
    tb = exc.__traceback__
    while tb is not None:
        where = f" ({Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno})"
        tb = tb.tb_next
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}{where}; rerun with LADDER_DEBUG=1 for the traceback"


def _fail(message: str, code: int) -> None:
    from rich.markup import escape

    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)  # "pip install 'x[extra]'" stays
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    try:
        from codeladder.registry import load_plugins

        load_plugins()
        command = typer.main.get_command(build_app())
        _tidy_metavars(command)
        code = command.main(args=argv, standalone_mode=False, prog_name="ladder")
    except LadderError as exc:
        _fail(str(exc), 2)
    except typer.TyperException as exc:  # a usage error: one line, and where to look
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        where = getattr(getattr(exc, "ctx", None), "command_path", "ladder")
        _fail(f"{' '.join(message.replace('Value error, ', '').split())} (see `{where} --help`)",
              getattr(exc, "exit_code", 2))
    except (KeyboardInterrupt, typer.Abort):
        code = INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last net: never a traceback for a user
        if os.environ.get("LADDER_DEBUG"):
            raise
        _fail(_one_line(exc), 1)
    if code == INTERRUPTED:  # typer turns Ctrl-C into this exit code
        err_console.print("[yellow]interrupted[/]: finished work is saved; run the same command again to resume")
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
