"""What every ``quotadesk`` command shares: the error guard, JSON output, common options.

One guard for all commands keeps the promise of the CLI in one place: a library error is a
message on stderr naming the field and exit 2, with nothing on stdout.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from quotadesk.errors import QuotadeskError
from quotadesk.parse import clean_text, dumps

T = TypeVar("T")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL (default: setting 'db', env QUOTADESK_DB, sqlite:///./quotadesk.db)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def guard(fn: Callable[[], T]) -> T:
    """Run ``fn``; a library error becomes ``error: <field>: <message>`` on stderr and exit 2."""
    from quotadesk.money import MoneyError

    try:
        return fn()
    except (QuotadeskError, MoneyError) as exc:
        typer.echo(clean_text(f"error: {exc}"), err=True)
        raise typer.Exit(2) from exc


def print_json(data: Any) -> None:
    """JSON on stdout, always valid UTF-8 (``quotadesk.parse.dumps``: lone surrogates replaced)."""
    sys.stdout.write(dumps(data) + "\n")


def sub_app(name: str, help: str) -> typer.Typer:
    """A command group with the project's conventions (no completion, plain tracebacks)."""
    return typer.Typer(
        name=name, help=help, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
    )


def progress_bar(*, enabled: bool) -> Any:
    """A rich progress bar (description, bar, done/total, elapsed) on stderr, drawn only on a
    terminal: stdout stays clean for ``--json`` and for pipes."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not enabled or not console.is_terminal,
    )
