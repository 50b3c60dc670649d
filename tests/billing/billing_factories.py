"""Small builders for the books, so each test states only what matters to its rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from quotadesk.billing.model import (
    ApiKey,
    AutoRecharge,
    BillingMode,
    CreditGrant,
    Flag,
    FlagKind,
    GrantKind,
    Invoice,
    InvoiceStatus,
    KeyScope,
    KeyStatus,
    Organization,
    PaymentMethod,
    PaymentMethodStatus,
    SpendLimits,
    TierState,
)
from quotadesk.money import nanos

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def usd(text: str) -> int:
    return nanos(text)


def grant(
    gid: str = "cg_1",
    remaining: str = "10.00",
    *,
    kind: GrantKind = GrantKind.PURCHASED,
    amount: str | None = None,
    granted_at: datetime = NOW - 30 * DAY,
    expires_at: datetime | None = None,
) -> CreditGrant:
    return CreditGrant(
        id=gid,
        kind=kind,
        amount=usd(amount if amount is not None else remaining),
        remaining=usd(remaining),
        granted_at=granted_at,
        expires_at=expires_at,
    )


def card(status: PaymentMethodStatus = PaymentMethodStatus.VALID, **kw: Any) -> PaymentMethod:
    base: dict[str, Any] = {"id": "pm_1", "brand": "visa", "last4": "4242", "exp_month": 8, "exp_year": 2028}
    base |= {"default": True} | kw
    return PaymentMethod(status=status, **base)


KEY = ApiKey(id="key_1", status=KeyStatus.ACTIVE, redacted="sk-...a1b2", secret_hash="ab" * 32)


def org(**kw: Any) -> Organization:
    """A healthy prepaid tier2 org: $100 purchased credit, valid card, one active org key."""
    base: dict[str, Any] = {
        "id": "org_1",
        "created_at": NOW - 400 * DAY,
        "billing_mode": BillingMode.PREPAID,
        "tier": TierState(current="tier2", since=NOW - 300 * DAY),
        "payment_methods": (card(),),
        "credit_grants": (grant(remaining="100.00"),),
        "api_keys": (KEY,),
    }
    base |= kw
    return Organization(**base)


def personal_key(owner_active: bool, status: KeyStatus = KeyStatus.ACTIVE) -> ApiKey:
    return ApiKey(
        id="key_1",
        status=status,
        redacted="sk-...c3d4",
        scope=KeyScope.PERSONAL,
        owner="dana@example.com",
        owner_active=owner_active,
    )


def flag(kind: FlagKind, active: bool = True) -> Flag:
    return Flag(kind=kind, at=NOW - DAY, active=active)


def invoice(status: InvoiceStatus = InvoiceStatus.OPEN, due_at: datetime | None = NOW - 5 * DAY) -> Invoice:
    return Invoice(
        id="inv_1",
        period_start=datetime(2026, 10, 1, tzinfo=UTC),
        period_end=datetime(2026, 11, 1, tzinfo=UTC),
        amount=usd("1200.00"),
        status=status,
        due_at=due_at,
    )


__all__ = [
    "DAY",
    "KEY",
    "NOW",
    "AutoRecharge",
    "SpendLimits",
    "card",
    "flag",
    "grant",
    "invoice",
    "org",
    "personal_key",
    "usd",
]
