"""Prepaid credit grants: what is spendable at ``now``, which grant pays first, what expired.

Spendable balance is the sum of ``remaining`` over grants not expired at ``now``; a grant
whose ``expires_at`` equals ``now`` is already expired (expiry is the first instant the
credit is gone). Spend consumes grants in this order:

1. soonest expiry first (a grant that never expires goes last), so credit that would be
   lost is used before credit that keeps;
2. then free, promotional and goodwill grants before purchased and auto-recharge ones, so
   the customer's own money is spent last when nothing else tells them apart;
3. then the oldest grant first; the grant id breaks remaining ties so the order is total.

An expired grant's remainder is gone: the console may still show it as "remaining", which
is the runbook's "credits appeared available" trap. ``expired_remainders`` says what was
lost and when, with the notice that tells the customer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import NamedTuple

from quotadesk.billing.limits import require_aware
from quotadesk.billing.model import FREE_GRANT_KINDS, CreditGrant, GrantKind, Notice, NoticeKind


def _check(grant: CreditGrant, index: int) -> None:
    where = f"credit_grants[{index}]"
    for name in ("amount", "remaining"):
        value = getattr(grant, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}.{name}: expected int nano-dollars, got {type(value).__name__}")
        if value < 0:
            raise ValueError(f"{where}.{name}: must not be negative (got {value})")
    require_aware(grant.granted_at, f"{where}.granted_at")
    if grant.expires_at is not None:
        require_aware(grant.expires_at, f"{where}.expires_at")


def is_expired(grant: CreditGrant, now: datetime) -> bool:
    """True from ``expires_at`` on (``expires_at == now`` is expired); never for None."""
    now = require_aware(now)
    return grant.expires_at is not None and require_aware(grant.expires_at, "expires_at") <= now


def spendable_balance(grants: Iterable[CreditGrant], now: datetime) -> int:
    """Sum of ``remaining`` over grants not expired at ``now``, in nano-dollars."""
    now = require_aware(now)
    total = 0
    for i, grant in enumerate(grants):
        _check(grant, i)
        if not is_expired(grant, now):
            total += grant.remaining
    return total


_NEVER = datetime.max.replace(tzinfo=UTC)


def _order_key(grant: CreditGrant) -> tuple[datetime, bool, datetime, str]:
    return (
        _NEVER if grant.expires_at is None else grant.expires_at,
        grant.kind not in FREE_GRANT_KINDS,
        grant.granted_at,
        grant.id,
    )


def consumption_order(grants: Iterable[CreditGrant], now: datetime) -> tuple[CreditGrant, ...]:
    """The unexpired grants with credit left, in the order spend consumes them."""
    now = require_aware(now)
    items = list(grants)
    for i, grant in enumerate(items):
        _check(grant, i)
    live = [g for g in items if g.remaining > 0 and not is_expired(g, now)]
    return tuple(sorted(live, key=_order_key))


class Consumption(NamedTuple):
    """The result of spending: the grants afterwards (same order as given), how much each
    grant paid (``(grant_id, nanos)`` in consumption order, only grants that paid), and the
    part of the amount no grant could cover (0 when fully covered)."""

    grants: tuple[CreditGrant, ...]
    consumed: tuple[tuple[str, int], ...]
    shortfall: int


def consume(grants: Iterable[CreditGrant], amount: int, now: datetime) -> Consumption:
    """Spend ``amount`` nano-dollars from the grants in consumption order at ``now``.

    Never drives a grant below zero and never touches an expired grant; what cannot be
    covered is returned as ``shortfall`` so the caller decides (refuse, or bill as
    overage) instead of this function inventing a negative balance.
    """
    now = require_aware(now)
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValueError(f"amount: expected int nano-dollars, got {type(amount).__name__}")
    if amount < 0:
        raise ValueError(f"amount: must not be negative (got {amount})")
    items = tuple(grants)
    seen: set[str] = set()
    for i, grant in enumerate(items):
        if grant.id in seen:
            raise ValueError(f"credit_grants[{i}].id: duplicate grant id {grant.id!r}")
        seen.add(grant.id)
    left = amount
    paid: dict[str, int] = {}
    for grant in consumption_order(items, now):
        if left == 0:
            break
        take = min(grant.remaining, left)
        paid[grant.id] = take
        left -= take
    updated = tuple(replace(g, remaining=g.remaining - paid[g.id]) if g.id in paid else g for g in items)
    consumed = tuple(paid.items())
    return Consumption(updated, consumed, left)


@dataclass(frozen=True, slots=True)
class ExpiredRemainder:
    """Credit that was still ``remaining`` when its grant expired: lost, not spendable."""

    grant_id: str
    kind: GrantKind
    remaining: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ExpiredCredits:
    """Everything lost to expiry at ``now``: each remainder, their ``total`` (nano-dollars)
    and the ``credits_expired`` notice dated at the latest expiry (None when nothing was
    lost), so a reply can say "your $4.20 of trial credit expired on 2 November"."""

    lost: tuple[ExpiredRemainder, ...]
    total: int
    notice: Notice | None


def expired_remainders(grants: Iterable[CreditGrant], now: datetime) -> ExpiredCredits:
    """The remainders of grants expired at ``now`` (soonest expiry first)."""
    now = require_aware(now)
    lost: list[ExpiredRemainder] = []
    for i, grant in enumerate(grants):
        _check(grant, i)
        if grant.expires_at is not None and grant.remaining > 0 and is_expired(grant, now):
            lost.append(ExpiredRemainder(grant.id, grant.kind, grant.remaining, grant.expires_at))
    lost.sort(key=lambda r: (r.expires_at, r.grant_id))
    notice = Notice(kind=NoticeKind.CREDITS_EXPIRED, at=lost[-1].expires_at) if lost else None
    return ExpiredCredits(tuple(lost), sum(r.remaining for r in lost), notice)
