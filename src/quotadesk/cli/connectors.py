"""``quotadesk connectors …`` and ``quotadesk contact …``: the connectors' log and queues, and the
contacts that map requesters to organizations and receive alerts. Thin over ``quotadesk.connectors``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from quotadesk.cli.common import DbOption, JsonOption, guard, print_json, sub_app

connectors_app = sub_app("connectors", "Webhook deliveries, kept Stripe events, the outbox.")
contact_app = sub_app("contact", "An organization's contacts: alert addresses and requester domains.")

KindOption = Annotated[str, typer.Option("--kind", help="email (alerts, a requester) or domain (requesters)")]


def _books(db: str | None) -> Any:
    from quotadesk import settings
    from quotadesk.store.books import Books

    return Books.open(settings.get("db", db))


@connectors_app.command("deliveries")
def deliveries_command(
    service: Annotated[
        str | None, typer.Option("--service", help="stripe, zendesk, zammad, freshdesk, chatwoot")
    ] = None,
    outcome: Annotated[
        str | None, typer.Option("--outcome", help="applied, ignored, unmatched or failed")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """The webhook deliveries, newest first (``--outcome unmatched``: Stripe events kept for an org not linked yet)."""
    from quotadesk.connectors.deliveries import OUTCOMES, listing
    from quotadesk.errors import InputError

    def run() -> list[dict[str, Any]]:
        if outcome is not None and outcome not in OUTCOMES:
            raise InputError(f"expected one of {', '.join(OUTCOMES)}", "--outcome")
        books = _books(db)
        try:
            return [d.to_json() for d in listing(books.engine, service=service, outcome=outcome, limit=limit)]
        finally:
            books.close()

    rows = guard(run)
    if json_out:
        print_json(rows)
        return
    for d in rows:
        typer.echo(
            f"{d['received_at']}  {d['service']:<9} {d['outcome']:<9} {d['event_type']:<32} {d['delivery_id']}"
        )


@connectors_app.command("apply-kept")
def apply_kept_command(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Apply the kept Stripe events whose customer is now linked to an organization."""
    from quotadesk.connectors.stripe_hook import apply_kept
    from quotadesk.desk.service import Desk

    def run() -> int:
        books = _books(db)
        try:
            return apply_kept(Desk(books))
        finally:
            books.close()

    done = guard(run)
    print_json({"applied": done}) if json_out else typer.echo(f"{done} kept event(s) applied")


@connectors_app.command("outbox")
def outbox_command(
    status: Annotated[str | None, typer.Option("--status", help="pending, sending, sent or failed")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Notes and alerts queued to go out, with their attempts and last error."""
    from quotadesk.connectors.outbox import rows

    def run() -> list[dict[str, Any]]:
        books = _books(db)
        try:
            return rows(books.engine, status=status)
        finally:
            books.close()

    found = guard(run)
    if json_out:
        print_json(found)
        return
    for r in found:
        typer.echo(
            f"{r['id']:>6} {r['channel']:<9} {r['status']:<8} tries {r['attempts']}  {r['dedupe_key']}  {r['last_error'] or ''}"
        )


@contact_app.command("add")
def contact_add_command(
    org: Annotated[str, typer.Argument(help="The organization id")],
    value: Annotated[str, typer.Argument(help="An email address or a domain")],
    kind: KindOption = "email",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add an email address or domain to an organization."""
    from quotadesk.connectors.contacts import add_contact
    from quotadesk.store.access import SYSTEM

    def run() -> None:
        books = _books(db)
        try:
            add_contact(books.engine, SYSTEM, datetime.now(UTC), org, kind, value)
        finally:
            books.close()

    guard(run)
    print_json({"org_id": org, "kind": kind, "value": value.strip().lower()}) if json_out else typer.echo(
        f"{org}: {kind} {value} added"
    )


@contact_app.command("list")
def contact_list_command(
    org: Annotated[str | None, typer.Option("--org", help="Only this organization")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """The contacts, by organization."""
    from quotadesk.connectors.contacts import contacts

    def run() -> list[dict[str, str]]:
        books = _books(db)
        try:
            return contacts(books.engine, org)
        finally:
            books.close()

    found = guard(run)
    if json_out:
        print_json(found)
        return
    for c in found:
        typer.echo(f"{c['org_id']}  {c['kind']:<6} {c['value']}")
