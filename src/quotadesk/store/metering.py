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
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, String, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY

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
_PG_ID_CHUNK = 10_000
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


def _fast_ok(e: UsageEvent) -> bool:
    """The common, well-formed event, checked with plain type tests (the hot path of a batch)."""
    rid, org, model = e.request_id, e.org_id, e.model
    return (
        type(e) is UsageEvent
        and type(rid) is str
        and 0 < len(rid) <= 200
        and not rid.isspace()
        and type(org) is str
        and 0 < len(org) <= 64
        and not org.isspace()
        and type(model) is str
        and 0 < len(model) <= 200
        and not model.isspace()
        and type(e.ts) is datetime
        and e.ts.tzinfo is UTC
        and type(e.input_tokens) is int
        and e.input_tokens >= 0
        and type(e.output_tokens) is int
        and e.output_tokens >= 0
        and type(e.cached_tokens) is int
        and e.cached_tokens >= 0
        and type(e.requests) is int
        and e.requests >= 1
        and type(e.status) is int
        and e.status >= 100
    )


def validate(event: UsageEvent, i: int) -> None:
    """Refuse a malformed event, naming ``usage[i].<field>``."""
    if _fast_ok(event):
        return
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
    postgres = conn.dialect.name == "postgresql"
    step = _PG_ID_CHUNK if postgres else _ID_CHUNK
    for start in range(0, len(ids), step):
        chunk = list(ids[start : start + step])
        # PostgreSQL: ONE array parameter, which the planner can hash or look up in the primary
        # key; an IN list of 500 separate parameters is compared element by element per row.
        cond = (
            usage_events.c.request_id == any_(bindparam("ids", chunk, type_=ARRAY(String)))
            if postgres
            else usage_events.c.request_id.in_(chunk)
        )
        for row in conn.execute(select(*cols).where(cond)):
            found[row[0]] = tuple(row[1:])
    return found


_set_remaining = (
    update(credit_grants).where(credit_grants.c.id == bindparam("gid")).values(remaining=bindparam("left"))
)


_EVENT_COLUMNS = (
    "request_id",
    "org_id",
    "key_id",
    "model",
    "ts",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "requests",
    "status",
    "cost",
    "fingerprint",
    "ip",
    "hold_id",
    "txn_id",
)


def _sqlite_ts(ts: datetime) -> str:
    """The text SQLAlchemy's SQLite DATETIME stores (naive UTC), so rows read back alike."""
    u = ts if ts.tzinfo is UTC else ts.astimezone(UTC)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d} {u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}"


def _insert_events(conn: Connection, items: list[tuple[UsageEvent, int]], txn_id: int | None) -> None:
    """Insert event rows with the driver's executemany: the one hot loop of metering, kept
    free of per-row SQL compilation. Values are the same ones Core would bind."""
    sqlite_db = conn.dialect.name == "sqlite"
    mark = "?" if sqlite_db else "%s"
    sql = (
        f"INSERT INTO usage_events ({', '.join(_EVENT_COLUMNS)}) "
        f"VALUES ({', '.join(mark for _ in _EVENT_COLUMNS)})"
    )
    rows = [
        (
            e.request_id,
            e.org_id,
            e.key_id,
            e.model,
            _sqlite_ts(e.ts) if sqlite_db else e.ts,
            e.input_tokens,
            e.output_tokens,
            e.cached_tokens,
            e.requests,
            e.status,
            cost,
            e.fingerprint,
            e.ip,
            e.hold_id,
            txn_id if cost else None,
        )
        for e, cost in items
    ]
    conn.exec_driver_sql(sql, rows)


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
        utc_months: dict[tuple[int, int], datetime] = {}
        for event, cost in items:
            ts = event.ts
            if ts.tzinfo is UTC:  # the common case: no need to ask month_start per event
                m = utc_months.get((ts.year, ts.month))
                if m is None:
                    m = utc_months[(ts.year, ts.month)] = month_start(ts)
            else:
                m = month_start(ts)
            by_month[m] += cost
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
    _insert_events(conn, items, txn_id)
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
