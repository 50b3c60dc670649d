"""Back-office changes to an organization that the desk makes on a person's behalf.

Each function checks the actor's role against ``access.PERMISSIONS`` (a refusal is audited and
raises ``ForbiddenError`` naming the roles that may), changes the books in one transaction with
the organization locked, and writes the audit row (target, before, after) in that same
transaction. They are the library the HTTP API and the back-office CLI both call.

- ``set_tier``: a manual tier, kept by the month close until it is set back to ``auto``;
- ``set_rate_limits``: negotiated per-model RPM/TPM that replace the tier's for those models;
- ``link_stripe``: the Stripe customer (``cus_…``) an organization pays as;
- ``lift_flag_id``: lift one flag by its id (the flag's kind decides who may);
- ``record_invoice_payment``: money Finance received outside the card processor (a wire);
- ``waive_invoice``: Finance forgives an invoice (void), written off in the ledger.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from quotadesk.billing.model import FlagKind, InvoiceStatus, PaymentPurpose, PaymentStatus
from quotadesk.billing.suspension import can_lift
from quotadesk.billing.tiers import DEFAULT_TIERS, TierTable
from quotadesk.errors import InputError, NotFoundError
from quotadesk.store import ledger
from quotadesk.store.access import Actor, audit, check, flag_action, refuse
from quotadesk.store.db import transaction
from quotadesk.store.errors import ConflictError
from quotadesk.store.flags import sync_status
from quotadesk.store.schema import flags, invoices, organizations, payments
from quotadesk.store.snapshot import org_row
from quotadesk.store.values import aware, new_id

AUTO = "auto"
WAIVED = "external:waivers"
"""Ledger account of forgiven invoices: what the platform chose not to collect (goes negative)."""

_STRIPE_CUSTOMER = re.compile(r"^cus_[A-Za-z0-9]{1,60}$")
_MAX_RATE = 10**12


def set_tier(
    engine: Engine, actor: Actor, now: datetime, org_id: str, current: str, tiers: TierTable = DEFAULT_TIERS
) -> None:
    """Put ``org_id`` on tier ``current`` by hand (kept until set to ``auto``), or back to ``auto``,
    where the month close's rules apply again from the tier it is on."""
    now = aware(now)
    if not isinstance(current, str) or not current.strip():
        raise InputError(f"expected a tier name or 'auto' ({', '.join(tiers.names)})", "current")
    name = current.strip()
    if name != AUTO:
        try:
            name = tiers.get(name).name
        except ValueError as exc:
            raise InputError(
                f"unknown tier {name!r}; expected 'auto' or one of {', '.join(tiers.names)}", "current"
            ) from exc
    check(engine, actor, "set_tier", now, org_id=org_id, target=org_id, tier=name)
    with transaction(engine) as conn:
        row = org_row(conn, org_id, lock=True)
        before = {"tier": row.tier_current, "manual": bool(row.tier_manual)}
        values: dict[str, object] = {"tier_manual": name != AUTO}
        if name != AUTO:
            values |= {"tier_current": name, "tier_pending_target": None, "tier_pending_at": None}
            if name != row.tier_current:
                values["tier_since"] = now
        conn.execute(
            update(organizations)
            .where(organizations.c.id == org_id)
            .values(**values, version=organizations.c.version + 1)
        )
        after = {"tier": name if name != AUTO else row.tier_current, "manual": name != AUTO}
        audit(conn, actor, "set_tier", now, org_id=org_id, target=org_id, before=before, after=after)


def _rate_value(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"expected a whole number or null, got {type(value).__name__}", where)
    if not 0 < value <= _MAX_RATE:
        raise InputError(f"must be between 1 and {_MAX_RATE}", where)
    return value


def parse_rate_limits(limits: object) -> dict[str, dict[str, int | None]]:
    """``{model: {rpm, tpm}}`` checked field by field (a model with neither is refused)."""
    if not isinstance(limits, Mapping):
        raise InputError("expected an object {model: {rpm, tpm}}", "rate_limits")
    out: dict[str, dict[str, int | None]] = {}
    for model, spec in limits.items():
        if not isinstance(model, str) or not model.strip() or len(model) > 200:
            raise InputError("expected a model name of 1 to 200 characters", "rate_limits")
        where = f"rate_limits.{model}"
        if not isinstance(spec, Mapping):
            raise InputError("expected {rpm, tpm}", where)
        unknown = sorted(set(spec) - {"rpm", "tpm"})
        if unknown:
            raise InputError(f"unknown field {unknown[0]!r}; expected rpm and tpm", f"{where}.{unknown[0]}")
        rpm, tpm = _rate_value(spec.get("rpm"), f"{where}.rpm"), _rate_value(spec.get("tpm"), f"{where}.tpm")
        if rpm is None and tpm is None:
            raise InputError("give rpm, tpm or both", where)
        out[model.strip()] = {"rpm": rpm, "tpm": tpm}
    return out


def set_rate_limits(engine: Engine, actor: Actor, now: datetime, org_id: str, limits: object) -> None:
    """Negotiated limits for the models named; other models keep the tier's. ``{}`` clears them."""
    now = aware(now)
    parsed = parse_rate_limits(limits)
    check(engine, actor, "set_rate_limits", now, org_id=org_id, target=org_id)
    with transaction(engine) as conn:
        row = org_row(conn, org_id, lock=True)
        before = json.loads(row.rate_limits) if row.rate_limits else None
        conn.execute(
            update(organizations)
            .where(organizations.c.id == org_id)
            .values(rate_limits=json.dumps(parsed) if parsed else None, version=organizations.c.version + 1)
        )
        audit(
            conn,
            actor,
            "set_rate_limits",
            now,
            org_id=org_id,
            target=org_id,
            before={"rate_limits": before},
            after={"rate_limits": parsed or None},
        )


def check_stripe_customer(customer: object) -> str:
    if not isinstance(customer, str) or not _STRIPE_CUSTOMER.match(customer):
        raise InputError("expected a Stripe customer id such as cus_NffrFeUfNV2Hib", "stripe_customer")
    return customer


def link_stripe(engine: Engine, actor: Actor, now: datetime, org_id: str, customer: str | None) -> None:
    """Link ``org_id`` to Stripe customer ``customer`` (None unlinks); one org per customer."""
    now = aware(now)
    cus = None if customer is None else check_stripe_customer(customer)
    check(engine, actor, "link_stripe", now, org_id=org_id, target=org_id)
    with transaction(engine) as conn:
        row = org_row(conn, org_id, lock=True)
        if cus is not None:
            other = conn.execute(
                select(organizations.c.id).where(
                    organizations.c.stripe_customer == cus, organizations.c.id != org_id
                )
            ).scalar()
            if other is not None:
                raise ConflictError(f"{cus} is already linked to organization {other}", "stripe_customer")
        conn.execute(update(organizations).where(organizations.c.id == org_id).values(stripe_customer=cus))
        audit(
            conn,
            actor,
            "link_stripe",
            now,
            org_id=org_id,
            target=org_id,
            before={"stripe_customer": row.stripe_customer},
            after={"stripe_customer": cus},
        )


def flag_org(engine: Engine, flag_id: int) -> tuple[str, FlagKind]:
    with transaction(engine) as conn:
        row = conn.execute(select(flags.c.org_id, flags.c.kind).where(flags.c.id == flag_id)).first()
    if row is None:
        raise NotFoundError(f"no flag {flag_id}", "flag")
    return str(row.org_id), FlagKind(row.kind)


def lift_flag_id(
    engine: Engine, actor: Actor, now: datetime, org_id: str, flag_id: int, reason: str
) -> dict[str, Any]:
    """Lift flag ``flag_id`` of ``org_id``: only the team that owns its kind (or an admin) may.
    Lifting a flag already lifted changes nothing. Returns the flag as it now is."""
    now = aware(now)
    owner, kind = flag_org(engine, flag_id)
    if owner != org_id:
        raise NotFoundError(f"organization {org_id} has no flag {flag_id}", "flag")
    if not isinstance(reason, str) or not reason.strip():
        raise InputError("say why the flag is lifted (it is kept in the audit log)", "reason")
    action = flag_action("lift_flag", kind)
    if not can_lift(actor.role.value, kind):
        refuse(engine, actor, action, now, org_id=org_id, target=f"flag:{flag_id}", kind=kind.value)
    with transaction(engine) as conn:
        org_row(conn, org_id, lock=True)
        row = conn.execute(select(flags).where(flags.c.id == flag_id)).one()
        if row.active:
            conn.execute(
                update(flags)
                .where(flags.c.id == flag_id)
                .values(active=False, lifted_at=now, lifted_by=actor.name)
            )
            sync_status(conn, org_id)
            audit(
                conn,
                actor,
                "lift_flag",
                now,
                org_id=org_id,
                target=f"flag:{flag_id}",
                before={"active": True},
                after={"active": False},
                kind=kind.value,
                reason=reason.strip(),
            )
        row = conn.execute(select(flags).where(flags.c.id == flag_id)).one()
        return dict(row._mapping)


def _open_invoice(engine: Engine, invoice_id: str) -> Any:
    with transaction(engine) as conn:
        inv = conn.execute(select(invoices).where(invoices.c.id == invoice_id)).first()
    if inv is None:
        raise NotFoundError(f"no invoice {invoice_id!r}", "invoice_id")
    return inv


def _payable(conn: Any, invoice_id: str) -> Any:
    inv = conn.execute(select(invoices).where(invoices.c.id == invoice_id)).one()
    if inv.status not in (InvoiceStatus.OPEN.value, InvoiceStatus.OVERDUE.value):
        raise ConflictError(f"invoice {invoice_id} is {inv.status}, not payable", "invoice_id")
    return inv


def record_invoice_payment(
    engine: Engine, actor: Actor, now: datetime, invoice_id: str, *, reference: str
) -> str:
    """Finance received an invoice's money outside the card processor (bank transfer, cheque,
    a Stripe invoice paid by the customer's own means): the invoice is paid. Returns the payment id.
    An outstanding-balance flag stays until Finance lifts it: the books do not reinstate."""
    now = aware(now)
    if not isinstance(reference, str) or not reference.strip() or len(reference) > 200:
        raise InputError("expected the payment's reference (1 to 200 characters)", "reference")
    inv = _open_invoice(engine, invoice_id)
    check(engine, actor, "record_invoice_payment", now, org_id=inv.org_id, target=f"invoice:{invoice_id}")
    with transaction(engine) as conn:
        org_row(conn, inv.org_id, lock=True)
        inv = _payable(conn, invoice_id)
        pay_id = new_id("pay")
        conn.execute(
            insert(payments).values(
                id=pay_id,
                org_id=inv.org_id,
                payment_method_id=None,
                at=now,
                amount=int(inv.amount),
                purpose=PaymentPurpose.INVOICE.value,
                status=PaymentStatus.SUCCEEDED.value,
                invoice_id=invoice_id,
                processor_ref=reference.strip(),
            )
        )
        conn.execute(update(invoices).where(invoices.c.id == invoice_id).values(status="paid", paid_at=now))
        if int(inv.amount):
            ledger.post(
                conn,
                kind="invoice_payment",
                at=now,
                org_id=inv.org_id,
                ref=pay_id,
                postings=[
                    ledger.Posting(ledger.invoice_account(invoice_id), int(inv.amount)),
                    ledger.Posting(ledger.EXTERNAL_PROCESSOR, -int(inv.amount)),
                ],
            )
        audit(
            conn,
            actor,
            "record_invoice_payment",
            now,
            org_id=inv.org_id,
            target=f"invoice:{invoice_id}",
            before={"status": inv.status},
            after={"status": "paid"},
            payment=pay_id,
            reference=reference.strip(),
        )
    return pay_id


def waive_invoice(engine: Engine, actor: Actor, now: datetime, invoice_id: str, *, reason: str) -> None:
    """Forgive an open or overdue invoice (Finance or an admin only; support never waives)."""
    now = aware(now)
    if not isinstance(reason, str) or not reason.strip():
        raise InputError("say why the invoice is waived (it is kept in the audit log)", "reason")
    inv = _open_invoice(engine, invoice_id)
    check(engine, actor, "waive_invoice", now, org_id=inv.org_id, target=f"invoice:{invoice_id}")
    with transaction(engine) as conn:
        org_row(conn, inv.org_id, lock=True)
        inv = _payable(conn, invoice_id)
        conn.execute(update(invoices).where(invoices.c.id == invoice_id).values(status="void"))
        if int(inv.amount):
            ledger.post(
                conn,
                kind="invoice_waived",
                at=now,
                org_id=inv.org_id,
                ref=invoice_id,
                postings=[
                    ledger.Posting(ledger.invoice_account(invoice_id), int(inv.amount)),
                    ledger.Posting(WAIVED, -int(inv.amount)),
                ],
            )
        audit(
            conn,
            actor,
            "waive_invoice",
            now,
            org_id=inv.org_id,
            target=f"invoice:{invoice_id}",
            before={"status": inv.status},
            after={"status": "void"},
            reason=reason.strip(),
        )
