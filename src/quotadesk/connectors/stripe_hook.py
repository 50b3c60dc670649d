"""``POST /hooks/stripe`` after its signature: the event into the books, once, or kept.

The event's id is its delivery id. In one transaction: the id is claimed in the delivery log,
the customer's organization is locked and the event merged into its books
(``stripe_events.apply_event``). An event for a customer no organization is linked to is
kept whole (``unmatched``) and applied when its customer is linked: by ``apply_kept``, which
the next event for that customer runs first, and ``quotadesk connectors apply-kept`` runs on
demand. An event Stripe documents but the books cannot take (another currency, a missing
amount) is kept as ``failed`` with the reason; nothing of it is half-applied (a savepoint).
After the commit, the organization's open cases are triaged again on the changed books.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from quotadesk.connectors import deliveries
from quotadesk.connectors.stripe_events import (
    Applied,
    CurrencyError,
    EventError,
    apply_event,
    customer_of,
    org_for_customer,
)
from quotadesk.connectors.tickets import Received
from quotadesk.desk.service import Desk
from quotadesk.errors import InputError
from quotadesk.parse import ParseError, json_doc
from quotadesk.store.db import atomic, transaction
from quotadesk.store.errors import ConflictError
from quotadesk.store.snapshot import org_row

log = logging.getLogger("quotadesk.connectors")
SERVICE = "stripe"


def parse_event(body: bytes) -> dict[str, Any]:
    try:
        event = json_doc(body, "body")
    except ParseError as exc:
        raise InputError(f"the body is not JSON: {exc.message}", "body") from exc
    if not isinstance(event, dict):
        raise InputError("expected a Stripe event object", "body")
    if not isinstance(event.get("id"), str) or not event["id"].strip() or len(event["id"]) > 200:
        raise InputError("expected the event's id (evt_...)", "id")
    if not isinstance(event.get("type"), str):
        raise InputError("expected the event's type", "type")
    data = event.get("data")
    if not isinstance(data, Mapping) or not isinstance(data.get("object"), Mapping):
        raise InputError("expected data.object", "data.object")
    return event


def _apply(desk: Desk, conn: Any, event: Mapping[str, Any], org_id: str) -> Applied:
    org_row(conn, org_id, lock=True)
    try:
        with atomic(conn):
            return apply_event(conn, event, org_id, desk.now())
    except (EventError, CurrencyError) as exc:
        return Applied("failed", org_id, reason=str(exc))


def receive(desk: Desk, body: bytes) -> Received:
    """Apply one verified Stripe delivery (see the module docstring)."""
    event = parse_event(body)
    customer = customer_of(event)
    if customer:
        apply_kept(desk, customer)
    applied: Applied
    try:
        with transaction(desk.engine) as conn:
            if deliveries.seen(conn, SERVICE, event["id"]) is not None:
                return Received("applied", duplicate=True)
            org_id = org_for_customer(conn, customer) if customer else None
            kept: str | None = None
            if customer is None:
                applied = Applied("ignored", reason="the event is about no customer")
            elif org_id is None:
                applied = Applied("unmatched", reason=f"no organization is linked to {customer}")
                kept = body.decode()
            else:
                applied = _apply(desk, conn, event, org_id)
                if applied.outcome == "failed":
                    kept = body.decode()
            deliveries.record(
                conn,
                SERVICE,
                event["id"],
                desk.now(),
                event_type=event["type"],
                outcome=applied.outcome,
                org_id=applied.org_id,
                detail={**applied.detail(), "customer": customer},
                body=kept,
            )
    except ConflictError:
        return Received("applied", duplicate=True)
    if applied.outcome in ("unmatched", "failed"):
        log.warning(
            "stripe event %s (%s) %s: %s", event["id"], event["type"], applied.outcome, applied.reason
        )
    _retriage(desk, applied, event["type"])
    return Received(applied.outcome, why=applied.reason or "")


def _retriage(desk: Desk, applied: Applied, what: str) -> None:
    if applied.outcome == "applied" and applied.changes and applied.org_id:
        try:
            desk.books_changed(applied.org_id, f"Stripe {what}")
        except Exception:  # the books are settled; a failed re-triage is retried by the next change
            log.exception("re-triage after %s failed for %s", what, applied.org_id)


def apply_kept(desk: Desk, customer: str | None = None) -> int:
    """Apply the kept events whose customer is linked now (all, or ``customer``'s); returns how many."""
    done = 0
    with transaction(desk.engine) as conn:
        rows = deliveries.kept(conn, SERVICE)
    for row_id, raw in rows:
        event = json.loads(raw)
        cus = customer_of(event)
        if cus is None or (customer is not None and cus != customer):
            continue
        with transaction(desk.engine) as conn:
            org_id = org_for_customer(conn, cus)
            if org_id is None:
                continue
            applied = _apply(desk, conn, event, org_id)
            if applied.outcome == "failed":
                continue
            deliveries.settle(
                conn,
                row_id,
                outcome=applied.outcome,
                org_id=org_id,
                detail={**applied.detail(), "customer": cus},
            )
        _retriage(desk, applied, str(event.get("type")))
        done += 1
    return done
