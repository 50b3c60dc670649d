"""``quotadesk ...``: a thin shell over the library.

Every command calls one library function, prints a readable view or ``--json``, and turns
a ``QuotadeskError`` into a message on stderr and exit 2 with nothing on stdout. Heavy
imports happen inside the commands so that ``quotadesk triage`` starts fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from quotadesk import __version__
from quotadesk.cli.common import guard, print_json

app = typer.Typer(
    name="quotadesk",
    help="Billing and support desk for AI API platforms.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"quotadesk {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Billing and support desk for AI API platforms."""


@app.command()
def prices(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """The price table: per 1M tokens input, output and cached input, class and price date."""
    from quotadesk.billing.pricing import DEFAULT_PRICES

    rows = [
        {
            "model": m,
            "input_per_mtok": str(p.input_per_mtok),
            "output_per_mtok": str(p.output_per_mtok),
            "cached_input_per_mtok": str(p.cached_input_per_mtok),
            "class": p.price_class,
            "as_of": p.as_of.isoformat(),
        }
        for m, p in sorted(DEFAULT_PRICES.items())
    ]
    if json_out:
        print_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Prices per 1M tokens (USD)")
    for col in ("model", "input", "output", "cached input", "class", "as of"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["model"],
            r["input_per_mtok"],
            r["output_per_mtok"],
            r["cached_input_per_mtok"],
            r["class"],
            r["as_of"],
        )
    Console().print(table)


@app.command("explain-error")
def explain_error(
    status: Annotated[int, typer.Argument(help="HTTP status the API returned, e.g. 429.")],
    body: Annotated[str, typer.Argument(help="The error body as returned (JSON or text); '-' reads stdin.")],
    provider: Annotated[
        str | None, typer.Option("--provider", "-p", help="Provider dialect (openai, anthropic, ...).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """What a provider's error means in runbook terms: incident, likely root causes, what to check."""
    from quotadesk import settings
    from quotadesk.explain import explain, render_text

    text = sys.stdin.read() if body == "-" else body
    result = guard(lambda: explain(status, text, settings.get("provider", provider)))
    if json_out:
        print_json(result.to_json())
    else:
        typer.echo(render_text(result))


@app.command()
def triage(
    bundle: Annotated[Path, typer.Argument(help="Case bundle (contract v1) JSON file.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the triage result as JSON.")] = False,
    explain_flag: Annotated[
        bool, typer.Option("--explain", help="Also show the decision path and checklist.")
    ] = False,
) -> None:
    """Diagnose a support ticket from its case bundle, following the support runbook."""
    from quotadesk.triage.engine import triage_file
    from quotadesk.triage.render import render_result

    result = guard(lambda: triage_file(bundle))
    if json_out:
        print_json(result)
    else:
        render_result(result, explain=explain_flag)


def _register_books() -> None:
    from quotadesk.cli.books import books_app, init_command

    app.add_typer(
        books_app, name="books", help="The books on disk: verify the ledger, advance time (month close)."
    )
    app.command("init")(init_command)


def _register_usage() -> None:
    from quotadesk.cli.scan import scan_command
    from quotadesk.cli.usage import usage_app

    assert scan_command is not None  # defining it registered ``usage scan``
    app.add_typer(
        usage_app, name="usage", help="The usage log: import real exports, explain a bill, scan every org."
    )


def _register_sim() -> None:
    from quotadesk.cli.sim import bundle_app, demo_command, practice_command, sim_app

    app.add_typer(bundle_app, name="bundle")
    app.add_typer(sim_app, name="sim")
    app.command("demo")(demo_command)
    app.command("practice")(practice_command)


def _register_desk() -> None:
    from quotadesk.cli.backoffice import register
    from quotadesk.cli.serve import serve_command

    app.command("serve")(serve_command)
    register(app)


def _register_customer() -> None:
    from quotadesk.cli.customers import customer_app

    app.add_typer(customer_app, name="customer")


def _register_connectors() -> None:
    from quotadesk.cli.connectors import connectors_app, contact_app

    app.add_typer(connectors_app, name="connectors")
    app.add_typer(contact_app, name="contact")


_register_books()
_register_usage()
_register_sim()
_register_desk()
_register_customer()
_register_connectors()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
