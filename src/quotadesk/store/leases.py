"""Budget leases: how many gateway processes share one organization's headroom without a
database round trip per request.

A lease is a slice of what an organization may still spend (its spendable balance, for prepaid
accounts, and its hard-limit headroom, for every account with a hard limit) reserved for one
gateway process (its ``holder``). The process admits requests from the slice in memory, with the
rulebook's ``decide``; the books see ``amount - settled`` of every open, unexpired lease as
reserved, exactly like an open hold (``payments.open_holds`` adds them up), so:

* ``take_lease`` runs with the organization locked (as ``admission.admit`` does) and never
  reserves more than ``room = headroom - every other open hold and lease``. The sum of what all
  holders may spend is therefore never above the balance or the hard limit.
* ``settle_events`` posts usage through ``metering.record_batch`` (exactly once per request id)
  and adds the cost to the lease's ``settled`` in the same transaction, so the reservation
  shrinks by what was spent: balance goes down, the reserve goes down, the sum stays put.
* A renewal never gives the holder less than its open lease still reserves: the holder kept
  admitting against that reserve while the renewal was on its way (it cannot know the new
  figure before the transaction is back), so a smaller figure would let another holder take
  money already promised. A lease shrinks by settling, by being returned (the holder does so
  when the organization is idle, ``gateway_lease_idle_seconds``) or by expiring.
* A lease must be renewed before ``expires_at``; a holder that dies stops renewing and its
  unsettled reserve stops counting at expiry (``expire_leases`` then marks it). A holder known to
  be dead (its journal lock is free, see ``gateway.journal``) is closed at once by
  ``close_holder``. Either way the row records which (``status`` and ``closed_reason``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, case, insert, select, update

from quotadesk.billing.grants import spendable_balance
from quotadesk.billing.limits import month_start
from quotadesk.billing.model import BillingMode, Organization
from quotadesk.billing.pricing import DEFAULT_TABLE, PriceTable
from quotadesk.store import ledger, metering
from quotadesk.store.admission import expire_holds, load_org_lock
from quotadesk.store.payments import open_holds
from quotadesk.store.schema import api_keys, gateway_leases
from quotadesk.store.snapshot import load_organization
from quotadesk.store.values import new_id

LEASE_TTL = timedelta(seconds=15)


@dataclass(frozen=True, slots=True)
class LeaseGrant:
    """What one lease transaction saw and reserved.

    ``org`` is the organization as the rulebook reads it, ``reserve`` what this holder may still
    spend (nano-dollars), ``others`` what other holds and leases reserve, ``month_to_date`` the
    month's settled spend, ``balance`` the spendable balance (None for invoiced accounts).
    """

    lease_id: str
    org: Organization
    reserve: int
    others: int
    month_to_date: int
    balance: int | None
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ClosedLease:
    """A lease closed by a sweep: which, whose, what was still reserved and why it closed."""

    lease_id: str
    org_id: str
    holder: str
    unused: int
    status: str
    reason: str


def key_org(conn: Connection, secret_hash: str) -> str | None:
    """The organization a key (by the hash of its secret) belongs to, or None."""
    value = conn.execute(select(api_keys.c.org_id).where(api_keys.c.secret_hash == secret_hash)).scalar()
    return None if value is None else str(value)


def _room(org: Organization, balance: int | None, mtd: int, others: int) -> int | None:
    """Headroom left for this holder: None when nothing bounds it (invoiced, no hard limit)."""
    rooms: list[int] = []
    if balance is not None:
        rooms.append(balance - others)
    hard = org.spend_limits.hard
    if hard is not None:
        rooms.append(hard - mtd - others)
    return min(rooms) if rooms else None


def take_lease(
    conn: Connection,
    now: datetime,
    org_id: str,
    holder: str,
    need: int,
    *,
    extra: int = 0,
    lease_id: str | None = None,
    ttl: timedelta = LEASE_TTL,
) -> LeaseGrant:
    """Reserve ``need`` nano-dollars and a slice more for ``holder`` (renewing ``lease_id``).

    Must run in a transaction; locks the organization. ``need`` is the whole reserve wanted
    (what is in flight here plus the next request), not an increment. The slice on top is at
    most ``extra`` and at most a quarter of the room left after ``need``, so near the end of a
    balance the slices shrink and several holders share what is left. Never more than the room,
    never less than what the holder's open lease still reserves (see below).
    """
    org = load_organization(conn, org_id, lock=True)
    mtd = ledger.balance(conn, ledger.spend_account(org_id, month_start(now)))
    held = open_holds(conn, org_id, now)
    row = None
    if lease_id is not None:
        row = conn.execute(select(gateway_leases).where(gateway_leases.c.id == lease_id)).first()
        if row is not None and row.status != "open":
            row = None  # closed by a sweep (we were thought dead): start a new one
    own = 0
    if row is not None and row.expires_at > now:
        own = max(0, int(row.amount) - int(row.settled))
    others = held - own
    balance = spendable_balance(org.credit_grants, now) if org.billing_mode == BillingMode.PREPAID else None
    room = _room(org, balance, mtd, others)
    slice_ = extra if room is None else min(extra, max(0, room - need) // 4)
    # Never below ``own``: the holder may have admitted up to its old reserve while this renewal
    # was on its way (it cannot know the new figure yet), and ``own`` is exactly what the books
    # still reserve for those requests. Shrinking it would hand that money to another holder
    # twice. A lease shrinks only by settling, by being returned or by expiring.
    want = max(need + slice_, own)
    reserve = want if room is None else max(0, min(room, want))
    expires = now + ttl
    if row is None:
        lease_id = new_id("lease")
        conn.execute(
            insert(gateway_leases).values(
                id=lease_id,
                org_id=org_id,
                holder=holder,
                amount=reserve,
                settled=0,
                created_at=now,
                renewed_at=now,
                expires_at=expires,
                status="open",
            )
        )
    else:
        lease_id = str(row.id)
        conn.execute(
            update(gateway_leases)
            .where(gateway_leases.c.id == lease_id)
            .values(amount=int(row.settled) + reserve, renewed_at=now, expires_at=expires)
        )
    return LeaseGrant(lease_id, org, reserve, others, mtd, balance, expires)


def settle_events(
    conn: Connection,
    now: datetime,
    events: Sequence[metering.UsageEvent],
    by_lease: Mapping[str, int],
    prices: PriceTable = DEFAULT_TABLE,
) -> metering.BatchResult:
    """Post ``events`` exactly once and count ``by_lease`` costs as settled on their leases.

    Runs in the caller's transaction, so the usage, the ledger postings and the lease accounting
    commit together (a batch is all there or not at all).
    """
    result = metering.record_batch(conn, events, now, prices, lock_org=load_org_lock)
    if result.duplicates:
        return result  # a replay: its costs were counted on the lease when first posted
    for lid, cost in by_lease.items():
        if not cost:
            continue
        total = gateway_leases.c.settled + cost
        conn.execute(
            update(gateway_leases)
            .where(gateway_leases.c.id == lid)
            .values(
                settled=total,
                amount=case((gateway_leases.c.amount < total, total), else_=gateway_leases.c.amount),
            )
        )
    return result


def _close(conn: Connection, now: datetime, rows: Sequence[object], status: str, reason: str) -> list[ClosedLease]:
    out: list[ClosedLease] = []
    for row in rows:
        r = row._mapping  # type: ignore[attr-defined]
        conn.execute(
            update(gateway_leases)
            .where(gateway_leases.c.id == r["id"], gateway_leases.c.status == "open")
            .values(status=status, closed_at=now, closed_reason=reason)
        )
        unused = max(0, int(r["amount"]) - int(r["settled"]))
        out.append(ClosedLease(str(r["id"]), str(r["org_id"]), str(r["holder"]), unused, status, reason))
    return out


def return_lease(conn: Connection, now: datetime, lease_id: str, reason: str = "returned by its holder") -> None:
    """Give a lease back (idle, or the holder is stopping): its unused reserve is free again."""
    row = conn.execute(select(gateway_leases).where(gateway_leases.c.id == lease_id)).first()
    if row is not None:
        load_org_lock(conn, row.org_id)
        _close(conn, now, [row], "returned", reason)


def close_holder(
    conn: Connection, now: datetime, holder: str, reason: str, *, status: str = "released"
) -> list[ClosedLease]:
    """Close every open lease of a holder that is gone or stopping (its settles are posted):
    ``released`` by another process that found it dead, ``returned`` by the holder itself."""
    rows = conn.execute(
        select(gateway_leases).where(gateway_leases.c.holder == holder, gateway_leases.c.status == "open")
    ).all()
    return _close(conn, now, rows, status, reason)


def expire_leases(conn: Connection, now: datetime) -> list[ClosedLease]:
    """Mark leases past their expiry (their holder stopped renewing) and expire old request holds."""
    rows = conn.execute(
        select(gateway_leases).where(gateway_leases.c.status == "open", gateway_leases.c.expires_at <= now)
    ).all()
    closed = _close(conn, now, rows, "expired", "holder stopped renewing; unsettled reserve released")
    expire_holds(conn, now)
    return closed


def open_leases(conn: Connection, org_id: str | None = None) -> list[dict[str, object]]:
    """Open leases (all, or one organization's), for metrics and tests."""
    q = select(gateway_leases).where(gateway_leases.c.status == "open")
    if org_id is not None:
        q = q.where(gateway_leases.c.org_id == org_id)
    return [dict(r._mapping) for r in conn.execute(q)]
