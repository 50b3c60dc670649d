"""Admission against the store: ``admit`` reserves the estimated cost as a hold, ``settle``
posts the real cost and releases the rest.

Why holds: checking the balance and debiting it are two steps, with the request running in
between. Without a reservation, 32 concurrent requests each see "$1.00 left, mine costs
$0.10" and all go through. Here the check and the reservation happen in one transaction
while the organization is locked (``BEGIN IMMEDIATE`` on SQLite, ``SELECT … FOR UPDATE`` on
PostgreSQL), and the rulebook's ``decide`` subtracts what open holds already reserve
(``AdmissionRequest.held``). So the sum of admitted estimates never exceeds the balance.

Holds expire (``HOLD_TTL``): a gateway that died mid-request must not freeze credit for
ever. An expired hold no longer counts; settling it later still posts the usage, because
the request did happen and metering never drops an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, func, insert, select, update

from quotadesk.billing.decision import Deny, Rule
from quotadesk.billing.keys import hash_secret
from quotadesk.billing.limits import month_start
from quotadesk.billing.model import NoticeKind, Organization
from quotadesk.billing.policy import RATE_WINDOW_S, AdmissionRequest, decide
from quotadesk.billing.pricing import DEFAULT_TABLE, PriceTable
from quotadesk.billing.tiers import DEFAULT_TIERS, TierTable
from quotadesk.errors import InputError, NotFoundError
from quotadesk.store import ledger, metering
from quotadesk.store.db import transaction
from quotadesk.store.errors import ConflictError
from quotadesk.store.payments import open_holds
from quotadesk.store.schema import api_keys, holds, usage_events
from quotadesk.store.snapshot import load_organization, org_row
from quotadesk.store.values import add_notice, aware, new_id

HOLD_TTL = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Hold:
    """Credit reserved for one admitted request until it is settled, released or expires."""

    id: str
    org_id: str
    key_id: str
    model: str
    amount: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Admitted:
    """An allowed request: its hold and the notices the rulebook said were due."""

    hold: Hold
    notices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Settled:
    """A settled hold: the event's request id, its real cost and what was held for it."""

    hold_id: str
    request_id: str
    cost: int
    held: int
    replayed: bool = False


def _recent(conn: Connection, org_id: str, now: datetime) -> tuple[int, int]:
    """Requests and tokens of the sliding rate window before ``now`` (in-flight holds count
    as requests: they were admitted inside the window)."""
    since = now - timedelta(seconds=RATE_WINDOW_S)
    reqs, toks = conn.execute(
        select(
            func.coalesce(func.sum(usage_events.c.requests), 0),
            func.coalesce(
                func.sum(
                    usage_events.c.input_tokens + usage_events.c.output_tokens + usage_events.c.cached_tokens
                ),
                0,
            ),
        ).where(usage_events.c.org_id == org_id, usage_events.c.ts > since, usage_events.c.ts <= now)
    ).one()
    flying = conn.execute(
        select(func.count()).where(
            holds.c.org_id == org_id,
            holds.c.status == "open",
            holds.c.created_at > since,
            holds.c.created_at <= now,
        )
    ).scalar()
    return int(reqs) + int(flying or 0), int(toks)


def deny_notice(conn: Connection, org_id: str, deny: Deny, now: datetime) -> None:
    """The notice a refusal is due (hard limit reached, credits exhausted), once per period."""
    if deny.rule == Rule.HARD_LIMIT:
        add_notice(
            conn, org_id, NoticeKind.HARD_LIMIT_REACHED, now, dedupe_key=f"hard_limit:{org_id}:{now:%Y-%m}"
        )
    elif deny.rule == Rule.CREDITS_EXHAUSTED:
        key = f"credits_exhausted:{org_id}:{now:%Y-%m-%d}"
        add_notice(conn, org_id, NoticeKind.CREDITS_EXHAUSTED, now, dedupe_key=key, **deny.limit)


def admit(
    engine: Engine,
    now: datetime,
    *,
    secret: str,
    model: str,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cached_tokens: int = 0,
    prices: PriceTable = DEFAULT_TABLE,
    tiers: TierTable = DEFAULT_TIERS,
    ttl: timedelta = HOLD_TTL,
) -> Admitted | Deny:
    """Decide a request presented with API key ``secret``; on Allow, reserve its estimated cost."""
    now = aware(now)
    if not isinstance(secret, str) or not secret:
        raise InputError("expected the API key presented with the request", "secret")
    secret_hash = hash_secret(secret)
    with transaction(engine) as conn:
        key = conn.execute(
            select(api_keys.c.id, api_keys.c.org_id).where(api_keys.c.secret_hash == secret_hash)
        ).first()
        org_id = key.org_id if key is not None else None
        org = load_organization(conn, org_id, lock=True) if org_id else Organization(id="")
        mtd = ledger.balance(conn, ledger.spend_account(org.id, month_start(now))) if org_id else 0
        held = open_holds(conn, org.id, now) if org_id else 0
        reqs, toks = _recent(conn, org.id, now) if org_id else (0, 0)
        try:
            request = AdmissionRequest(
                model=model,
                secret_hash=secret_hash,
                estimated_input_tokens=input_tokens,
                estimated_output_tokens=output_tokens,
                estimated_cached_tokens=cached_tokens,
                requests_in_last_minute=reqs,
                tokens_in_last_minute=toks,
                month_to_date=mtd,
                held=held,
            )
        except ValueError as exc:
            field, _, message = str(exc).partition(": ")
            raise InputError(message or str(exc), field if message else None) from exc
        decision = decide(org, request, now, prices, tiers)
        if isinstance(decision, Deny):
            if org_id:
                deny_notice(conn, org.id, decision, now)
            return decision
        assert key is not None
        hold = Hold(new_id("hold"), org.id, key.id, model, decision.hold, now + ttl)
        conn.execute(
            insert(holds).values(
                id=hold.id,
                org_id=hold.org_id,
                key_id=hold.key_id,
                model=hold.model,
                amount=hold.amount,
                created_at=now,
                expires_at=hold.expires_at,
                status="open",
            )
        )
        conn.execute(update(api_keys).where(api_keys.c.id == key.id).values(last_used_at=now))
        for kind in decision.notices:
            add_notice(conn, org.id, kind, now, dedupe_key=f"{kind}:{org.id}:{now:%Y-%m}")
        return Admitted(hold, decision.notices)


def settle(
    engine: Engine,
    now: datetime,
    hold_id: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int = 0,
    request_id: str | None = None,
    status: int = 200,
    fingerprint: str | None = None,
    ip: str | None = None,
    prices: PriceTable = DEFAULT_TABLE,
) -> Settled:
    """Post the request's real usage and close its hold (idempotent per request id)."""
    now = aware(now)
    with transaction(engine) as conn:
        row = conn.execute(select(holds).where(holds.c.id == hold_id)).first()
        if row is None:
            raise NotFoundError(f"no hold {hold_id!r}", "hold_id")
        load_org_lock(conn, row.org_id)
        row = conn.execute(select(holds).where(holds.c.id == hold_id)).one()
        rid = request_id or hold_id
        if row.status == "settled":
            if row.request_id != rid:
                raise ConflictError(
                    f"hold {hold_id} was settled for request {row.request_id!r}", "request_id"
                )
            cost = conn.execute(
                select(usage_events.c.cost).where(usage_events.c.request_id == rid)
            ).scalar_one()
            return Settled(hold_id, rid, int(cost), int(row.amount), replayed=True)
        if row.status == "released":
            raise ConflictError(
                f"hold {hold_id} was released; record the usage as an event instead", "hold_id"
            )
        event = metering.UsageEvent(
            request_id=rid,
            org_id=row.org_id,
            model=row.model,
            ts=now,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_tokens=cached_tokens,
            key_id=row.key_id,
            status=status,
            fingerprint=fingerprint,
            ip=ip,
            hold_id=hold_id,
        )
        result = metering.record_batch(conn, [event], now, prices)
        conn.execute(
            update(holds).where(holds.c.id == hold_id).values(status="settled", closed_at=now, request_id=rid)
        )
        return Settled(hold_id, rid, result.cost, int(row.amount), replayed=result.posted == 0)


def release(engine: Engine, now: datetime, hold_id: str) -> None:
    """Give a hold back unused (the request failed before costing anything)."""
    now = aware(now)
    with transaction(engine) as conn:
        row = conn.execute(select(holds.c.org_id, holds.c.status).where(holds.c.id == hold_id)).first()
        if row is None:
            raise NotFoundError(f"no hold {hold_id!r}", "hold_id")
        load_org_lock(conn, row.org_id)
        if row.status == "open":
            conn.execute(update(holds).where(holds.c.id == hold_id).values(status="released", closed_at=now))


def expire_holds(conn: Connection, now: datetime) -> int:
    """Mark open holds past their expiry as expired (they stopped counting already)."""
    result = conn.execute(
        update(holds)
        .where(holds.c.status == "open", holds.c.expires_at <= now)
        .values(status="expired", closed_at=now)
    )
    return int(result.rowcount or 0)


def load_org_lock(conn: Connection, org_id: str) -> None:
    """Take the organization's lock (``FOR UPDATE``; SQLite's transaction already holds it)."""
    org_row(conn, org_id, lock=True)
