"""What the books say about an account at ``as_of``, computed by the rulebook's functions.

Triage never re-derives a rule: balance, expiry, the month, invoice state and key status all
come from ``quotadesk.billing``. This module only gathers those answers, with the JSON
pointer of each fact, so that the decision tree and the evidence speak of the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from quotadesk.billing import grants as g
from quotadesk.billing import limits
from quotadesk.billing import model as m

SYNC_WINDOW = timedelta(minutes=10)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Indexed(Generic[T]):
    """A record of the account and its JSON pointer in the bundle."""

    item: T
    pointer: str


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """The account's state as the rulebook reads it; every money figure in nano-dollars."""

    org: m.Organization
    as_of: datetime
    balance: int
    expired: tuple[Indexed[m.CreditGrant], ...]
    grants_live: tuple[Indexed[m.CreditGrant], ...]
    trial_grants: tuple[Indexed[m.CreditGrant], ...]
    default_card: Indexed[m.PaymentMethod] | None
    bad_cards: tuple[Indexed[m.PaymentMethod], ...]
    failed_payments: tuple[Indexed[m.Payment], ...]
    last_success: Indexed[m.Payment] | None
    active_flags: tuple[Indexed[m.Flag], ...]
    overdue_invoices: tuple[Indexed[m.Invoice], ...]
    revoked_keys: tuple[Indexed[m.ApiKey], ...]
    departed_keys: tuple[Indexed[m.ApiKey], ...]
    month_start: datetime
    month_to_date: int | None
    hard_limit_hit: bool
    hard_limit_notice: Indexed[m.Notice] | None
    soft_limit_notice: Indexed[m.Notice] | None

    @property
    def suspended(self) -> bool:
        return bool(self.active_flags) or self.org.status == m.OrgStatus.SUSPENDED

    @property
    def prepaid(self) -> bool:
        return self.org.billing_mode == m.BillingMode.PREPAID

    @property
    def free_tier(self) -> bool:
        return self.org.tier.current == "free"

    @property
    def has_payment_method(self) -> bool:
        return any(pm.status == m.PaymentMethodStatus.VALID for pm in self.org.payment_methods)

    def notices(self, kind: str) -> tuple[Indexed[m.Notice], ...]:
        return tuple(
            Indexed(n, f"/account/notices/{i}") for i, n in enumerate(self.org.notices) if n.kind == kind
        )


def _after_month_start(ts: datetime, start: datetime) -> bool:
    return ts >= start


def account_facts(org: m.Organization, as_of: datetime, month_to_date: int | None) -> AccountFacts:
    """Read the account at ``as_of``; ``month_to_date`` comes from the usage log when there is one."""
    grants = org.credit_grants
    idx_grants = [Indexed(gr, f"/account/credit_grants/{i}") for i, gr in enumerate(grants)]
    expired = tuple(x for x in idx_grants if g.is_expired(x.item, as_of))
    live = tuple(x for x in idx_grants if not g.is_expired(x.item, as_of))
    trial = tuple(x for x in idx_grants if x.item.kind == m.GrantKind.FREE_TRIAL)
    cards = [Indexed(pm, f"/account/payment_methods/{i}") for i, pm in enumerate(org.payment_methods)]
    default = next((c for c in cards if c.item.default), cards[0] if cards else None)
    bad = tuple(c for c in cards if c.item.status != m.PaymentMethodStatus.VALID)
    pays = [Indexed(p, f"/account/payments/{i}") for i, p in enumerate(org.payments)]
    pays.sort(key=lambda x: x.item.at)
    failed = tuple(p for p in pays if p.item.status == m.PaymentStatus.FAILED)
    success = [p for p in pays if p.item.status == m.PaymentStatus.SUCCEEDED]
    flags = tuple(
        Indexed(f, f"/account/flags/{i}") for i, f in enumerate(org.flags) if f.active and f.at <= as_of
    )
    overdue = tuple(
        Indexed(inv, f"/account/invoices/{i}")
        for i, inv in enumerate(org.invoices)
        if inv.status == m.InvoiceStatus.OVERDUE
        or (inv.status == m.InvoiceStatus.OPEN and inv.due_at is not None and inv.due_at < as_of)
    )
    keys = [Indexed(k, f"/account/api_keys/{i}") for i, k in enumerate(org.api_keys)]
    revoked = tuple(k for k in keys if k.item.status == m.KeyStatus.REVOKED)
    departed = tuple(k for k in keys if k.item.scope == m.KeyScope.PERSONAL and not k.item.owner_active)
    start = limits.month_start(as_of)
    notices = [Indexed(n, f"/account/notices/{i}") for i, n in enumerate(org.notices)]
    hard_notice = next(
        (n for n in reversed(notices) if n.item.kind == "hard_limit_reached" and start <= n.item.at <= as_of),
        None,
    )
    soft_notice = next(
        (n for n in reversed(notices) if n.item.kind == "soft_limit_reached" and start <= n.item.at <= as_of),
        None,
    )
    hard = org.spend_limits.hard
    hit = hard is not None and (
        # Within 0.5% of the limit the next request's estimated cost crosses it: admission refuses.
        (month_to_date is not None and month_to_date >= hard - hard // 200) or (hard_notice is not None)
    )
    return AccountFacts(
        org=org,
        as_of=as_of,
        balance=g.spendable_balance(grants, as_of) if grants else 0,
        expired=expired,
        grants_live=live,
        trial_grants=trial,
        default_card=default,
        bad_cards=bad,
        failed_payments=failed,
        last_success=success[-1] if success else None,
        active_flags=flags,
        overdue_invoices=overdue,
        revoked_keys=revoked,
        departed_keys=departed,
        month_start=start,
        month_to_date=month_to_date,
        hard_limit_hit=hit,
        hard_limit_notice=hard_notice,
        soft_limit_notice=soft_notice,
    )
