"""The account's billing page as a value: what the runbook's "Dashboard → Billing" shows.

``billing_page`` reads one organization from the books at ``now`` and answers the questions
a support engineer (or the customer) looks for on that page, each from the library that
already decides it, so the page cannot disagree with the gateway or the triage engine:

- **why is this account blocked right now**: ``store.probe.access_now``, the admission
  decision replayed for the org's usual key and model;
- the **red banners** (a failed payment, an overdue invoice, a suspension), each saying why
  and what lifts it (who lifts a flag is ``billing.suspension``'s owner table);
- balance and grants (``billing.grants``), auto-recharge and why it would or would not fire
  now (``billing.recharge.decide_recharge``), the monthly limit's zone
  (``billing.limits.limit_state`` on the ledger's month-to-date spend), the tier and what
  the next one still needs (``billing.tiers.evaluate_tier``), invoices, keys, flags and the
  timeline (``store.timeline``).

``audience="customer"`` is the customer's own view of the same page: a flag's trigger
(kind, source, reason), who lifted it and staff names in the timeline are left out, since a
customer may learn that they are suspended and who lifts it, never what tripped the review.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select

from quotadesk.billing import model as m
from quotadesk.billing.grants import is_expired, spendable_balance
from quotadesk.billing.limits import limit_state, month_start
from quotadesk.billing.recharge import card_usable, decide_recharge
from quotadesk.billing.suspension import lifted_by as flag_owner
from quotadesk.billing.tiers import TierTable, evaluate_tier, paid_total_of
from quotadesk.money import fmt
from quotadesk.store import ledger
from quotadesk.store.db import transaction
from quotadesk.store.probe import access_now
from quotadesk.store.schema import flags as flags_table
from quotadesk.store.schema import organizations
from quotadesk.store.snapshot import load_organization
from quotadesk.store.timeline import timeline

Audience = Literal["staff", "customer"]

TEAM_LABELS = {
    "support": "Support",
    "billing_team": "Billing",
    "trust_and_safety": "Trust & Safety",
    "finance": "Finance",
    "security": "Security",
    "engineering": "Engineering",
    "admin": "an administrator",
}

DECLINE_WORDS = {
    "card_declined": "the bank declined the charge",
    "expired_card": "the card has expired",
    "insufficient_funds": "the card has insufficient funds",
    "processing_error": "the card processor failed to process the charge",
}

RECHARGE_WORDS = {
    "below_threshold": "would charge now: the balance is below the threshold",
    "disabled": "off: the customer has not turned auto-recharge on",
    "not_configured": "on, but the threshold or amount is not set, so it cannot run",
    "above_threshold": "waiting: the balance is above the threshold",
    "in_flight": "a recharge is already in flight (one at a time)",
    "attempted_now": "a recharge was already attempted at this moment (one per instant)",
    "daily_cap": "stopped for today: the daily cap of recharges is reached",
    "no_valid_card": "cannot run: no valid card on file (declined or expired)",
}

CUSTOMER_TIMELINE_KINDS = frozenset(
    {
        "payment_succeeded",
        "payment_failed",
        "payment_pending",
        "grant_added",
        "grant_expired",
        "notice",
        "cut_off",
        "access_restored",
        "flag_raised",
        "flag_lifted",
        "key_created",
        "key_revoked",
        "invoice_issued",
        "invoice_paid",
        "limits_changed",
        "auto_recharge_changed",
        "tier_changed",
        "account_created",
    }
)


@dataclass(frozen=True, slots=True)
class Access:
    """The admission decision now, for ``key_id`` and ``model``: admitted, or which rule refuses."""

    allowed: bool
    key_id: str | None
    model: str
    rule: str = ""
    status: int | None = None
    code: str = ""
    message: str = ""
    figures: dict[str, str] = field(default_factory=dict)
    resets_at: datetime | None = None
    lifted_by: str = ""


@dataclass(frozen=True, slots=True)
class Banner:
    """A red banner: ``kind`` (payment_failed, invoice_overdue, suspended), why, and what lifts it."""

    kind: str
    title: str
    why: str
    lifts: str


@dataclass(frozen=True, slots=True)
class GrantLine:
    id: str
    kind: str
    amount: int
    remaining: int
    granted_at: datetime
    expires_at: datetime | None
    state: str  # active, expired, used up
    expires_in_days: int | None


@dataclass(frozen=True, slots=True)
class PaymentLine:
    id: str
    at: datetime
    amount: int
    purpose: str
    status: str
    failure_code: str | None
    failure_words: str


@dataclass(frozen=True, slots=True)
class Recharge:
    enabled: bool
    threshold: int | None
    amount: int | None
    daily_cap: int
    last_attempt: PaymentLine | None
    reason: str
    reason_words: str


@dataclass(frozen=True, slots=True)
class MethodLine:
    id: str
    brand: str
    last4: str
    expires: str
    status: str
    default: bool
    usable: bool


@dataclass(frozen=True, slots=True)
class LimitBar:
    """Month-to-date spend on the monthly limits' zones: safe, warning (soft reached), offline."""

    period: str
    month_to_date: int
    soft: int | None
    hard: int | None
    zone: str  # safe, warning, offline, or none (no limits set)
    resets_at: datetime


@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    required: str
    actual: str
    met: bool


@dataclass(frozen=True, slots=True)
class TierView:
    current: str
    since: datetime | None
    manual: bool
    qualifies_for: str
    pending: str | None
    pending_until: datetime | None
    overdue: bool
    next_tier: str | None
    criteria: tuple[Criterion, ...]
    rate_limits: dict[str, dict[str, int]]
    models: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    id: str
    period_start: datetime
    period_end: datetime
    amount: int
    status: str
    due_at: datetime | None
    overdue: bool


@dataclass(frozen=True, slots=True)
class KeyLine:
    id: str
    name: str
    redacted: str
    scope: str
    owner: str | None
    owner_active: bool
    environment: str | None
    status: str
    created_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class FlagLine:
    """A flag; ``kind``, ``source`` and ``reason`` are empty in the customer's view (the trigger)."""

    id: int
    kind: str
    source: str
    reason: str
    at: datetime
    active: bool
    lifted_at: datetime | None
    lifted_by: str
    owner: str  # the team that lifts it
    lift_action: str  # the PERMISSIONS action that lifts it


@dataclass(frozen=True, slots=True)
class BillingPage:
    audience: Audience
    now: datetime
    org_id: str
    name: str
    billing_mode: str
    status: str
    console_access: str
    created_at: datetime | None
    stripe_customer: str | None
    access: Access
    banners: tuple[Banner, ...]
    balance: int
    grants: tuple[GrantLine, ...]
    recharge: Recharge
    methods: tuple[MethodLine, ...]
    payments: tuple[PaymentLine, ...]
    limits: LimitBar
    tier: TierView
    invoices: tuple[InvoiceLine, ...]
    keys: tuple[KeyLine, ...]
    flags: tuple[FlagLine, ...]
    timeline: tuple[dict[str, Any], ...]


def team_label(team: str | None) -> str:
    return TEAM_LABELS.get(team or "", (team or "").replace("_", " "))


def billing_page(
    books: Any, org_id: str, now: datetime, *, audience: Audience = "staff", timeline_limit: int = 200
) -> BillingPage:
    """The billing page of ``org_id`` at ``now`` (``books`` is a ``store.books.Books``)."""
    engine = books.engine
    tiers: TierTable = books.tiers
    with transaction(engine) as conn:
        org = load_organization(conn, org_id)
        mtd = ledger.balance(conn, ledger.spend_account(org_id, month_start(now)))
        extra = conn.execute(
            select(organizations.c.stripe_customer, organizations.c.tier_manual).where(
                organizations.c.id == org_id
            )
        ).one()
        flag_rows = conn.execute(
            select(flags_table).where(flags_table.c.org_id == org_id).order_by(flags_table.c.at.desc())
        ).all()
    probe = access_now(engine, org_id, now, prices=books.prices, tiers=tiers)
    access = _access(probe)
    balance = spendable_balance(org.credit_grants, now)
    payments = tuple(_payment(p) for p in sorted(org.payments, key=lambda p: p.at, reverse=True))
    invoices = tuple(
        _invoice(i, now) for i in sorted(org.invoices, key=lambda i: i.period_start, reverse=True)
    )
    flag_lines = tuple(_flag(r, audience) for r in flag_rows)
    events = timeline(engine, org_id, limit=timeline_limit).events
    shown = [e.to_json() for e in reversed(events)]
    if audience == "customer":
        shown = [customer_event(e) for e in shown if e["kind"] in CUSTOMER_TIMELINE_KINDS]
    return BillingPage(
        audience=audience,
        now=now,
        org_id=org.id,
        name=org.name,
        billing_mode=org.billing_mode.value,
        status=org.status.value,
        console_access=org.console_access.value,
        created_at=org.created_at,
        stripe_customer=extra.stripe_customer if audience == "staff" else None,
        access=access,
        banners=banners(org, now, payments, invoices, flag_lines, access, audience),
        balance=balance,
        grants=tuple(
            _grant(g, now) for g in sorted(org.credit_grants, key=lambda g: g.granted_at, reverse=True)
        ),
        recharge=_recharge(org, now, balance, payments),
        methods=tuple(_method(pm, now) for pm in org.payment_methods),
        payments=payments,
        limits=limit_bar(org, mtd, now),
        tier=_tier(org, now, tiers, bool(extra.tier_manual)),
        invoices=invoices,
        keys=tuple(_key(k) for k in org.api_keys),
        flags=flag_lines,
        timeline=tuple(shown),
    )


def _access(probe: Any) -> Access:
    if probe.allowed:
        return Access(True, probe.key_id, probe.model)
    d = probe.decision
    return Access(
        False,
        probe.key_id,
        probe.model,
        rule=str(d.rule),
        status=d.status,
        code=d.code,
        message=d.message,
        figures=dict(d.limit),
        resets_at=d.resets_at,
        lifted_by=d.lifted_by or "",
    )


def customer_event(event: dict[str, Any]) -> dict[str, Any]:
    """A timeline event as the customer sees it: no flag trigger, no staff names, no settings diff."""
    kind = event["kind"]
    if kind == "flag_raised":
        summary = "Account suspended: API access and console login are blocked while it is reviewed"
    elif kind == "flag_lifted":
        summary = "Suspension lifted"
    elif str(event.get("notice", "")).startswith("suspension_"):
        summary = "Notice sent: account suspended"
    else:
        summary = str(event["summary"])
        cut = summary.rfind(" (by ")
        if cut > 0 and summary.endswith(")"):
            summary = summary[:cut]
    return {"at": event["at"], "kind": kind, "summary": summary}


def _payment(p: m.Payment) -> PaymentLine:
    code = p.failure_code
    return PaymentLine(
        p.id,
        p.at,
        p.amount,
        p.purpose.value,
        p.status.value,
        code,
        DECLINE_WORDS.get(code or "", (code or "").replace("_", " ")),
    )


def _grant(g: m.CreditGrant, now: datetime) -> GrantLine:
    expired = is_expired(g, now)
    state = "expired" if expired else ("used up" if g.remaining == 0 else "active")
    days = None
    if g.expires_at is not None and not expired:
        days = max(0, (g.expires_at - now) // timedelta(days=1))
    return GrantLine(g.id, g.kind.value, g.amount, g.remaining, g.granted_at, g.expires_at, state, days)


def _recharge(
    org: m.Organization, now: datetime, balance: int, payments: tuple[PaymentLine, ...]
) -> Recharge:
    ar = org.auto_recharge
    decision = decide_recharge(org, now, balance)
    last = next((p for p in payments if p.purpose == m.PaymentPurpose.AUTO_RECHARGE.value), None)
    return Recharge(
        ar.enabled,
        ar.threshold,
        ar.amount,
        ar.daily_cap,
        last,
        decision.reason,
        RECHARGE_WORDS.get(decision.reason, decision.reason.replace("_", " ")),
    )


def _method(pm: m.PaymentMethod, now: datetime) -> MethodLine:
    expires = f"{pm.exp_month:02d}/{pm.exp_year}" if pm.exp_month and pm.exp_year else ""
    return MethodLine(pm.id, pm.brand, pm.last4, expires, pm.status.value, pm.default, card_usable(pm, now))


def limit_bar(org: m.Organization, month_to_date: int, now: datetime) -> LimitBar:
    """Which zone the month-to-date spend is in (the rulebook's ``limit_state``)."""
    state = limit_state(org.spend_limits, month_to_date, now, org.notices)
    if state.hard_reached:
        zone = "offline"
    elif state.soft_reached:
        zone = "warning"
    elif state.soft is None and state.hard is None:
        zone = "none"
    else:
        zone = "safe"
    return LimitBar(
        f"{state.period_start:%B %Y}", month_to_date, state.soft, state.hard, zone, state.resets_at
    )


def _tier(org: m.Organization, now: datetime, tiers: TierTable, manual: bool) -> TierView:
    ev = evaluate_tier(org, None, now, tiers)
    criteria: list[Criterion] = []
    if ev.next_tier is not None:
        spec = tiers.get(ev.next_tier)
        unmet = {c.name: c for c in ev.unmet}
        age = None if org.created_at is None else (now - org.created_at).days
        has = {
            "payment_method": "a valid one on file",
            "paid_spend": fmt(paid_total_of(org)),
            "account_age": "unknown" if age is None else f"{age} days",
        }
        wanted = []
        if spec.requires_payment_method:
            wanted.append(("payment_method", "a valid payment method"))
        wanted.append(("paid_spend", f"{fmt(spec.min_paid_total)} paid in total"))
        if spec.min_account_age_days:
            wanted.append(("account_age", f"an account {spec.min_account_age_days} days old"))
        for name, required in wanted:
            miss = unmet.get(name)
            criteria.append(Criterion(name, required, miss.actual if miss else has[name], miss is None))
    current = tiers.get(org.tier.current)
    merged = {**current.rate_limits, **(org.rate_limits or {})}
    limits = {
        model: {k: v for k, v in (("rpm", rl.rpm), ("tpm", rl.tpm)) if v is not None}
        for model, rl in sorted(merged.items())
    }
    models = org.model_access or (tuple(sorted(current.models)) if current.models is not None else None)
    return TierView(
        ev.current,
        org.tier.since,
        manual,
        ev.qualifies_for,
        ev.pending,
        ev.pending_until,
        ev.overdue,
        ev.next_tier,
        tuple(criteria),
        limits,
        models,
    )


def _invoice(inv: m.Invoice, now: datetime) -> InvoiceLine:
    unpaid = inv.status in (m.InvoiceStatus.OPEN, m.InvoiceStatus.OVERDUE)
    overdue = inv.status == m.InvoiceStatus.OVERDUE or (
        unpaid and inv.due_at is not None and inv.due_at < now
    )
    return InvoiceLine(
        inv.id, inv.period_start, inv.period_end, inv.amount, inv.status.value, inv.due_at, overdue
    )


def _key(k: m.ApiKey) -> KeyLine:
    return KeyLine(
        k.id,
        k.name,
        k.redacted,
        k.scope.value,
        k.owner,
        k.owner_active,
        None if k.environment is None else k.environment.value,
        k.status.value,
        k.created_at,
        k.last_used_at,
    )


def _flag(r: Any, audience: Audience) -> FlagLine:
    kind = m.FlagKind(r.kind)
    owner = flag_owner(kind)
    staff = audience == "staff"
    return FlagLine(
        id=int(r.id),
        kind=kind.value if staff else "",
        source=str(r.source) if staff else "",
        reason=str(r.reason or "") if staff else "",
        at=r.at,
        active=bool(r.active),
        lifted_at=r.lifted_at,
        lifted_by=str(r.lifted_by or "") if staff else "",
        owner=owner,
        lift_action=f"lift_flag:{kind.value}" if staff else "",
    )


def banners(
    org: m.Organization,
    now: datetime,
    payments: tuple[PaymentLine, ...],
    invoices: tuple[InvoiceLine, ...],
    flag_lines: tuple[FlagLine, ...],
    access: Access,
    audience: Audience = "staff",
) -> tuple[Banner, ...]:
    """The page's red banners, most serious first: suspension, overdue invoice, failed payment."""
    out: list[Banner] = []
    active = [f for f in flag_lines if f.active]
    if org.status == m.OrgStatus.SUSPENDED or active:
        owners = sorted({f.owner for f in active}) or ["trust_and_safety"]
        who = " and ".join(team_label(t) for t in owners)
        if audience == "staff":
            kinds = ", ".join(
                f"{f.kind.replace('_', ' ')} ({f.source}, raised {f.at:%Y-%m-%d %H:%M} UTC)" for f in active
            )
            why = (
                f"Active flag: {kinds}."
                if kinds
                else "The books mark the account suspended with no active flag."
            )
            why += " Every key gets 401 account_suspended and console login is blocked."
            lifts = f"Only {who} can lift it (or an administrator); support cannot."
        else:
            why = "Your account is suspended: every API key gets 401 account_suspended while it is reviewed."
            lifts = f"A review by our {who} team lifts it; reply to your support ticket to be kept informed."
        out.append(Banner("suspended", "Account suspended", why, lifts))
    overdue = [i for i in invoices if i.overdue]
    if overdue:
        inv = overdue[-1]
        due = f", due {inv.due_at:%Y-%m-%d}" if inv.due_at else ""
        refused = (
            " Requests are refused with 402 invoice_overdue." if access.rule == "invoice_overdue" else ""
        )
        out.append(
            Banner(
                "invoice_overdue",
                "Invoice overdue",
                f"Invoice {inv.id} for {inv.period_start:%B %Y} ({fmt(inv.amount)}{due}) is unpaid.{refused}",
                "Paying the invoice lifts it (a wire or cheque is recorded by Finance); left unpaid, it "
                "becomes an outstanding-balance suspension.",
            )
        )
    failed = _failed_payment(org, now, payments)
    if failed is not None:
        out.append(failed)
    return tuple(out)


def _failed_payment(org: m.Organization, now: datetime, payments: tuple[PaymentLine, ...]) -> Banner | None:
    last = next((p for p in payments if p.status != m.PaymentStatus.PENDING.value), None)
    card = next((pm for pm in org.payment_methods if pm.default), None)
    bad_card = card is not None and not card_usable(card, now)
    if (last is None or last.status != m.PaymentStatus.FAILED.value) and not bad_card:
        return None
    parts = []
    if last is not None and last.status == m.PaymentStatus.FAILED.value:
        what = {"top_up": "Top-up", "auto_recharge": "Auto-recharge", "invoice": "Invoice payment"}.get(
            last.purpose, last.purpose
        )
        code = f": {last.failure_code} ({last.failure_words})" if last.failure_code else ""
        parts.append(f"{what} of {fmt(last.amount)} failed on {last.at:%Y-%m-%d %H:%M} UTC{code}.")
    if card is not None and bad_card:
        exp = f", expires {card.exp_month:02d}/{card.exp_year}" if card.exp_month and card.exp_year else ""
        parts.append(f"The default card ({card.brand} ending {card.last4}{exp}) is {card.status.value}.")
    return Banner(
        "payment_failed",
        "Payment failed",
        " ".join(parts),
        "Update or replace the card under Billing → Payment methods, then add credits; access resumes on "
        "the next request once a payment succeeds.",
    )
