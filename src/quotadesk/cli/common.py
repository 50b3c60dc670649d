"""What every ``quotadesk`` command shares: the error guard, JSON output, common options.

One guard for all commands keeps the promise of the CLI in one place: a library error is a
message on stderr naming the field and exit 2, with nothing on stdout.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import typer

from quotadesk.cli.errors import PROJECT_ERRORS, QuotadeskGroup, fail, project_error
from quotadesk.errors import InputError
from quotadesk.parse import dumps

T = TypeVar("T")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL (default: setting 'db', env QUOTADESK_DB, sqlite:///./quotadesk.db)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def guard(fn: Callable[[], T]) -> T:
    """Run ``fn``; a library error becomes ``error: <field>: <message>`` on stderr and exit 2.

    The line is ``cli.errors.line`` (the one format, secrets redacted); what escapes a command
    unguarded is caught the same way by ``cli.errors.QuotadeskGroup``.
    """
    try:
        return fn()
    except PROJECT_ERRORS as exc:
        field, message = project_error(exc) or (None, str(exc))
        fail(field, message)


def parse_time(text: str, field: str = "--now") -> datetime:
    """An option's time: RFC 3339 with a zone (``2026-12-01T00:00:00Z``), within the books' clock
    (``billing.limits.LATEST``); else an ``InputError`` naming ``field``. A time without a zone is
    refused: it would be read as local time and move month boundaries by hours."""
    from quotadesk.billing.limits import in_clock_range

    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"not an RFC 3339 time: {text!r}", field) from exc
    if value.tzinfo is None:
        raise InputError(f"give a timezone, e.g. {text}Z", field)
    try:
        return in_clock_range(value.astimezone(UTC), field)
    except OverflowError as exc:
        raise InputError(f"{text!r} is outside the supported range", field) from exc
    except ValueError as exc:
        raise InputError(str(exc).removeprefix(f"{field}: "), field) from exc


def print_json(data: Any) -> None:
    """JSON on stdout, always valid UTF-8 (``quotadesk.parse.dumps``: lone surrogates replaced)."""
    sys.stdout.write(dumps(data) + "\n")


def sub_app(name: str, help: str) -> typer.Typer:
    """A command group with the project's conventions (no completion, plain tracebacks)."""
    return typer.Typer(
        name=name,
        help=help,
        cls=QuotadeskGroup,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
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
