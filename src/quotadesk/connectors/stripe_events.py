"""Stripe events into the books: the same payments, notices, cards and invoice states the
built-in processor makes, whatever order the events come in and however often.

Stripe retries deliveries and does not order its events, and one card failure arrives as
two events (``payment_intent.payment_failed`` and ``charge.failed``), sometimes three
(``invoice.payment_failed``). So an event is not a command; it is evidence about one charge
attempt, one invoice or one card, and applying it merges that evidence into the books:

- **charge attempts** are keyed by Stripe's ids: ``pi_…/ch_…`` when both are known, else the
  one that is (``payments.processor_ref``). Every event about an attempt lands on the same
  payment row; a later event only fills what an earlier one did not know (the decline code,
  the advice code, that it paid an invoice). A payment our own processor started carries
  ``metadata.quotadesk_payment``, and an event for it finishes it if it is still pending
  (a crash between charge and settle) and otherwise changes nothing.
- **a card's status** is read from its latest attempt by Stripe's own time (a success makes
  it valid, a decline or expiry marks it), so an old failure arriving late does not undo a
  newer success. Card details (expiry, a new number after an automatic update) apply only
  when the event is newer than the last one applied to that card.
- **invoices** move forward only: open → overdue → paid. An ``invoice.overdue`` that arrives
  after ``invoice.paid`` leaves the invoice paid (the notice is still on record, at its own
  time, since the invoice was overdue then). An invoice is ours when its metadata names it
  (``quotadesk_invoice``) or it is for a period we invoiced; otherwise it is mirrored into the
  books under its Stripe id, posted against ``external:stripe_invoices``.
- **notices** carry a dedupe key per attempt, invoice or card, so none is written twice.

Amounts are US cents (Stripe's minor unit) and become nano-dollars; an event in another
currency is refused (the books keep dollars) and kept with the reason. Everything one event
does happens in one transaction with the organization locked, together with its row in the
delivery log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from quotadesk.billing.model import (
    CreditGrant,
    GrantKind,
    InvoiceStatus,
    NoticeKind,
    PaymentMethodStatus,
    PaymentPurpose,
    PaymentStatus,
)
from quotadesk.connectors.background import get_state, put_state
from quotadesk.store import ledger
from quotadesk.store.access import Actor, Role, audit
from quotadesk.store.payments import finish_charge, insert_grant
from quotadesk.store.processor import ChargeResult, expired
from quotadesk.store.schema import (
    invoices,
    notices,
    organizations,
    payment_methods,
    payments,
)
from quotadesk.store.values import add_notice, new_id

JSON = dict[str, Any]
STRIPE = Actor("stripe", Role.SYSTEM)
NANOS_PER_CENT = 10_000_000
STRIPE_INVOICES = "external:stripe_invoices"
"""Ledger account of invoices Stripe issued that the books did not (mirrored ones)."""
CARD_EXPIRING = "card_expiring"

FAILURE_EVENTS = ("payment_intent.payment_failed", "charge.failed")
CARD_EVENTS = (
    "customer.source.expiring",
    "customer.source.created",
    "customer.source.updated",
    "payment_method.attached",
    "payment_method.updated",
    "payment_method.automatically_updated",
)
INVOICE_EVENTS = ("invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed", "invoice.overdue")
HANDLED = (*FAILURE_EVENTS, "payment_intent.succeeded", *INVOICE_EVENTS, *CARD_EVENTS)


@dataclass(frozen=True, slots=True)
class Applied:
    """What one event did: the outcome for the delivery log, the org, and what changed."""

    outcome: str
    org_id: str | None = None
    changes: list[str] = field(default_factory=list)
    reason: str | None = None

    def detail(self) -> JSON:
        out: JSON = {"changes": self.changes}
        if self.reason:
            out["reason"] = self.reason
        return out


class EventError(ValueError):
    """The event is not the shape Stripe documents (a field missing or of the wrong type)."""


# ------------------------------------------------------------------------------ reading events


def _id(value: object) -> str | None:
    """An id field that may be expanded into its object."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _when(value: object, fallback: datetime) -> datetime:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return fallback


def _cents(obj: Mapping[str, Any], *names: str) -> int:
    for name in names:
        value = obj.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    raise EventError(f"no amount ({' or '.join(names)}) in the {obj.get('object', 'object')}")


def customer_of(event: Mapping[str, Any]) -> str | None:
    """The Stripe customer an event is about (None: it is about none)."""
    obj = _object(event)
    if obj.get("object") == "customer":
        return _id(obj.get("id"))
    return _id(obj.get("customer"))


def _object(event: Mapping[str, Any]) -> Mapping[str, Any]:
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(obj, Mapping):
        raise EventError("no data.object in the event")
    return obj


@dataclass(frozen=True, slots=True)
class Attempt:
    """One charge attempt, as any of the events about it describes it."""

    intent: str | None
    charge: str | None
    at: datetime
    cents: int
    currency: str
    code: str | None = None
    decline_code: str | None = None
    advice_code: str | None = None
    card_token: str | None = None
    card: Mapping[str, Any] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    invoice: str | None = None

    @property
    def ref(self) -> str:
        return "/".join(p for p in (self.intent, self.charge) if p)


def contract_code(code: str | None, decline: str | None) -> str:
    """Stripe's error code and decline code → the case bundle's failure code."""
    if "expired_card" in (code, decline):
        return "expired_card"
    if "insufficient_funds" in (code, decline):
        return "insufficient_funds"
    if "processing_error" in (code, decline):
        return "processing_error"
    return "card_declined"


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _pi_charge(pi: Mapping[str, Any]) -> str | None:
    charge = _id(pi.get("latest_charge"))
    if charge:
        return charge
    error = pi.get("last_payment_error")
    if isinstance(error, Mapping) and _id(error.get("charge")):
        return _id(error.get("charge"))
    charges = pi.get("charges")
    data = charges.get("data") if isinstance(charges, Mapping) else None
    if isinstance(data, list) and data:
        return _id(data[-1])
    return None


def attempt_of_intent(pi: Mapping[str, Any], at: datetime) -> Attempt:
    error = _map(pi.get("last_payment_error"))
    method = error.get("payment_method")
    card = method.get("card") if isinstance(method, Mapping) else None
    return Attempt(
        intent=_id(pi.get("id")),
        charge=_pi_charge(pi),
        at=at,
        cents=_cents(pi, "amount_received", "amount")
        if pi.get("status") == "succeeded"
        else _cents(pi, "amount"),
        currency=str(pi.get("currency") or "").lower(),
        code=_str(error.get("code")),
        decline_code=_str(error.get("decline_code")),
        advice_code=_str(error.get("advice_code")) or _str(error.get("network_advice_code")),
        card_token=_id(method) or _id(pi.get("payment_method")),
        card=card if isinstance(card, Mapping) else None,
        metadata=_map(pi.get("metadata")),
        invoice=_id(pi.get("invoice")),
    )


def attempt_of_charge(ch: Mapping[str, Any], at: datetime) -> Attempt:
    outcome = _map(ch.get("outcome"))
    details = ch.get("payment_method_details")
    card = details.get("card") if isinstance(details, Mapping) else None
    if card is None and isinstance(ch.get("source"), Mapping) and ch["source"].get("object") == "card":
        card = ch["source"]
    decline = _str(outcome.get("reason"))
    if decline in ("elevated_risk_level", "highest_risk_level"):
        decline = None  # a Radar verdict, not the issuer's decline code
    return Attempt(
        intent=_id(ch.get("payment_intent")),
        charge=_id(ch.get("id")),
        at=_when(ch.get("created"), at),
        cents=_cents(ch, "amount"),
        currency=str(ch.get("currency") or "").lower(),
        code=_str(ch.get("failure_code")),
        decline_code=decline,
        advice_code=_str(outcome.get("advice_code")) or _str(outcome.get("network_advice_code")),
        card_token=_id(ch.get("payment_method")) or _id(ch.get("source")),
        card=card if isinstance(card, Mapping) else None,
        metadata=_map(ch.get("metadata")),
        invoice=_id(ch.get("invoice")),
    )


# ------------------------------------------------------------------------------ applying


def org_for_customer(conn: Connection, customer: str) -> str | None:
    return conn.execute(
        select(organizations.c.id).where(organizations.c.stripe_customer == customer)
    ).scalar()


def apply_event(conn: Connection, event: Mapping[str, Any], org_id: str, now: datetime) -> Applied:
    """Merge ``event`` into ``org_id``'s books (the org is locked by the caller)."""
    kind = str(event.get("type") or "")
    obj = _object(event)
    at = _when(event.get("created"), now)
    if kind in FAILURE_EVENTS:
        att = attempt_of_intent(obj, at) if kind.startswith("payment_intent") else attempt_of_charge(obj, at)
        return _failed(conn, org_id, att, now)
    if kind == "payment_intent.succeeded":
        return _succeeded(conn, org_id, attempt_of_intent(obj, at), now)
    if kind in INVOICE_EVENTS:
        return _invoice(conn, org_id, kind, obj, at, now)
    if kind in CARD_EVENTS:
        card = obj.get("card") if obj.get("object") == "payment_method" else obj
        if not isinstance(card, Mapping):
            raise EventError("no card in the payment method")
        changes = _card_changes(_card(conn, org_id, _id(obj.get("id")), card, at))
        if kind == "customer.source.expiring":
            token = _id(obj.get("id")) or ""
            if add_notice(
                conn,
                org_id,
                CARD_EXPIRING,
                at,
                dedupe_key=f"{CARD_EXPIRING}:{token}:{card.get('exp_year')}-{card.get('exp_month')}",
                brand=card.get("brand"),
                last4=card.get("last4"),
                exp_month=card.get("exp_month"),
                exp_year=card.get("exp_year"),
            ):
                changes.append("notice card_expiring")
        return Applied("applied", org_id, changes)
    return Applied(
        "ignored", org_id, reason=f"{kind or 'an event without a type'} is not an event the books take"
    )


def _check_currency(att: Attempt) -> None:
    if att.currency != "usd":
        raise CurrencyError(f"the charge is in {att.currency or 'no currency'}; the books keep US dollars")


class CurrencyError(ValueError):
    pass


def _ours(conn: Connection, org_id: str, att: Attempt) -> Any:
    """The payment our own processor made for this attempt (metadata, or the intent id it kept)."""
    pay_id = _str(att.metadata.get("quotadesk_payment"))
    if pay_id:
        row = conn.execute(
            select(payments).where(payments.c.id == pay_id, payments.c.org_id == org_id)
        ).first()
        if row is not None:
            return row
    return None


def _existing(conn: Connection, org_id: str, att: Attempt, status: str) -> Any:
    """The row this attempt already is: the same ``pi/ch`` ref, or a row of its intent (or
    charge) alone, not yet bound to another charge, of a compatible status."""
    refs = {att.ref}
    if att.intent:
        refs.add(att.intent)
    if att.charge:
        refs.add(att.charge)
    rows = conn.execute(
        select(payments).where(payments.c.org_id == org_id, payments.c.processor_ref.in_(sorted(refs)))
    ).all()
    exact = [r for r in rows if r.processor_ref == att.ref]
    for r in exact + [r for r in rows if r.processor_ref != att.ref]:
        if r.status in (status, PaymentStatus.PENDING.value):
            return r
    return None


def _purpose(att: Attempt, invoice_id: str | None) -> PaymentPurpose:
    given = _str(att.metadata.get("quotadesk_purpose"))
    if given in {p.value for p in PaymentPurpose}:
        return PaymentPurpose(given)
    return PaymentPurpose.INVOICE if invoice_id else PaymentPurpose.TOP_UP


def _our_invoice_by_stripe_id(conn: Connection, org_id: str, stripe_invoice: str | None) -> str | None:
    if not stripe_invoice:
        return None
    return conn.execute(
        select(invoices.c.id).where(invoices.c.org_id == org_id, invoices.c.id == stripe_invoice)
    ).scalar()


def _failed(
    conn: Connection, org_id: str, att: Attempt, now: datetime, invoice_id: str | None = None
) -> Applied:
    _check_currency(att)
    invoice_id = invoice_id or _our_invoice_by_stripe_id(conn, org_id, att.invoice)
    code = contract_code(att.code, att.decline_code) if (att.code or att.decline_code) else None
    row = _ours(conn, org_id, att) or _existing(conn, org_id, att, PaymentStatus.FAILED.value)
    changes: list[str] = []
    if row is not None and row.status == PaymentStatus.PENDING.value:
        # our own charge, left pending by a crash: settle it as the processor flow does
        # (its notice and card status included), then keep what Stripe adds below
        finish_charge(conn, row.id, ChargeResult(False, att.ref, code or "card_declined"), att.at)
        changes.append(f"payment {row.id} finished: failed")
        row = conn.execute(select(payments).where(payments.c.id == row.id)).one()
        ours_finished = True
    else:
        ours_finished = False
    if row is not None:
        if row.status != PaymentStatus.FAILED.value:
            return Applied("applied", org_id, changes, reason=f"payment {row.id} is {row.status}")
        values: JSON = {}
        if row.processor_ref != att.ref and len(att.ref) > len(row.processor_ref or ""):
            values["processor_ref"] = att.ref
        for name, value in (("decline_code", att.decline_code), ("advice_code", att.advice_code)):
            if value and not row._mapping[name]:
                values[name] = value
        if code and not row.failure_code:
            values["failure_code"] = code
        if att.at < row.at:
            values["at"] = att.at  # the attempt's time is the earliest any event gives for it
        if invoice_id and not row.invoice_id:
            values |= {"invoice_id": invoice_id, "purpose": PaymentPurpose.INVOICE.value}
        if not row.payment_method_id and att.card_token:
            changes.extend(
                _card_changes(_card(conn, org_id, att.card_token, att.card, att.at, details=False))
            )
            pm = _pm_id(conn, org_id, att.card_token)
            if pm is not None:
                values["payment_method_id"] = pm
        if values:
            conn.execute(update(payments).where(payments.c.id == row.id).values(**values))
            changes.append(f"payment {row.id}: {', '.join(sorted(values))}")
        pay_id = str(row.id)
        purpose = PaymentPurpose(values.get("purpose", row.purpose))
        if ours_finished:
            return Applied("applied", org_id, changes)
    else:
        pm_id = None
        if att.card_token:
            changes.extend(
                _card_changes(_card(conn, org_id, att.card_token, att.card, att.at, details=False))
            )
            pm_id = _pm_id(conn, org_id, att.card_token)
        purpose = _purpose(att, invoice_id)
        pay_id = new_id("pay")
        conn.execute(
            insert(payments).values(
                id=pay_id,
                org_id=org_id,
                payment_method_id=pm_id,
                at=att.at,
                amount=att.cents * NANOS_PER_CENT,
                purpose=purpose.value,
                status=PaymentStatus.FAILED.value,
                failure_code=code,
                invoice_id=invoice_id,
                processor_ref=att.ref,
                decline_code=att.decline_code,
                advice_code=att.advice_code,
            )
        )
        changes.append(f"payment {pay_id} failed ({code or 'no code yet'})")
    kind = (
        NoticeKind.AUTO_RECHARGE_FAILED
        if purpose == PaymentPurpose.AUTO_RECHARGE
        else NoticeKind.PAYMENT_FAILED
    )
    row = conn.execute(select(payments).where(payments.c.id == pay_id)).one()
    if add_notice(
        conn,
        org_id,
        kind,
        row.at,
        dedupe_key=f"stripe_failed:{pay_id}",
        payment=pay_id,
        failure_code=row.failure_code,
        decline_code=row.decline_code,
        advice_code=row.advice_code,
    ):
        changes.append(f"notice {kind.value}")
    else:  # the notice says when the attempt failed: the earliest time any event gave
        conn.execute(
            update(notices)
            .where(notices.c.dedupe_key == f"stripe_failed:{pay_id}", notices.c.at > row.at)
            .values(at=row.at)
        )
    changes.extend(_card_status(conn, row.payment_method_id))
    if changes:
        audit(
            conn,
            STRIPE,
            "stripe_payment_failed",
            now,
            org_id=org_id,
            target=f"payment:{pay_id}",
            after={"status": "failed", "failure_code": row.failure_code, "decline_code": row.decline_code},
            ref=att.ref,
        )
    return Applied("applied", org_id, changes)


def _succeeded(conn: Connection, org_id: str, att: Attempt, now: datetime) -> Applied:
    if att.invoice:
        return Applied("ignored", org_id, reason="the payment paid an invoice: invoice.paid applies it")
    _check_currency(att)
    row = _ours(conn, org_id, att) or _existing(conn, org_id, att, PaymentStatus.SUCCEEDED.value)
    if row is not None and row.status == PaymentStatus.PENDING.value:
        finish_charge(conn, row.id, ChargeResult(True, att.ref), att.at)
        return Applied("applied", org_id, [f"payment {row.id} finished: succeeded"])
    if row is not None:
        changes = []
        if row.processor_ref != att.ref and len(att.ref) > len(row.processor_ref or ""):
            conn.execute(update(payments).where(payments.c.id == row.id).values(processor_ref=att.ref))
            changes.append(f"payment {row.id}: processor_ref")
        return Applied("applied", org_id, changes, reason=f"payment {row.id} is {row.status} already")
    if att.cents <= 0:
        return Applied("ignored", org_id, reason="a payment of nothing")
    purpose = _purpose(att, None)
    _card(conn, org_id, att.card_token, att.card, att.at, details=False)
    pm_id = _pm_id(conn, org_id, att.card_token) if att.card_token else None
    pay_id = new_id("pay")
    nanos = att.cents * NANOS_PER_CENT
    conn.execute(
        insert(payments).values(
            id=pay_id,
            org_id=org_id,
            payment_method_id=pm_id,
            at=att.at,
            amount=nanos,
            purpose=purpose.value,
            status=PaymentStatus.SUCCEEDED.value,
            processor_ref=att.ref,
        )
    )
    changes = [f"payment {pay_id} succeeded"]
    if purpose in (PaymentPurpose.TOP_UP, PaymentPurpose.AUTO_RECHARGE):
        kind = GrantKind.AUTO_RECHARGE if purpose == PaymentPurpose.AUTO_RECHARGE else GrantKind.PURCHASED
        grant = CreditGrant(new_id("cg"), kind, nanos, nanos, att.at)
        insert_grant(conn, org_id, grant, payment_id=pay_id)
        changes.append(f"grant {grant.id} {kind.value}")
    changes.extend(_card_status(conn, pm_id))
    audit(
        conn,
        STRIPE,
        "stripe_payment_succeeded",
        now,
        org_id=org_id,
        target=f"payment:{pay_id}",
        after={"status": "succeeded", "amount": nanos},
        ref=att.ref,
    )
    return Applied("applied", org_id, changes)


# ------------------------------------------------------------------------------ invoices


def _invoice_row(
    conn: Connection, org_id: str, obj: Mapping[str, Any], at: datetime
) -> tuple[Any, list[str]]:
    """Our invoice this Stripe invoice is, mirrored into the books when we have none."""
    stripe_id = _id(obj.get("id"))
    if not stripe_id:
        raise EventError("the invoice has no id")
    meta = _map(obj.get("metadata"))
    named = _str(meta.get("quotadesk_invoice"))
    for candidate in (named, stripe_id):
        if candidate:
            row = conn.execute(
                select(invoices).where(invoices.c.id == candidate, invoices.c.org_id == org_id)
            ).first()
            if row is not None:
                return row, []
    period_start = _when(obj.get("period_start"), at)
    same_period = conn.execute(
        select(invoices).where(invoices.c.org_id == org_id, invoices.c.period_start == period_start)
    ).first()
    if same_period is not None:
        return same_period, []
    if str(obj.get("currency") or "").lower() != "usd":
        raise CurrencyError(
            f"the invoice is in {obj.get('currency') or 'no currency'}; the books keep US dollars"
        )
    nanos = _cents(obj, "amount_due", "total") * NANOS_PER_CENT
    issued = _when(obj.get("created"), at)
    conn.execute(
        insert(invoices).values(
            id=stripe_id,
            org_id=org_id,
            period_start=period_start,
            period_end=_when(obj.get("period_end"), period_start),
            amount=nanos,
            status=InvoiceStatus.OPEN.value,
            issued_at=issued,
            due_at=_when(obj.get("due_date"), issued) if obj.get("due_date") else None,
        )
    )
    if nanos:
        ledger.post(
            conn,
            kind="invoice",
            at=issued,
            org_id=org_id,
            ref=stripe_id,
            postings=[
                ledger.Posting(STRIPE_INVOICES, nanos),
                ledger.Posting(ledger.invoice_account(stripe_id), -nanos),
            ],
        )
    row = conn.execute(select(invoices).where(invoices.c.id == stripe_id)).one()
    return row, [f"invoice {stripe_id} mirrored from Stripe"]


def _invoice_attempt(obj: Mapping[str, Any], at: datetime) -> Attempt:
    intent, charge = _id(obj.get("payment_intent")), _id(obj.get("charge"))
    listed = obj.get("payments")
    data = listed.get("data") if isinstance(listed, Mapping) else None
    if not (intent or charge) and isinstance(data, list) and data and isinstance(data[-1], Mapping):
        payment = data[-1].get("payment")
        if isinstance(payment, Mapping):
            intent, charge = _id(payment.get("payment_intent")), _id(payment.get("charge"))
    if not (intent or charge):
        intent = f"{obj.get('id')}#{obj.get('attempt_count', 1)}"
    return Attempt(
        intent=intent,
        charge=charge,
        at=at,
        cents=_cents(obj, "amount_due", "total"),
        currency=str(obj.get("currency") or "").lower(),
        invoice=_id(obj.get("id")),
    )


def _invoice(
    conn: Connection, org_id: str, kind: str, obj: Mapping[str, Any], at: datetime, now: datetime
) -> Applied:
    inv, changes = _invoice_row(conn, org_id, obj, at)
    status = InvoiceStatus(inv.status)
    if kind == "invoice.payment_failed":
        result = _failed(conn, org_id, _invoice_attempt(obj, at), now, invoice_id=inv.id)
        return Applied("applied", org_id, changes + result.changes)
    if kind == "invoice.overdue":
        if status == InvoiceStatus.OPEN:
            conn.execute(
                update(invoices).where(invoices.c.id == inv.id).values(status=InvoiceStatus.OVERDUE.value)
            )
            changes.append(f"invoice {inv.id} overdue")
        if (
            status in (InvoiceStatus.OPEN, InvoiceStatus.OVERDUE) or (inv.paid_at and inv.paid_at > at)
        ) and add_notice(
            conn, org_id, NoticeKind.INVOICE_OVERDUE, at, dedupe_key=f"overdue:{inv.id}", invoice=inv.id
        ):
            changes.append("notice invoice_overdue")
        if changes:
            audit(
                conn,
                STRIPE,
                "stripe_invoice_overdue",
                now,
                org_id=org_id,
                target=f"invoice:{inv.id}",
                before={"status": status.value},
                after={"status": "overdue" if status == InvoiceStatus.OPEN else status.value},
            )
        return Applied("applied", org_id, changes)
    # invoice.paid / invoice.payment_succeeded
    if status not in (InvoiceStatus.OPEN, InvoiceStatus.OVERDUE):
        return Applied("applied", org_id, changes, reason=f"invoice {inv.id} is {status.value} already")
    transitions = _map(obj.get("status_transitions"))
    paid_at = _when(transitions.get("paid_at"), at)
    att = _invoice_attempt(obj, paid_at)
    pay_id = new_id("pay")
    conn.execute(
        insert(payments).values(
            id=pay_id,
            org_id=org_id,
            payment_method_id=None,
            at=paid_at,
            amount=int(inv.amount) if int(inv.amount) > 0 else max(att.cents, 1) * NANOS_PER_CENT,
            purpose=PaymentPurpose.INVOICE.value,
            status=PaymentStatus.SUCCEEDED.value,
            invoice_id=inv.id,
            processor_ref=att.ref,
        )
    )
    conn.execute(
        update(invoices)
        .where(invoices.c.id == inv.id)
        .values(status=InvoiceStatus.PAID.value, paid_at=paid_at)
    )
    if int(inv.amount):
        ledger.post(
            conn,
            kind="invoice_payment",
            at=paid_at,
            org_id=org_id,
            ref=pay_id,
            postings=[
                ledger.Posting(ledger.invoice_account(inv.id), int(inv.amount)),
                ledger.Posting(ledger.EXTERNAL_PROCESSOR, -int(inv.amount)),
            ],
        )
    audit(
        conn,
        STRIPE,
        "stripe_invoice_paid",
        now,
        org_id=org_id,
        target=f"invoice:{inv.id}",
        before={"status": status.value},
        after={"status": "paid"},
        payment=pay_id,
    )
    return Applied("applied", org_id, [*changes, f"invoice {inv.id} paid", f"payment {pay_id} succeeded"])


# ------------------------------------------------------------------------------ cards


def _pm_id(conn: Connection, org_id: str, token: str | None) -> str | None:
    if not token:
        return None
    return conn.execute(
        select(payment_methods.c.id).where(
            payment_methods.c.org_id == org_id, payment_methods.c.processor_token == token
        )
    ).scalar()


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _card(
    conn: Connection,
    org_id: str,
    token: str | None,
    card: Mapping[str, Any] | None,
    at: datetime,
    *,
    details: bool = True,
) -> str | None:
    """Keep the card Stripe describes (by its ``pm_…``/``card_…`` id); returns what changed.

    ``details`` False: a charge's copy of the card; it makes sure the card exists (and fills
    what is blank) but does not update the card's details, which the card's own events do,
    in the order of their time (an older one arriving late is ignored)."""
    if not token:
        return None
    existing = conn.execute(
        select(payment_methods).where(
            payment_methods.c.org_id == org_id, payment_methods.c.processor_token == token
        )
    ).first()
    card = card or {}
    month, year = _int(card.get("exp_month")), _int(card.get("exp_year"))
    last4 = str(card.get("last4") or "")[-4:]
    if existing is None:
        has_default = conn.execute(
            select(payment_methods.c.id).where(
                payment_methods.c.org_id == org_id, payment_methods.c.is_default.is_(True)
            )
        ).first()
        pm_id = new_id("pm")
        conn.execute(
            insert(payment_methods).values(
                id=pm_id,
                org_id=org_id,
                processor_token=token,
                brand=str(card.get("brand") or "")[:32].lower(),
                last4=last4,
                exp_month=month,
                exp_year=year,
                status=PaymentMethodStatus.VALID.value,
                is_default=has_default is None,
                created_at=at,
            )
        )
        if details and card:
            _mark(conn, token, at, changed=False)
        _card_status(conn, pm_id)
        return f"card {pm_id} added"
    values: JSON = {}
    if not existing.last4 and last4:  # a card first seen without its details
        values = {"brand": str(card.get("brand") or "")[:32].lower(), "last4": last4}
        values |= {k: v for k, v in (("exp_month", month), ("exp_year", year)) if v is not None}
    elif details and card and _newer(conn, token, at):
        for name, value in (("exp_month", month), ("exp_year", year), ("last4", last4 or None)):
            if value is not None and value != existing._mapping[name]:
                values[name] = value
        _mark(conn, token, at, changed=bool(values))
    if not values:
        return None
    conn.execute(update(payment_methods).where(payment_methods.c.id == existing.id).values(**values))
    _card_status(conn, existing.id)
    audit(
        conn,
        STRIPE,
        "stripe_card_updated",
        at,
        org_id=org_id,
        target=f"payment_method:{existing.id}",
        before={k: existing._mapping[k] for k in values},
        after=values,
    )
    return f"card {existing.id}: {', '.join(sorted(values))}"


def _card_changes(result: str | None) -> list[str]:
    return [result] if result else []


def _state_key(token: str) -> str:
    return f"stripe_card:{token}"


def _state(conn: Connection, token: str) -> JSON:
    return get_state(conn, _state_key(token))


def _newer(conn: Connection, token: str, at: datetime) -> bool:
    seen = _state(conn, token).get("at")
    return seen is None or at.timestamp() >= float(seen)


def _mark(conn: Connection, token: str, at: datetime, *, changed: bool) -> None:
    state = _state(conn, token)
    state["at"] = at.timestamp()
    if changed:
        state["changed_at"] = at.timestamp()
    put_state(conn, _state_key(token), state, at)


def _card_status(conn: Connection, pm_id: str | None) -> list[str]:
    """The card's status from what happened to it last, by Stripe's time: its latest attempt
    (a success: valid; a decline or expiry: so marked) or a change of its details (a new
    expiry or number: valid again); and expired when its expiry is past by then."""
    if not pm_id:
        return []
    card = conn.execute(select(payment_methods).where(payment_methods.c.id == pm_id)).one()
    happened: list[tuple[float, str]] = []
    latest = conn.execute(
        select(payments.c.at, payments.c.status, payments.c.failure_code)
        .where(payments.c.payment_method_id == pm_id, payments.c.status != PaymentStatus.PENDING.value)
        .order_by(payments.c.at.desc(), payments.c.id.desc())
        .limit(1)
    ).first()
    if latest is not None:
        if latest.status == PaymentStatus.SUCCEEDED.value:
            happened.append((latest.at.timestamp(), PaymentMethodStatus.VALID.value))
        elif latest.failure_code == "expired_card":
            happened.append((latest.at.timestamp(), PaymentMethodStatus.EXPIRED.value))
        elif latest.failure_code in ("card_declined", "insufficient_funds"):
            happened.append((latest.at.timestamp(), PaymentMethodStatus.DECLINED.value))
    changed = _state(conn, card.processor_token).get("changed_at")
    if changed is not None:
        happened.append((float(changed), PaymentMethodStatus.VALID.value))
    when, status = max(happened) if happened else (card.created_at.timestamp(), card.status)
    past_expiry = bool(card.exp_month and card.exp_year) and expired(
        int(card.exp_month or 0), int(card.exp_year or 0), datetime.fromtimestamp(when, UTC)
    )
    if status != PaymentMethodStatus.DECLINED.value and past_expiry:
        status = PaymentMethodStatus.EXPIRED.value
    if status == card.status:
        return []
    conn.execute(update(payment_methods).where(payment_methods.c.id == pm_id).values(status=status))
    return [f"card {pm_id} {status}"]
