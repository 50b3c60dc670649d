"""The delivery log: every webhook delivery that passed its signature, once per delivery id.

A service retries a delivery until it sees a 2xx, and Stripe documents that it may deliver an
event more than once; so the first thing a verified delivery does is claim its id here, in
the same transaction as its effect on the books. A second delivery of the same id finds the
row and changes nothing (``Duplicate``), and two copies racing each other meet the unique
index: one commits, the other rolls back whole.

Outcomes: ``applied`` (it changed the books or a case), ``ignored`` (a type we do not act on),
``unmatched`` (a Stripe event for a customer no organization is linked to: the raw event is
kept, listed by ``unmatched`` and applied by ``apply_kept`` once the customer is linked) and
``failed`` (it could not be applied; kept with the reason).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from quotadesk.store.db import transaction
from quotadesk.store.schema import webhook_deliveries

OUTCOMES = ("applied", "ignored", "unmatched", "failed")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One row of the log, as the desk lists it."""

    id: int
    service: str
    delivery_id: str
    received_at: datetime
    event_type: str
    outcome: str
    org_id: str | None
    case_id: str | None
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "service": self.service,
            "delivery_id": self.delivery_id,
            "received_at": self.received_at.isoformat().replace("+00:00", "Z"),
            "event_type": self.event_type,
            "outcome": self.outcome,
            "org_id": self.org_id,
            "case_id": self.case_id,
            "detail": self.detail,
        }


def seen(conn: Connection, service: str, delivery_id: str) -> Delivery | None:
    row = conn.execute(
        select(webhook_deliveries).where(
            webhook_deliveries.c.service == service, webhook_deliveries.c.delivery_id == delivery_id
        )
    ).first()
    return None if row is None else _delivery(row._mapping)


def record(
    conn: Connection,
    service: str,
    delivery_id: str,
    at: datetime,
    *,
    event_type: str,
    outcome: str,
    org_id: str | None = None,
    case_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
    body: str | None = None,
) -> int:
    """Claim ``delivery_id`` inside the caller's transaction (a second claim raises ``ConflictError``)."""
    assert outcome in OUTCOMES, outcome
    result = conn.execute(
        insert(webhook_deliveries).values(
            service=service,
            delivery_id=delivery_id,
            received_at=at,
            event_type=event_type[:100],
            outcome=outcome,
            org_id=org_id,
            case_id=case_id,
            detail=json.dumps(dict(detail or {}), sort_keys=True, default=str),
            body=body,
        )
    )
    key = result.inserted_primary_key
    return int(key[0]) if key else 0


def settle(
    conn: Connection, row_id: int, *, outcome: str, org_id: str | None, detail: Mapping[str, Any]
) -> None:
    """A kept delivery was applied later (its customer got linked): it is no longer kept."""
    conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == row_id)
        .values(
            outcome=outcome,
            org_id=org_id,
            detail=json.dumps(dict(detail), sort_keys=True, default=str),
            body=None,
        )
    )


def _delivery(m: Any) -> Delivery:
    return Delivery(
        id=int(m["id"]),
        service=m["service"],
        delivery_id=m["delivery_id"],
        received_at=m["received_at"],
        event_type=m["event_type"],
        outcome=m["outcome"],
        org_id=m["org_id"],
        case_id=m["case_id"],
        detail=json.loads(m["detail"] or "{}"),
    )


def listing(
    engine: Engine, *, service: str | None = None, outcome: str | None = None, limit: int = 100
) -> list[Delivery]:
    """The newest deliveries first, optionally of one service and outcome."""
    stmt = select(webhook_deliveries).order_by(webhook_deliveries.c.id.desc()).limit(limit)
    if service is not None:
        stmt = stmt.where(webhook_deliveries.c.service == service)
    if outcome is not None:
        stmt = stmt.where(webhook_deliveries.c.outcome == outcome)
    with transaction(engine) as conn:
        return [_delivery(r._mapping) for r in conn.execute(stmt)]


def kept(conn: Connection, service: str, limit: int = 1000) -> list[tuple[int, str]]:
    """(row id, raw body) of the unmatched deliveries still kept, oldest first."""
    rows = conn.execute(
        select(webhook_deliveries.c.id, webhook_deliveries.c.body)
        .where(
            webhook_deliveries.c.service == service,
            webhook_deliveries.c.outcome == "unmatched",
            webhook_deliveries.c.body.is_not(None),
        )
        .order_by(webhook_deliveries.c.id)
        .limit(limit)
    ).all()
    return [(int(i), str(b)) for i, b in rows]
