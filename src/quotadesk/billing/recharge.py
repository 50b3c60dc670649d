"""Auto-recharge: when to charge the default card, and what a charge's result leaves behind.

The decision is a pure function of the books, so the gateway and triage agree on why a
recharge did or did not happen. Three guards keep it from ever becoming a loop of charges
(a failure other billing systems are known for, where a declining card is retried on every
request):

- at most one auto-recharge in flight: while a charge is ``pending`` no new one starts;
- a daily cap: at most ``AutoRecharge.daily_cap`` attempts per UTC day, and a failed
  attempt counts, so a declining card is tried at most ``daily_cap`` times a day;
- no usable default card (none, expired, declined): no charge at all, and a notice.

The clock's own recharges (``store.close.tick``) add one more: at most one attempt per instant
(``once_per_instant``), since an attempt already made at ``now`` means the same moment is being
replayed (``books tick`` run twice at one ``--now``). Requests do not: two requests at the same
time are two events, and the second may need a recharge after the first.

A charge left ``pending`` by a crash is not in flight forever: ``recovery_due`` says the next
tick (or start-up) must finish it, whatever the time it is told, and ``stale_pending`` which
ones ``books verify`` reports.

A failed charge leaves a failed ``Payment``, an ``auto_recharge_failed`` notice and no
credit; only a succeeded one creates an ``auto_recharge`` grant. Access resumes on the
next request after that grant exists, since the balance is always computed from grants.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from quotadesk.billing.grants import spendable_balance
from quotadesk.billing.limits import require_aware
from quotadesk.billing.model import (
    CreditGrant,
    FailureCode,
    GrantKind,
    Notice,
    NoticeKind,
    Organization,
    Payment,
    PaymentMethod,
    PaymentMethodStatus,
    PaymentPurpose,
    PaymentStatus,
)


def card_usable(method: PaymentMethod, now: datetime) -> bool:
    """Valid status and not past its expiry month (a card is good through its last month)."""
    now = require_aware(now)
    if method.status != PaymentMethodStatus.VALID:
        return False
    if method.exp_year is None or method.exp_month is None:
        return True
    return (method.exp_year, method.exp_month) >= (now.year, now.month)


def default_card(methods: Iterable[PaymentMethod]) -> PaymentMethod | None:
    """The method marked default, or the only one on file when there is exactly one."""
    items = tuple(methods)
    for method in items:
        if method.default:
            return method
    return items[0] if len(items) == 1 else None


def in_flight(payments: Iterable[Payment]) -> Payment | None:
    """The auto-recharge charge still pending, if any."""
    for payment in payments:
        if payment.purpose == PaymentPurpose.AUTO_RECHARGE and payment.status == PaymentStatus.PENDING:
            return payment
    return None


def attempted_since(payments: Iterable[Payment], now: datetime) -> bool:
    """An auto-recharge attempt (any status) made at ``now`` or later: this instant already had one."""
    now = require_aware(now)
    return any(
        p.purpose == PaymentPurpose.AUTO_RECHARGE and require_aware(p.at, f"payments[{p.id}].at") >= now
        for p in payments
    )


def attempts_today(payments: Iterable[Payment], now: datetime) -> int:
    """Auto-recharge attempts (any status) on ``now``'s UTC day up to ``now``."""
    now = require_aware(now)
    day = now.date()
    count = 0
    for payment in payments:
        at = require_aware(payment.at, f"payments[{payment.id}].at")
        if payment.purpose == PaymentPurpose.AUTO_RECHARGE and at.date() == day and at <= now:
            count += 1
    return count


@dataclass(frozen=True, slots=True)
class RechargeDecision:
    """Whether to charge now, how much, on which card, and why (or why not).

    ``reason`` is one of: ``below_threshold`` (charge), ``disabled``, ``not_configured``,
    ``above_threshold``, ``in_flight``, ``attempted_now``, ``daily_cap``, ``no_valid_card``. ``notice`` is set
    only for ``no_valid_card``: the customer must learn that auto-recharge cannot run.
    """

    charge: bool
    reason: str
    amount: int = 0
    payment_method_id: str | None = None
    balance: int = 0
    notice: Notice | None = None


def decide_recharge(
    org: Organization, now: datetime, balance: int | None = None, *, once_per_instant: bool = False
) -> RechargeDecision:
    """Should auto-recharge charge the default card now? ``balance`` defaults to the
    spendable balance of ``org.credit_grants`` at ``now``.

    The guards run in this order: disabled or incomplete settings, balance not below the
    threshold, a charge already in flight, an attempt already made at this instant (only with
    ``once_per_instant``), the daily cap, then the card. The card comes
    last so a notice about it is only raised when a charge was otherwise due.
    """
    now = require_aware(now)
    settings = org.auto_recharge
    bal = spendable_balance(org.credit_grants, now) if balance is None else balance
    if not settings.enabled:
        return RechargeDecision(False, "disabled", balance=bal)
    if settings.threshold is None or settings.amount is None or settings.amount <= 0:
        return RechargeDecision(False, "not_configured", balance=bal)
    if bal >= settings.threshold:
        return RechargeDecision(False, "above_threshold", balance=bal)
    if in_flight(org.payments) is not None:
        return RechargeDecision(False, "in_flight", balance=bal)
    if once_per_instant and attempted_since(org.payments, now):
        return RechargeDecision(False, "attempted_now", balance=bal)
    if attempts_today(org.payments, now) >= settings.daily_cap:
        return RechargeDecision(False, "daily_cap", balance=bal)
    card = default_card(org.payment_methods)
    if card is None or not card_usable(card, now):
        notice = Notice(kind=NoticeKind.AUTO_RECHARGE_FAILED, at=now)
        return RechargeDecision(False, "no_valid_card", balance=bal, notice=notice)
    return RechargeDecision(True, "below_threshold", settings.amount, card.id, bal)


def start_charge(decision: RechargeDecision, payment_id: str, now: datetime) -> Payment:
    """The pending payment that marks a charge in flight (record it before calling the card)."""
    now = require_aware(now)
    if not decision.charge:
        raise ValueError(f"decision: no charge is due ({decision.reason})")
    return Payment(
        id=payment_id,
        at=now,
        amount=decision.amount,
        status=PaymentStatus.PENDING,
        purpose=PaymentPurpose.AUTO_RECHARGE,
    )


@dataclass(frozen=True, slots=True)
class ChargeOutcome:
    """What a finished charge leaves in the books: the settled payment, the grant (only on
    success) and the notice (only on failure)."""

    payment: Payment
    grant: CreditGrant | None
    notice: Notice | None


def apply_charge_result(
    payment: Payment,
    succeeded: bool,
    now: datetime,
    *,
    failure_code: str | None = None,
    grant_id: str | None = None,
) -> ChargeOutcome:
    """Settle a pending auto-recharge ``payment``.

    Failed: the payment becomes ``failed`` with its failure code, an
    ``auto_recharge_failed`` notice is due, and no credit is created. Succeeded: an
    ``auto_recharge`` grant of the payment's amount, never expiring, granted at ``now``.
    """
    now = require_aware(now)
    if payment.purpose != PaymentPurpose.AUTO_RECHARGE:
        raise ValueError(f"payment.purpose: expected auto_recharge, got {payment.purpose}")
    if payment.status != PaymentStatus.PENDING:
        raise ValueError(f"payment.status: only a pending charge can be settled, got {payment.status}")
    if succeeded:
        grant = CreditGrant(
            id=grant_id or f"cg_{payment.id}",
            kind=GrantKind.AUTO_RECHARGE,
            amount=payment.amount,
            remaining=payment.amount,
            granted_at=now,
        )
        return ChargeOutcome(replace(payment, status=PaymentStatus.SUCCEEDED), grant, None)
    code = FailureCode.PROCESSING_ERROR if failure_code is None else failure_code
    if code not in set(FailureCode):
        raise ValueError(f"failure_code: expected one of {', '.join(FailureCode)}, got {failure_code!r}")
    failed = replace(payment, status=PaymentStatus.FAILED, failure_code=str(code))
    return ChargeOutcome(failed, None, Notice(kind=NoticeKind.AUTO_RECHARGE_FAILED, at=now))


PENDING_GRACE = timedelta(minutes=10)
"""A charge still pending this long after it started was abandoned: ``books verify`` reports it."""


def settle_time(payment: Payment, now: datetime) -> datetime:
    """When a recovered charge is settled: ``now``, but never before the charge started (a tick
    told an earlier time than the crash must not date the credit before its payment)."""
    now = require_aware(now)
    return max(now, require_aware(payment.at, f"payments[{payment.id}].at"))


def recovery_due(payment: Payment) -> bool:
    """Must the next tick (or start-up) finish this payment? Every ``pending`` one, whatever its
    age and whatever ``now`` the tick is told: the processor's idempotency key makes a second
    call return the first result, and settling is skipped for a payment already finished, so
    finishing a charge another live process is still making costs a call, never a second charge.
    """
    return payment.status == PaymentStatus.PENDING


def stale_pending(payments: Iterable[Payment], now: datetime, grace: timedelta = PENDING_GRACE) -> list[Payment]:
    """Payments still ``pending`` more than ``grace`` after they started: a crash nobody recovered."""
    now = require_aware(now)
    return [
        p
        for p in payments
        if p.status == PaymentStatus.PENDING and require_aware(p.at, f"payments[{p.id}].at") + grace < now
    ]
