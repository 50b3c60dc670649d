"""Rebuild the pure ``billing.model.Organization`` from the store, so the rulebook decides.

The store keeps rows; the rulebook takes values. This module is the only translation
between the two, in both directions where needed (``grant_record`` and friends turn a row
into the model record). Nothing here decides anything.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Row, RowMapping, select

from quotadesk.billing.model import (
    ApiKey,
    AutoRecharge,
    BillingMode,
    ConsoleAccess,
    CreditGrant,
    Environment,
    Flag,
    FlagKind,
    FlagSource,
    GrantKind,
    Invoice,
    InvoiceStatus,
    KeyScope,
    KeyStatus,
    Notice,
    Organization,
    OrgStatus,
    Payment,
    PaymentMethod,
    PaymentMethodStatus,
    PaymentPurpose,
    PaymentStatus,
    PendingUpgrade,
    RateLimit,
    SpendLimits,
    TierState,
)
from quotadesk.errors import NotFoundError
from quotadesk.store.schema import (
    api_keys,
    credit_grants,
    flags,
    invoices,
    notices,
    organizations,
    payment_methods,
    payments,
)


def org_row(conn: Connection, org_id: str, *, lock: bool = False) -> Row[Any]:
    """The organization's row, locked ``FOR UPDATE`` on PostgreSQL when ``lock`` (on SQLite the
    transaction already holds the write lock); ``NotFoundError`` naming ``org_id`` otherwise."""
    query = select(organizations).where(organizations.c.id == org_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFoundError(f"no organization {org_id!r}", "org_id")
    return row


def grant_record(r: RowMapping) -> CreditGrant:
    return CreditGrant(
        id=r["id"],
        kind=GrantKind(r["kind"]),
        amount=int(r["amount"]),
        remaining=int(r["remaining"]),
        granted_at=r["granted_at"],
        expires_at=r["expires_at"],
    )


def payment_record(r: RowMapping) -> Payment:
    return Payment(
        id=r["id"],
        at=r["at"],
        amount=int(r["amount"]),
        status=PaymentStatus(r["status"]),
        purpose=PaymentPurpose(r["purpose"]),
        failure_code=r["failure_code"],
    )


def method_record(r: RowMapping) -> PaymentMethod:
    return PaymentMethod(
        id=r["id"],
        status=PaymentMethodStatus(r["status"]),
        brand=r["brand"],
        last4=r["last4"],
        exp_month=r["exp_month"],
        exp_year=r["exp_year"],
        default=bool(r["is_default"]),
    )


def invoice_record(r: RowMapping) -> Invoice:
    return Invoice(
        id=r["id"],
        period_start=r["period_start"],
        period_end=r["period_end"],
        amount=int(r["amount"]),
        status=InvoiceStatus(r["status"]),
        due_at=r["due_at"],
    )


def key_record(r: RowMapping) -> ApiKey:
    return ApiKey(
        id=r["id"],
        status=KeyStatus(r["status"]),
        name=r["name"],
        redacted=r["redacted"],
        scope=KeyScope(r["scope"]),
        owner=r["owner"],
        owner_active=bool(r["owner_active"]),
        environment=Environment(r["environment"]) if r["environment"] else None,
        created_at=r["created_at"],
        last_used_at=r["last_used_at"],
        secret_hash=r["secret_hash"],
    )


def flag_record(r: RowMapping) -> Flag:
    return Flag(
        kind=FlagKind(r["kind"]), at=r["at"], source=FlagSource(r["source"]), active=bool(r["active"])
    )


def _rate_limits(text: str | None) -> dict[str, RateLimit] | None:
    if text is None:
        return None
    raw = json.loads(text)
    return {m: RateLimit(rpm=v.get("rpm"), tpm=v.get("tpm")) for m, v in raw.items()}


def _model_access(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(json.loads(text))


def load_grants(conn: Connection, org_id: str) -> tuple[CreditGrant, ...]:
    rows = conn.execute(
        select(credit_grants).where(credit_grants.c.org_id == org_id).order_by(credit_grants.c.granted_at)
    )
    return tuple(grant_record(r._mapping) for r in rows)


def load_payments(conn: Connection, org_id: str) -> tuple[Payment, ...]:
    rows = conn.execute(
        select(payments).where(payments.c.org_id == org_id).order_by(payments.c.at, payments.c.id)
    )
    return tuple(payment_record(r._mapping) for r in rows)


def load_organization(conn: Connection, org_id: str, *, lock: bool = False) -> Organization:
    """Everything the rulebook needs about ``org_id``, as of the store's current state.

    ``lock`` takes the organization row ``FOR UPDATE`` first (PostgreSQL), so a decision
    made on this snapshot cannot be raced by another writer to the same organization.
    """
    row = org_row(conn, org_id, lock=lock)._mapping
    by_org = {
        "flags": conn.execute(select(flags).where(flags.c.org_id == org_id).order_by(flags.c.at, flags.c.id)),
        "notices": conn.execute(
            select(notices.c.kind, notices.c.at)
            .where(notices.c.org_id == org_id)
            .order_by(notices.c.at, notices.c.id)
        ),
        "methods": conn.execute(
            select(payment_methods)
            .where(payment_methods.c.org_id == org_id)
            .order_by(payment_methods.c.created_at, payment_methods.c.id)
        ),
        "invoices": conn.execute(
            select(invoices).where(invoices.c.org_id == org_id).order_by(invoices.c.period_start)
        ),
        "keys": conn.execute(
            select(api_keys).where(api_keys.c.org_id == org_id).order_by(api_keys.c.created_at, api_keys.c.id)
        ),
    }
    flag_list = tuple(flag_record(r._mapping) for r in by_org["flags"])
    notice_list = tuple(Notice(kind=str(k), at=at) for k, at in by_org["notices"])
    methods = tuple(method_record(r._mapping) for r in by_org["methods"])
    invoice_list = tuple(invoice_record(r._mapping) for r in by_org["invoices"])
    keys = tuple(key_record(r._mapping) for r in by_org["keys"])
    pending = (
        PendingUpgrade(row["tier_pending_target"], row["tier_pending_at"])
        if row["tier_pending_target"]
        else None
    )
    return Organization(
        id=row["id"],
        name=row["name"],
        created_at=row["created_at"],
        billing_mode=BillingMode(row["billing_mode"]),
        status=OrgStatus(row["status"]),
        console_access=ConsoleAccess(row["console_access"]),
        flags=flag_list,
        notices=notice_list,
        tier=TierState(current=row["tier_current"], since=row["tier_since"], pending=pending),
        payment_methods=methods,
        payments=load_payments(conn, org_id),
        credit_grants=load_grants(conn, org_id),
        auto_recharge=AutoRecharge(
            enabled=bool(row["auto_recharge_enabled"]),
            threshold=row["auto_recharge_threshold"],
            amount=row["auto_recharge_amount"],
            daily_cap=int(row["auto_recharge_daily_cap"]),
        ),
        spend_limits=SpendLimits(soft=row["soft_limit"], hard=row["hard_limit"]),
        invoices=invoice_list,
        api_keys=keys,
        rate_limits=_rate_limits(row["rate_limits"]),
        model_access=_model_access(row["model_access"]),
    )
