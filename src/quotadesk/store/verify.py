"""``quotadesk books verify``: recompute everything the books cache and report any drift.

The ledger is the truth; ``ledger_accounts.balance`` and ``credit_grants.remaining`` are
caches of sums over it. Verify re-derives them and also checks the invariants that make the
ledger a ledger. Findings are values, not exceptions: one run lists every problem.

Checks: every transaction has at least two postings that sum to zero; every cached account
balance equals the sum of its postings; every grant's ``remaining`` equals its account's
balance; every usage transaction's spend postings equal the cost of its events; every event
that cost something is attached to a transaction; every settled hold has its event; no
payment is still ``pending`` more than ``billing.recharge.PENDING_GRACE`` after it began
(``stale_pending_payment``: a crash nobody recovered; the next ``books tick`` finishes it).
"Now" for that last check is the ``now`` given (``books verify --now``, default the wall
clock), else the newest time the books recorded, so the library never reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, and_, func, literal, or_, select

from quotadesk.billing.recharge import PENDING_GRACE, stale_pending
from quotadesk.store.db import transaction
from quotadesk.store.schema import (
    audit_log,
    credit_grants,
    holds,
    ledger_accounts,
    ledger_postings,
    ledger_transactions,
    payments,
    usage_events,
)
from quotadesk.store.snapshot import payment_record
from quotadesk.store.values import aware

_LIMIT = 50


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: a stable ``code``, a sentence, and the figures behind it (nano-dollars)."""

    code: str
    message: str
    figures: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """All findings (empty when the books are consistent) and how much was checked."""

    findings: tuple[Finding, ...]
    counts: dict[str, int]

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "counts": self.counts,
            "findings": [{"code": f.code, "message": f.message, "figures": f.figures} for f in self.findings],
        }


def _latest(conn: Connection) -> datetime | None:
    """The newest time the books recorded (audit log, payments): their own idea of "now"."""
    times = [conn.execute(select(func.max(c))).scalar() for c in (audit_log.c.at, payments.c.at)]
    known = [aware(t) for t in times if t is not None]
    return max(known) if known else None


def _stale_payments(conn: Connection, now: datetime | None) -> list[Finding]:
    rows = conn.execute(select(payments).where(payments.c.status == "pending")).all()
    if not rows:
        return []
    reference = aware(now) if now is not None else _latest(conn)
    if reference is None:
        return []
    stale = stale_pending([payment_record(r._mapping) for r in rows], reference)
    return [
        Finding(
            "stale_pending_payment",
            f"payment {p.id} ({p.purpose}) has been pending since {p.at.isoformat()}, more than "
            f"{PENDING_GRACE} before {reference.isoformat()}: a crash left it; `books tick` finishes it",
            {"payment": p.id, "since": p.at.isoformat(), "amount": str(p.amount)},
        )
        for p in stale[:_LIMIT]
    ]


def verify(engine: Engine, now: datetime | None = None) -> VerifyReport:
    """Check the books at ``engine``; read-only. ``now`` dates the stale-pending check."""
    found: list[Finding] = []
    p, a, t, e = ledger_postings, ledger_accounts, ledger_transactions, usage_events
    with transaction(engine) as conn:
        counts = {
            "transactions": int(conn.execute(select(func.count()).select_from(t)).scalar_one()),
            "postings": int(conn.execute(select(func.count()).select_from(p)).scalar_one()),
            "accounts": int(conn.execute(select(func.count()).select_from(a)).scalar_one()),
            "usage_events": int(conn.execute(select(func.count()).select_from(e)).scalar_one()),
            "grants": int(conn.execute(select(func.count()).select_from(credit_grants)).scalar_one()),
        }
        sums = (
            select(p.c.txn_id, func.sum(p.c.amount).label("total"), func.count().label("n"))
            .group_by(p.c.txn_id)
            .having(or_(func.sum(p.c.amount) != 0, func.count() < 2))
            .limit(_LIMIT)
        )
        for txn_id, total, n in conn.execute(sums):
            found.append(
                Finding(
                    "unbalanced_transaction",
                    f"transaction {txn_id} has {n} postings summing to {total}, not zero",
                    {"txn_id": str(txn_id), "sum": str(total), "postings": str(n)},
                )
            )
        empty = select(t.c.id).outerjoin(p, p.c.txn_id == t.c.id).where(p.c.id.is_(None)).limit(_LIMIT)
        for (txn_id,) in conn.execute(empty):
            found.append(
                Finding("empty_transaction", f"transaction {txn_id} has no postings", {"txn_id": str(txn_id)})
            )
        derived = func.coalesce(func.sum(p.c.amount), 0)
        drift = (
            select(a.c.name, a.c.balance, derived.label("derived"))
            .outerjoin(p, p.c.account == a.c.name)
            .group_by(a.c.name, a.c.balance)
            .having(a.c.balance != derived)
            .limit(_LIMIT)
        )
        for name, cached, truth in conn.execute(drift):
            found.append(
                Finding(
                    "balance_drift",
                    f"account {name}: cached balance {cached} but postings sum to {truth}",
                    {"account": name, "cached": str(cached), "derived": str(truth)},
                )
            )
        grant_acct = literal("grant:") + credit_grants.c.id
        grants = (
            select(credit_grants.c.id, credit_grants.c.remaining, func.coalesce(a.c.balance, 0))
            .outerjoin(a, a.c.name == grant_acct)
            .where(credit_grants.c.remaining != func.coalesce(a.c.balance, 0))
            .limit(_LIMIT)
        )
        for gid, remaining, bal in conn.execute(grants):
            found.append(
                Finding(
                    "grant_drift",
                    f"grant {gid}: remaining {remaining} but its ledger account holds {bal}",
                    {"grant": gid, "remaining": str(remaining), "ledger": str(bal)},
                )
            )
        event_cost = (
            select(e.c.txn_id, func.sum(e.c.cost).label("cost"))
            .where(e.c.txn_id.is_not(None))
            .group_by(e.c.txn_id)
        ).subquery()
        spend = (
            select(p.c.txn_id, func.sum(p.c.amount).label("spend"))
            .where(p.c.account.like("spend:%"))
            .group_by(p.c.txn_id)
        ).subquery()
        usage = (
            select(t.c.id, func.coalesce(event_cost.c.cost, 0), func.coalesce(spend.c.spend, 0))
            .outerjoin(event_cost, event_cost.c.txn_id == t.c.id)
            .outerjoin(spend, spend.c.txn_id == t.c.id)
            .where(
                t.c.kind == "usage",
                func.coalesce(event_cost.c.cost, 0) != func.coalesce(spend.c.spend, 0),
            )
            .limit(_LIMIT)
        )
        for txn_id, cost, spent in conn.execute(usage):
            found.append(
                Finding(
                    "usage_mismatch",
                    f"usage transaction {txn_id}: events cost {cost} but it posts {spent} of spend",
                    {"txn_id": str(txn_id), "events": str(cost), "spend": str(spent)},
                )
            )
        orphans = select(e.c.request_id).where(and_(e.c.cost > 0, e.c.txn_id.is_(None))).limit(_LIMIT)
        for (rid,) in conn.execute(orphans):
            found.append(
                Finding("unposted_event", f"event {rid} has a cost but no transaction", {"request_id": rid})
            )
        lost = (
            select(holds.c.id, holds.c.request_id)
            .outerjoin(e, e.c.request_id == holds.c.request_id)
            .where(holds.c.status == "settled", e.c.request_id.is_(None))
            .limit(_LIMIT)
        )
        for hid, rid in conn.execute(lost):
            found.append(
                Finding(
                    "settled_hold_without_event",
                    f"hold {hid} is settled but event {rid} is missing",
                    {"hold": hid},
                )
            )
        found += _stale_payments(conn, now)
    return VerifyReport(tuple(found), counts)
