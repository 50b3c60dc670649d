"""Metering: usage events posted exactly once, with exact cost and exact balances.

A batch is validated and costed completely before anything is written, so bad input (an
unknown model, a negative token count, a request id seen before with different content)
leaves the store unchanged. Then, per organization, in the caller's transaction and with
the organization locked:

1. prepaid: the batch's cost is spent from the grants by ``billing.grants.consume``
   (soonest expiry first); what no grant covers goes to ``arrears:<org>`` (usage is metered
   after the fact, so it cannot be refused any more). Invoiced: each month's cost goes to
   ``unbilled:<org>:<month>``, which the month's invoice clears;
2. ONE ledger transaction records it: each grant paid ``-x`` (or the unbilled/arrears
   accounts), and ``spend:<org>:<month>`` ``+cost`` per calendar month (UTC) of the events;
3. every event row is inserted with that transaction's id and its own cost.

A request id already in the books with the same content is a replay and is skipped; the
primary key on ``usage_events.request_id`` makes a double post impossible even if two
writers raced past the check. Because events and postings commit together, a crash
leaves each batch either fully posted or absent, and replaying it posts exactly the
missing events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from quotadesk.billing.grants import consume
from quotadesk.billing.limits import month_start
from quotadesk.billing.model import BillingMode
from quotadesk.billing.pricing import DEFAULT_TABLE, Price, PriceTable, UnknownModelError
from quotadesk.errors import InputError, NotFoundError
from quotadesk.store import ledger
from quotadesk.store.errors import ConflictError
from quotadesk.store.schema import credit_grants, organizations, usage_events
from quotadesk.store.snapshot import grant_record

_ID_CHUNK = 500
_CONTENT = (
    "org_id",
    "key_id",
    "model",
    "ts",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "requests",
    "status",
)


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One metered request (or a bucket of ``requests`` identical ones).

    ``request_id`` makes it idempotent; ``input_tokens`` are uncached input tokens and
    ``cached_tokens`` the cached ones (the pricing convention). ``hold_id`` links the event to
    the admission hold it settles, when there was one.
    """

    request_id: str
    org_id: str
    model: str
    ts: datetime
    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0
    key_id: str | None = None
    requests: int = 1
    status: int = 200
    fingerprint: str | None = None
    ip: str | None = None
    hold_id: str | None = None


@dataclass(frozen=True, slots=True)
class OrgPosting:
    """What one organization's share of a batch did: events, cost, the ledger transaction, and
    the part no grant covered (``shortfall``, nano-dollars)."""

    org_id: str
    events: int
    cost: int
    txn_id: int | None
    shortfall: int


@dataclass(frozen=True, slots=True)
class BatchResult:
    """``posted`` new events, ``duplicates`` replays skipped, ``cost`` of the new ones."""

    posted: int
    duplicates: int
    cost: int
    by_org: tuple[OrgPosting, ...]


def _int_field(value: object, where: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"expected an integer, got {type(value).__name__}", where)
    if value < minimum:
        raise InputError(f"must be at least {minimum}, got {value}", where)


def validate(event: UsageEvent, i: int) -> None:
    where = f"usage[{i}]"
    if not isinstance(event, UsageEvent):
        raise InputError(f"expected a UsageEvent, got {type(event).__name__}", where)
    for name, limit in (("request_id", 200), ("org_id", 64), ("model", 200)):
        value = getattr(event, name)
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise InputError(f"expected a non-empty string of at most {limit} characters", f"{where}.{name}")
    if not isinstance(event.ts, datetime) or event.ts.tzinfo is None or event.ts.utcoffset() is None:
        raise InputError("expected a timezone-aware datetime", f"{where}.ts")
    for name in ("input_tokens", "output_tokens", "cached_tokens"):
        _int_field(getattr(event, name), f"{where}.{name}", 0)
    _int_field(event.requests, f"{where}.requests", 1)
    _int_field(event.status, f"{where}.status", 100)


def _content(e: UsageEvent | Mapping[str, Any]) -> tuple[Any, ...]:
    get = e.get if isinstance(e, Mapping) else lambda name: getattr(e, name)
    return tuple(get(name) for name in _CONTENT)


def _differs(i: int, event: UsageEvent, seen: tuple[Any, ...]) -> ConflictError:
    mine = _content(event)
    for name, a, b in zip(_CONTENT, mine, seen, strict=True):
        if a != b:
            return ConflictError(
                f"request id {event.request_id!r} was already recorded with {name}={b!r}, now {a!r}",
                f"usage[{i}].{name}",
            )
    raise AssertionError("contents differ but no field does")  # pragma: no cover


def cost_events(events: Sequence[UsageEvent], prices: PriceTable) -> list[int]:
    """Validate and cost every event (nothing written); the first problem names its field."""
    cache: dict[str, Price] = {}
    costs: list[int] = []
    for i, event in enumerate(events):
        validate(event, i)
        price = cache.get(event.model)
        if price is None:
            try:
                price = cache[event.model] = prices.get(event.model)
            except UnknownModelError as exc:
                raise InputError(
                    f"no price for {event.model!r}; refusing to cost it at $0", f"usage[{i}].model"
                ) from exc
        costs.append(price.cost_nanos(event.input_tokens, event.output_tokens, event.cached_tokens))
    return costs


def _existing(conn: Connection, ids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    found: dict[str, tuple[Any, ...]] = {}
    cols = [usage_events.c.request_id, *(usage_events.c[n] for n in _CONTENT)]
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        for row in conn.execute(select(*cols).where(usage_events.c.request_id.in_(chunk))):
            found[row[0]] = tuple(row[1:])
    return found


_set_remaining = (
    update(credit_grants).where(credit_grants.c.id == bindparam("gid")).values(remaining=bindparam("left"))
)


def _post_org(
    conn: Connection, org_id: str, items: list[tuple[UsageEvent, int]], now: datetime
) -> OrgPosting:
    """Post one organization's new events (org row already locked by the caller)."""
    mode = conn.execute(select(organizations.c.billing_mode).where(organizations.c.id == org_id)).scalar()
    if mode is None:
        raise NotFoundError(f"no organization {org_id!r}", "org_id")
    total = sum(cost for _, cost in items)
    txn_id: int | None = None
    shortfall = 0
    if total:
        by_month: dict[datetime, int] = defaultdict(int)
        for event, cost in items:
            by_month[month_start(event.ts)] += cost
        months = sorted((m, c) for m, c in by_month.items() if c)
        postings = [ledger.Posting(ledger.spend_account(org_id, m), c) for m, c in months]
        consumed: tuple[tuple[str, int], ...] = ()
        left: dict[str, int] = {}
        if mode == BillingMode.INVOICED:
            # invoiced accounts pay by invoice: each month's usage waits on its unbilled account
            postings += [ledger.Posting(ledger.unbilled_account(org_id, m), -c) for m, c in months]
        else:
            live = conn.execute(
                select(credit_grants).where(credit_grants.c.org_id == org_id, credit_grants.c.remaining > 0)
            )
            spent = consume(tuple(grant_record(r._mapping) for r in live), total, now)
            shortfall, consumed = spent.shortfall, spent.consumed
            left = {g.id: g.remaining for g in spent.grants}
            postings += [ledger.Posting(ledger.grant_account(gid), -paid) for gid, paid in consumed]
            if shortfall:
                postings.append(ledger.Posting(ledger.arrears_account(org_id), -shortfall))
        txn_id = ledger.post(
            conn, kind="usage", at=now, postings=postings, org_id=org_id, memo=f"{len(items)} usage events"
        )
        if consumed:
            conn.execute(_set_remaining, [{"gid": gid, "left": left[gid]} for gid, _ in consumed])
    rows = [
        {
            "request_id": e.request_id,
            "org_id": e.org_id,
            "key_id": e.key_id,
            "model": e.model,
            "ts": e.ts,
            "input_tokens": e.input_tokens,
            "output_tokens": e.output_tokens,
            "cached_tokens": e.cached_tokens,
            "requests": e.requests,
            "status": e.status,
            "cost": cost,
            "fingerprint": e.fingerprint,
            "ip": e.ip,
            "hold_id": e.hold_id,
            "txn_id": txn_id if cost else None,
        }
        for e, cost in items
    ]
    conn.execute(insert(usage_events), rows)
    return OrgPosting(org_id, len(items), total, txn_id, shortfall)


def record_batch(
    conn: Connection,
    events: Iterable[UsageEvent],
    now: datetime,
    prices: PriceTable = DEFAULT_TABLE,
    *,
    lock_org: Any = None,
) -> BatchResult:
    """Post every event not yet in the books; must run inside ``db.atomic``.

    ``lock_org(conn, org_id)`` is called for each organization, in sorted order (so two
    batches never deadlock), before its share is posted.
    """
    batch = list(events)
    costs = cost_events(batch, prices)
    first: dict[str, int] = {}
    fresh: list[int] = []
    for i, event in enumerate(batch):
        j = first.get(event.request_id)
        if j is None:
            first[event.request_id] = i
            fresh.append(i)
        elif _content(batch[j]) != _content(event):
            raise _differs(i, event, _content(batch[j]))
    seen = _existing(conn, [batch[i].request_id for i in fresh])
    todo: dict[str, list[tuple[UsageEvent, int]]] = defaultdict(list)
    for i in fresh:
        event = batch[i]
        old = seen.get(event.request_id)
        if old is None:
            todo[event.org_id].append((event, costs[i]))
        elif old != _content(event):
            raise _differs(i, event, old)
    known = set(
        conn.execute(select(organizations.c.id).where(organizations.c.id.in_(sorted(todo)))).scalars()
    )
    for i in fresh:
        if batch[i].org_id not in known and batch[i].org_id in todo:
            raise NotFoundError(f"no organization {batch[i].org_id!r}", f"usage[{i}].org_id")
    results: list[OrgPosting] = []
    for org_id in sorted(todo):
        if lock_org is not None:
            lock_org(conn, org_id)
        results.append(_post_org(conn, org_id, todo[org_id], now))
    posted = sum(r.events for r in results)
    return BatchResult(posted, len(batch) - posted, sum(r.cost for r in results), tuple(results))
