"""``quotadesk init`` and ``quotadesk books …``: thin commands over ``quotadesk.store``.

Registered by ``quotadesk.cli`` (``app.add_typer(books_app, name="books")`` and
``app.command("init")(init_command)``). Each command calls one library function; a
``QuotadeskError`` becomes ``error: …`` on stderr and exit 2. ``books verify`` exits 1 when
it finds drift (the check ran, the books are wrong), 0 when they are consistent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import typer

from quotadesk.cli.common import DbOption, JsonOption, guard, parse_time, print_json, sub_app

T = TypeVar("T")

books_app = sub_app("books", "The books on disk: verify the ledger, advance time.")


def _url(db: str | None) -> str:
    from quotadesk import settings

    return settings.get("db", db)


def parse_now(text: str) -> datetime:
    """``--now``: RFC 3339 with a zone, within the books' clock (``common.parse_time``)."""
    return parse_time(text, "--now")


def init_command(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Create the books database, or migrate it to the newest schema."""
    from quotadesk.store import migrations
    from quotadesk.store.db import make_engine, safe_url

    url = _url(db)

    def run() -> dict[str, Any]:
        engine = make_engine(url)
        try:
            before = migrations.current(engine)
            after = migrations.upgrade(engine)
        finally:
            engine.dispose()
        state = "created" if before is None else "up to date" if before == after else "migrated"
        return {"db": safe_url(url), "revision": after, "previous": before, "state": state}

    result = guard(run)
    if json_out:
        print_json(result)
    else:
        typer.echo(f"books at {result['db']}: {result['state']} (revision {result['revision']})")


@books_app.command("verify")
def verify_command(
    now: Annotated[
        str | None,
        typer.Option(
            "--now", help="Date the stale-pending check at this time, RFC 3339 (default: the clock)."
        ),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Recompute every cached balance from the ledger and report drift and payments a crash left
    pending (exit 1 if any)."""
    from quotadesk.store.db import make_engine
    from quotadesk.store.verify import verify

    def run() -> Any:
        when = parse_now(now) if now is not None else datetime.now(UTC)
        engine = make_engine(_url(db))
        try:
            return verify(engine, when)
        finally:
            engine.dispose()

    report = guard(run)
    if json_out:
        print_json(report.to_json())
    else:
        counts = ", ".join(f"{v} {k}" for k, v in report.counts.items())
        if report.ok:
            typer.echo(f"books consistent: {counts}")
        else:
            typer.echo(f"{len(report.findings)} problem(s) in the books ({counts}):")
            for f in report.findings:
                typer.echo(f"  [{f.code}] {f.message}")
    if not report.ok:
        raise typer.Exit(1)


@books_app.command("tick")
def tick_command(
    now: Annotated[
        str, typer.Option("--now", help="The time to advance to, RFC 3339 (e.g. 2026-12-01T00:00:00Z).")
    ],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Do what is due at NOW: grant expiry, limit notices, tiers, invoices, auto-recharge."""
    from quotadesk.store.books import Books
    from quotadesk.store.db import make_engine

    def run() -> Any:
        when = parse_now(now)
        books = Books(make_engine(_url(db)))
        try:
            return books.tick(when)
        finally:
            books.close()

    report = guard(run)
    if json_out:
        print_json(report.to_json())
    else:
        done = ", ".join(f"{k}: {v}" for k, v in sorted(report.counts.items())) or "nothing due"
        typer.echo(f"tick {report.now.isoformat()}: {done}")
