"""The clock's work, driven by an explicit ``now``: ``tick(now)``.

Nothing in the books reads a clock. Whatever happens because time passed happens here,
when a caller (a cron job, ``quotadesk books tick --now …``, a test, the simulator) says
what time it is. Ticking twice at the same ``now`` changes nothing the second time.

Per organization, each step asks the rulebook and records the answer:

- expired grants (``grants.expired_remainders``): the remainder is written off to
  ``breakage`` and a ``credits_expired`` notice is sent;
- monthly limits (``limits.limit_state``): the soft-limit notice once a month, the
  hard-limit notice once a month;
- tiers (``tiers.evaluate_tier``): an upgrade whose criteria are met is recorded as pending,
  and applied (with a ``tier_upgraded`` notice) once its settle period has passed;
- invoiced accounts: each finished month with unbilled usage gets its invoice (due after
  ``INVOICE_TERMS``); ``invoices.invoice_state`` marks unpaid invoices overdue (notice) and
  raises the ``outstanding_balance`` flag when one stays unpaid too long;
- auto-recharge (``recharge.decide_recharge``) for balances below their threshold.

Before that: holds past their expiry are closed, and every charge left pending by a crash is
finished with its original idempotency key (``payments.resume_pending``), whatever ``now``
the tick is told, so a killed tick's recharge is credited by the next tick, not one later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, insert, select, update

from quotadesk.billing.grants import expired_remainders
from quotadesk.billing.invoices import invoice_state
from quotadesk.billing.limits import limit_state, month_start
from quotadesk.billing.model import (
    BillingMode,
    FlagSource,
    InvoiceStatus,
    NoticeKind,
    Organization,
)
from quotadesk.billing.tiers import DEFAULT_TIERS, TierTable, evaluate_tier
from quotadesk.store import ledger, payments
from quotadesk.store.access import SYSTEM, audit
from quotadesk.store.admission import expire_holds
from quotadesk.store.db import transaction
from quotadesk.store.flags import raise_flag_in
from quotadesk.store.processor import Processor
from quotadesk.store.schema import credit_grants, invoices, ledger_accounts, organizations
from quotadesk.store.snapshot import load_organization
from quotadesk.store.values import add_notice, aware, new_id

INVOICE_TERMS = timedelta(days=30)
"""Net-30: an invoice issued on the 1st falls due 30 days later."""

@dataclass
class TickReport:
    """What one tick did, counted by kind (only non-zero counts are listed)."""

    now: datetime
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, n: int = 1) -> None:
        if n:
            self.counts[what] = self.counts.get(what, 0) + n

    def to_json(self) -> dict[str, object]:
        return {"now": self.now.isoformat(), "counts": dict(sorted(self.counts.items()))}


def _expire_grants(conn: Connection, org: Organization, now: datetime, report: TickReport) -> None:
    lost = expired_remainders(org.credit_grants, now)
    for r in lost.lost:
        ledger.post(
            conn,
            kind="expiry",
            at=now,
            org_id=org.id,
            ref=r.grant_id,
            postings=[
                ledger.Posting(ledger.grant_account(r.grant_id), -r.remaining),
                ledger.Posting(ledger.BREAKAGE, r.remaining),
            ],
        )
        conn.execute(
            update(credit_grants).where(credit_grants.c.id == r.grant_id).values(remaining=0, expired_at=now)
        )
        add_notice(
            conn,
            org.id,
            NoticeKind.CREDITS_EXPIRED,
            r.expires_at,
            dedupe_key=f"credits_expired:{r.grant_id}",
            grant=r.grant_id,
            amount=r.remaining,
        )
        report.add("grants_expired")


def _limits(conn: Connection, org: Organization, now: datetime, report: TickReport) -> None:
    if org.spend_limits.soft is None and org.spend_limits.hard is None:
        return
    mtd = ledger.balance(conn, ledger.spend_account(org.id, month_start(now)))
    state = limit_state(org.spend_limits, mtd, now, org.notices)
    month = f"{now:%Y-%m}"
    if state.soft_notice is not None and add_notice(
        conn, org.id, state.soft_notice.kind, now, dedupe_key=f"{state.soft_notice.kind}:{org.id}:{month}"
    ):
        report.add("soft_limit_notices")
    if state.hard_reached and add_notice(
        conn, org.id, NoticeKind.HARD_LIMIT_REACHED, now, dedupe_key=f"hard_limit:{org.id}:{month}"
    ):
        report.add("hard_limit_notices")


def _tier(conn: Connection, org: Organization, now: datetime, tiers: TierTable, report: TickReport) -> None:
    manual = conn.execute(select(organizations.c.tier_manual).where(organizations.c.id == org.id)).scalar()
    if manual:
        return  # staff set this tier by hand; it stays until they set it back to auto
    ev = evaluate_tier(org, None, now, tiers)
    if ev.pending is None:
        return
    values: dict[str, object]
    if ev.pending_until is not None and now >= ev.pending_until:
        values = {
            "tier_current": ev.pending,
            "tier_since": now,
            "tier_pending_target": None,
            "tier_pending_at": None,
        }
        add_notice(conn, org.id, NoticeKind.TIER_UPGRADED, now, tier=ev.pending)
        report.add("tier_upgrades")
    elif org.tier.pending is None or org.tier.pending.target != ev.pending:
        values = {"tier_pending_target": ev.pending, "tier_pending_at": ev.pending_since or now}
        report.add("tier_upgrades_pending")
    else:
        return
    conn.execute(update(organizations).where(organizations.c.id == org.id).values(**values))
    audit(
        conn,
        SYSTEM,
        "tier",
        now,
        org_id=org.id,
        target=org.id,
        before={"tier": org.tier.current, "pending": org.tier.pending.target if org.tier.pending else None},
        after={k: None if v is None else str(v) for k, v in values.items()},
    )


def _issue_invoices(conn: Connection, org: Organization, now: datetime, report: TickReport) -> None:
    current = month_start(now)
    prefix = f"unbilled:{org.id}:"
    rows = conn.execute(
        select(ledger_accounts.c.name, ledger_accounts.c.balance).where(
            ledger_accounts.c.org_id == org.id,
            ledger_accounts.c.name.like(prefix + "%"),
            ledger_accounts.c.balance != 0,
        )
    ).all()
    for name, balance in sorted(rows):
        period = datetime.strptime(name.removeprefix(prefix) + "-01", "%Y-%m-%d").replace(tzinfo=now.tzinfo)
        if period >= current:
            continue  # the month is not over
        amount = -int(balance)
        billed = conn.execute(
            select(invoices.c.id).where(invoices.c.org_id == org.id, invoices.c.period_start == period)
        ).first()
        if billed is not None:
            # Usage that arrived after its month was invoiced: carry it to the month being billed
            # next, so it is invoiced once, later, instead of reopening a closed invoice.
            carry = f"{prefix}{current:%Y-%m}"
            ledger.post(
                conn,
                kind="late_usage_carry",
                at=now,
                org_id=org.id,
                ref=billed.id,
                postings=[ledger.Posting(name, amount), ledger.Posting(carry, -amount)],
            )
            audit(conn, SYSTEM, "carry_late_usage", now, org_id=org.id, invoice=billed.id, amount=amount)
            report.add("late_usage_carried")
            continue
        inv_id = new_id("inv")
        end = month_start(period + timedelta(days=32))
        conn.execute(
            insert(invoices).values(
                id=inv_id,
                org_id=org.id,
                period_start=period,
                period_end=end,
                amount=amount,
                status=InvoiceStatus.OPEN.value,
                issued_at=now,
                due_at=now + INVOICE_TERMS,
            )
        )
        ledger.post(
            conn,
            kind="invoice",
            at=now,
            org_id=org.id,
            ref=inv_id,
            postings=[ledger.Posting(name, amount), ledger.Posting(ledger.invoice_account(inv_id), -amount)],
        )
        audit(conn, SYSTEM, "issue_invoice", now, org_id=org.id, invoice=inv_id, amount=amount)
        report.add("invoices_issued")


def _age_invoices(conn: Connection, org: Organization, now: datetime, report: TickReport) -> None:
    state = invoice_state(org, now)
    for inv in state.overdue:
        if inv.status == InvoiceStatus.OPEN:
            conn.execute(
                update(invoices).where(invoices.c.id == inv.id).values(status=InvoiceStatus.OVERDUE.value)
            )
            add_notice(
                conn, org.id, NoticeKind.INVOICE_OVERDUE, now, dedupe_key=f"overdue:{inv.id}", invoice=inv.id
            )
            report.add("invoices_overdue")
    if state.flag is not None:
        raise_flag_in(conn, org.id, state.flag.kind, FlagSource.AUTOMATED, now, "invoice unpaid past due")
        audit(conn, SYSTEM, "raise_flag", now, org_id=org.id, kind=state.flag.kind.value)
        report.add("flags_raised")


def tick(engine: Engine, processor: Processor, now: datetime, tiers: TierTable = DEFAULT_TIERS) -> TickReport:
    """Do everything that is due at ``now``, for every organization (see the module docstring).

    The order makes one tick reach what a second tick at the same ``now`` would see, so that
    second tick changes nothing: expired grants first (they lower the balance auto-recharge
    reads), then the recharges (a paid recharge counts towards a tier), then limits, tiers and
    invoices. A recharge already attempted at ``now`` is not attempted again
    (``recharge.decide_recharge(once_per_instant=True)``: ``attempted_now``).
    """
    now = aware(now)
    report = TickReport(now)
    with transaction(engine) as conn:
        report.add("holds_expired", expire_holds(conn, now))
    report.add("charges_resumed", len(payments.resume_pending(engine, processor, now)))
    with transaction(engine) as conn:
        org_ids = list(conn.execute(select(organizations.c.id).order_by(organizations.c.id)).scalars())
    recharge: list[str] = []
    for org_id in org_ids:
        with transaction(engine) as conn:
            org = load_organization(conn, org_id, lock=True)
            _expire_grants(conn, org, now, report)
            if org.auto_recharge.enabled:
                recharge.append(org_id)
    for org_id in recharge:
        if payments.auto_recharge(engine, processor, now, org_id, once_per_instant=True) is not None:
            report.add("auto_recharges")
    for org_id in org_ids:
        with transaction(engine) as conn:
            org = load_organization(conn, org_id, lock=True)
            _limits(conn, org, now, report)
            _tier(conn, org, now, tiers, report)
            if org.billing_mode == BillingMode.INVOICED:
                _issue_invoices(conn, org, now, report)
                _age_invoices(conn, load_organization(conn, org_id), now, report)
    return report
