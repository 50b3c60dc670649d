"""``quotadesk ...``: a thin shell over the library.

Every command calls one library function, prints a readable view or ``--json``, and turns
a ``QuotadeskError`` into a message on stderr and exit 2 with nothing on stdout; so does every
usage error (``cli.errors``: one line ``error: <field>: <message>``). Heavy
imports happen inside the commands so that ``quotadesk triage`` starts fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from quotadesk import __version__
from quotadesk.cli.common import guard, print_json
from quotadesk.cli.errors import QuotadeskGroup

app = typer.Typer(
    name="quotadesk",
    help="Billing and support desk for AI API platforms.",
    cls=QuotadeskGroup,
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
def prices(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Only models whose name contains this text.")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Prices in force on this day (YYYY-MM-DD; default: the newest)."),
    ] = None,
    history: Annotated[
        bool, typer.Option("--history", help="Every dated price period, not one per model.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The price table: per 1M tokens input, output, cache read and write, class, source and start date."""
    from datetime import date

    from quotadesk.billing.pricing import DEFAULT_TABLE
    from quotadesk.errors import InputError

    def rows() -> list[dict[str, str | None]]:
        try:
            day = date.fromisoformat(at) if at else None
        except ValueError as exc:
            raise InputError(f"not a date (YYYY-MM-DD): {at!r}", "--at") from exc
        return price_rows(DEFAULT_TABLE, model, day, history=history)

    out = guard(rows)
    if json_out:
        print_json(out)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Prices per 1M tokens (USD)")
    cols = ("model", "input", "output", "cache read", "cache write", "1h write", "class", "from", "source")
    for col in cols:
        table.add_column(col)
    keys: tuple[str, ...] = ("model", "input_per_mtok", "output_per_mtok", "cached_input_per_mtok")
    keys += ("cache_write_per_mtok", "cache_write_1h_per_mtok", "class", "from", "source")
    for r in out:
        table.add_row(*(r[k] or "—" for k in keys))
    Console().print(table)


def price_rows(table: Any, model: str | None, day: Any, *, history: bool) -> list[dict[str, str | None]]:
    """Rows of ``quotadesk prices``: the family table, then the catalog's models (lookup order)."""
    from quotadesk.billing.pricing import Price

    needle = (model or "").strip().lower()

    def row(name: str, p: Price) -> dict[str, str | None]:
        return {
            "model": name,
            "input_per_mtok": str(p.input_per_mtok),
            "output_per_mtok": str(p.output_per_mtok),
            "cached_input_per_mtok": str(p.cached_input_per_mtok),
            "cache_write_per_mtok": None if p.cache_write_per_mtok is None else str(p.cache_write_per_mtok),
            "cache_write_1h_per_mtok": None
            if p.cache_write_1h_per_mtok is None
            else str(p.cache_write_1h_per_mtok),
            "class": p.price_class,
            "from": p.as_of.isoformat() if p.as_of is not None else None,
            "as_of": p.as_of.isoformat() if p.as_of is not None else None,
            "source": p.source,
        }

    out = [row(n, p) for n, p in sorted(table.items()) if needle in n]
    catalog = table.catalog
    for cm in catalog.models() if catalog is not None else ():
        if needle not in cm.id.lower():
            continue
        days = [start for start, _ in cm.periods] if history else [day]
        out += [row(cm.id, table.catalog_price(cm, d)) for d in days]
    return out


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

    # Bytes that are not UTF-8 reach ``explain`` as lone surrogates, which it refuses.
    text = sys.stdin.buffer.read().decode("utf-8", "surrogateescape") if body == "-" else body
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
    wording: Annotated[
        Path | None,
        typer.Option("--wording", help="Reply wording override (TOML or JSON); default: the runbook's."),
    ] = None,
) -> None:
    """Diagnose a support ticket from its case bundle, following the support runbook."""
    from quotadesk.triage.engine import triage_file
    from quotadesk.triage.render import render_result
    from quotadesk.triage.wording import load_wording

    def run() -> dict[str, Any]:
        return triage_file(bundle, wording=load_wording(wording) if wording is not None else None)

    result = guard(run)
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
    from quotadesk.cli.gateway import gateway_command
    from quotadesk.cli.serve import serve_command

    app.command("serve")(serve_command)
    app.command("gateway")(gateway_command)
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
    from quotadesk import logredact

    logredact.install()
    app()


if __name__ == "__main__":
    main()
