"""Cards, top-ups, auto-recharge and invoice payments, through a ``Processor``.

A charge is never made inside a database transaction (a slow processor would hold the
organization's lock). Every charge has three steps:

1. in a transaction: record a ``pending`` payment (for auto-recharge this IS the rulebook's
   "one in flight" marker) and commit;
2. call the processor with the payment id as idempotency key;
3. in a second transaction: mark the payment succeeded or failed and write what follows
   (a grant and its ledger postings, or a notice and the card's new status).

A process that dies between 1 and 3 leaves a pending payment; ``resume_pending`` (run first by
every ``tick``, and by ``Books.recover`` when a service starts) charges again with the same
idempotency key, so the card is charged once, and settles it: credited once, or failed. It
takes every pending payment whatever ``now`` it is told (``billing.recharge.recovery_due``): a
tick at the very time of the crash, or earlier, still finishes it, so no credit arrives a tick
late. ``QUOTADESK_TEST_PAUSE_AFTER`` (``store.testhook``) stops a process between the steps for
the kill -9 tests; it does nothing unless set.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection, Engine, case, func, insert, select, update

from quotadesk.billing.grants import spendable_balance
from quotadesk.billing.model import (
    CreditGrant,
    FailureCode,
    GrantKind,
    InvoiceStatus,
    NoticeKind,
    Payment,
    PaymentMethodStatus,
    PaymentPurpose,
    PaymentStatus,
)
from quotadesk.billing.recharge import (
    apply_charge_result,
    decide_recharge,
    default_card,
    recovery_due,
    settle_time,
    start_charge,
)
from quotadesk.errors import InputError, NotFoundError
from quotadesk.store import ledger
from quotadesk.store.access import SYSTEM, Actor, audit, check
from quotadesk.store.db import transaction
from quotadesk.store.errors import PaymentError
from quotadesk.store.processor import ChargeResult, Processor
from quotadesk.store.schema import credit_grants, gateway_leases, holds, invoices, payment_methods, payments
from quotadesk.store.snapshot import load_organization, org_row, payment_record
from quotadesk.store.testhook import pause_after
from quotadesk.store.values import add_notice, amount_nanos, aware, new_id

CARD_STATUS_AFTER_FAILURE = {
    "card_declined": PaymentMethodStatus.DECLINED,
    "insufficient_funds": PaymentMethodStatus.DECLINED,
    "expired_card": PaymentMethodStatus.EXPIRED,
}
"""A failed charge marks the card so auto-recharge stops trying it (no loop of charges);
a processing error says nothing about the card and leaves it as it was."""


def add_payment_method(
    engine: Engine,
    processor: Processor,
    actor: Actor,
    now: datetime,
    org_id: str,
    card_number: str,
    exp_month: int,
    exp_year: int,
    *,
    default: bool = True,
) -> str:
    """Attach a card and keep its token; returns the payment method id.

    A card the processor refuses raises ``PaymentError`` (with the processor's code), and the
    refusal is audited; nothing else is stored.
    """
    now = aware(now)
    check(engine, actor, "add_payment_method", now, org_id=org_id)
    with transaction(engine) as conn:
        org_row(conn, org_id)
    try:
        card = processor.attach(card_number, exp_month, exp_year, now)
    except PaymentError as exc:
        with transaction(engine) as conn:
            audit(conn, actor, "add_payment_method", now, org_id=org_id, outcome="refused", code=exc.code)
        raise
    pm_id = new_id("pm")
    with transaction(engine) as conn:
        org_row(conn, org_id, lock=True)
        if default:
            conn.execute(
                update(payment_methods).where(payment_methods.c.org_id == org_id).values(is_default=False)
            )
        conn.execute(
            insert(payment_methods).values(
                id=pm_id,
                org_id=org_id,
                processor_token=card.token,
                brand=card.brand,
                last4=card.last4,
                exp_month=card.exp_month,
                exp_year=card.exp_year,
                status=PaymentMethodStatus.VALID.value,
                is_default=default,
                created_at=now,
            )
        )
        audit(conn, actor, "add_payment_method", now, org_id=org_id, payment_method=pm_id, last4=card.last4)
    return pm_id


def _insert_grant(
    conn: Connection, org_id: str, grant: CreditGrant, payment_id: str | None, funded_by: str
) -> None:
    conn.execute(
        insert(credit_grants).values(
            id=grant.id,
            org_id=org_id,
            kind=grant.kind.value,
            amount=grant.amount,
            remaining=grant.remaining,
            granted_at=grant.granted_at,
            expires_at=grant.expires_at,
            payment_id=payment_id,
        )
    )
    ledger.post(
        conn,
        kind=f"grant:{grant.kind.value}",
        at=grant.granted_at,
        org_id=org_id,
        ref=grant.id,
        postings=[
            ledger.Posting(ledger.grant_account(grant.id), grant.amount),
            ledger.Posting(funded_by, -grant.amount),
        ],
    )


def insert_grant(conn: Connection, org_id: str, grant: CreditGrant, payment_id: str | None = None) -> None:
    """Store a grant and post its funding: paid grants from the processor, the rest from promotions."""
    paid = grant.kind in (GrantKind.PURCHASED, GrantKind.AUTO_RECHARGE)
    funded_by = ledger.EXTERNAL_PROCESSOR if paid else ledger.EXTERNAL_PROMOTIONS
    _insert_grant(conn, org_id, grant, payment_id, funded_by)


def _start(
    conn: Connection,
    org_id: str,
    pm_id: str,
    amount: int,
    purpose: PaymentPurpose,
    now: datetime,
    pay_id: str | None = None,
    **extra: object,
) -> str:
    pay_id = pay_id or new_id("pay")
    conn.execute(
        insert(payments).values(
            id=pay_id,
            org_id=org_id,
            payment_method_id=pm_id,
            at=now,
            amount=amount,
            purpose=purpose.value,
            status=PaymentStatus.PENDING.value,
            **extra,
        )
    )
    return pay_id


def _pick_method(conn: Connection, org_id: str, payment_method_id: str | None) -> str:
    org = load_organization(conn, org_id)
    if payment_method_id is not None:
        if not any(pm.id == payment_method_id for pm in org.payment_methods):
            raise NotFoundError(f"no payment method {payment_method_id!r} on {org_id}", "payment_method_id")
        return payment_method_id
    card = default_card(org.payment_methods)
    if card is None:
        raise InputError("no default payment method on file: add a card first", "payment_method_id")
    return card.id


def _charge(engine: Engine, processor: Processor, pay_id: str, now: datetime) -> ChargeResult:
    with transaction(engine) as conn:
        row = conn.execute(
            select(payments.c.amount, payment_methods.c.processor_token)
            .join(payment_methods, payments.c.payment_method_id == payment_methods.c.id)
            .where(payments.c.id == pay_id)
        ).one()
    return processor.charge(row.processor_token, int(row.amount), idempotency_key=pay_id, now=now)


def _finish(conn: Connection, pay_id: str, result: ChargeResult, now: datetime) -> Payment:
    """Step 3: settle a pending payment with the processor's result (org already locked)."""
    row = conn.execute(select(payments).where(payments.c.id == pay_id)).one()._mapping
    pending = payment_record(row)
    if pending.status != PaymentStatus.PENDING:
        return pending  # already finished (a resumed charge racing its original): nothing to do
    org_id = row["org_id"]
    if pending.purpose == PaymentPurpose.AUTO_RECHARGE:
        outcome = apply_charge_result(
            pending, result.succeeded, now, failure_code=result.failure_code, grant_id=new_id("cg")
        )
        done, grant, notice = outcome.payment, outcome.grant, outcome.notice
    else:
        done = replace(
            pending,
            status=PaymentStatus.SUCCEEDED if result.succeeded else PaymentStatus.FAILED,
            failure_code=None if result.succeeded else (result.failure_code or "processing_error"),
        )
        grant = None
        notice = None
        if result.succeeded and pending.purpose == PaymentPurpose.TOP_UP:
            grant = CreditGrant(new_id("cg"), GrantKind.PURCHASED, pending.amount, pending.amount, now)
    conn.execute(
        update(payments)
        .where(payments.c.id == pay_id)
        .values(status=done.status.value, failure_code=done.failure_code, processor_ref=result.reference)
    )
    if grant is not None:
        insert_grant(conn, org_id, grant, payment_id=pay_id)
    if done.status == PaymentStatus.FAILED:
        status = CARD_STATUS_AFTER_FAILURE.get(done.failure_code or "")
        if status is not None and row["payment_method_id"]:
            conn.execute(
                update(payment_methods)
                .where(payment_methods.c.id == row["payment_method_id"])
                .values(status=status.value)
            )
        kind = notice.kind if notice is not None else NoticeKind.PAYMENT_FAILED
        add_notice(conn, org_id, kind, now, payment=pay_id, failure_code=done.failure_code)
    if done.status == PaymentStatus.SUCCEEDED and pending.purpose == PaymentPurpose.INVOICE:
        inv_id = row["invoice_id"]
        conn.execute(
            update(invoices)
            .where(invoices.c.id == inv_id)
            .values(status=InvoiceStatus.PAID.value, paid_at=now)
        )
        ledger.post(
            conn,
            kind="invoice_payment",
            at=now,
            org_id=org_id,
            ref=pay_id,
            postings=[
                ledger.Posting(ledger.invoice_account(inv_id), done.amount),
                ledger.Posting(ledger.EXTERNAL_PROCESSOR, -done.amount),
            ],
        )
    audit(
        conn,
        SYSTEM,
        "finish_payment",
        now,
        org_id=org_id,
        payment=pay_id,
        status=done.status.value,
        failure_code=done.failure_code,
    )
    return done


def finish_charge(conn: Connection, pay_id: str, result: ChargeResult, now: datetime) -> Payment:
    """Settle a pending payment with a result learnt elsewhere (a processor's webhook for a charge
    whose process died before step 3); a payment already finished is left as it is."""
    return _finish(conn, pay_id, result, now)


def _run(engine: Engine, processor: Processor, pay_id: str, org_id: str, now: datetime) -> Payment:
    pause_after("charge_pending")
    result = _charge(engine, processor, pay_id, now)
    pause_after("charge_made")
    with transaction(engine) as conn:
        org_row(conn, org_id, lock=True)
        return _finish(conn, pay_id, result, now)


def top_up(
    engine: Engine,
    processor: Processor,
    actor: Actor,
    now: datetime,
    org_id: str,
    amount: object,
    payment_method_id: str | None = None,
) -> Payment:
    """Charge the card ``amount`` dollars; on success a purchased grant, on failure a failed
    payment, a ``payment_failed`` notice and no credit. Returns the finished payment."""
    now = aware(now)
    nanos = amount_nanos(amount, "amount")
    check(engine, actor, "top_up", now, org_id=org_id)
    with transaction(engine) as conn:
        org_row(conn, org_id, lock=True)
        pm_id = _pick_method(conn, org_id, payment_method_id)
        pay_id = _start(conn, org_id, pm_id, nanos, PaymentPurpose.TOP_UP, now)
        audit(conn, actor, "top_up", now, org_id=org_id, payment=pay_id, amount=nanos)
    return _run(engine, processor, pay_id, org_id, now)


def open_holds(conn: Connection, org_id: str, now: datetime) -> int:
    """Nano-dollars reserved by requests still in flight (open, unexpired holds) and by the
    gateways' open, unexpired budget leases (what of each is not settled yet)."""
    value = conn.execute(
        select(func.coalesce(func.sum(holds.c.amount), 0)).where(
            holds.c.org_id == org_id, holds.c.status == "open", holds.c.expires_at > now
        )
    ).scalar()
    leased = conn.execute(
        select(
            func.coalesce(
                func.sum(
                    case(
                        (gateway_leases.c.amount > gateway_leases.c.settled,
                         gateway_leases.c.amount - gateway_leases.c.settled),
                        else_=0,
                    )
                ),
                0,
            )
        ).where(
            gateway_leases.c.org_id == org_id,
            gateway_leases.c.status == "open",
            gateway_leases.c.expires_at > now,
        )
    ).scalar()
    return int(value or 0) + int(leased or 0)


def auto_recharge(
    engine: Engine, processor: Processor, now: datetime, org_id: str, *, once_per_instant: bool = False
) -> Payment | None:
    """Run the rulebook's auto-recharge decision and, when due, the charge. Returns the
    finished payment, or None when no charge was due (a ``no_valid_card`` notice may be written).
    ``once_per_instant`` is the tick's guard (``recharge.decide_recharge``)."""
    now = aware(now)
    with transaction(engine) as conn:
        org = load_organization(conn, org_id, lock=True)
        if not org.auto_recharge.enabled:
            return None
        balance = spendable_balance(org.credit_grants, now) - open_holds(conn, org_id, now)
        decision = decide_recharge(org, now, balance=max(balance, 0), once_per_instant=once_per_instant)
        if decision.notice is not None:
            add_notice(
                conn,
                org_id,
                decision.notice.kind,
                now,
                dedupe_key=f"auto_recharge_no_card:{org_id}:{now:%Y-%m-%d}",
                reason=decision.reason,
            )
        if not decision.charge or decision.payment_method_id is None:
            return None
        pending = start_charge(decision, new_id("pay"), now)
        pay_id = _start(
            conn, org_id, decision.payment_method_id, pending.amount, pending.purpose, now, pending.id
        )
        audit(conn, SYSTEM, "auto_recharge", now, org_id=org_id, payment=pay_id, balance=decision.balance)
    return _run(engine, processor, pay_id, org_id, now)


def pay_invoice(
    engine: Engine,
    processor: Processor,
    actor: Actor,
    now: datetime,
    invoice_id: str,
    payment_method_id: str | None = None,
) -> Payment:
    """Charge the card for an open or overdue invoice; paid on success."""
    now = aware(now)
    with transaction(engine) as conn:
        inv = conn.execute(select(invoices).where(invoices.c.id == invoice_id)).first()
    if inv is None:
        raise NotFoundError(f"no invoice {invoice_id!r}", "invoice_id")
    org_id = inv.org_id
    check(engine, actor, "pay_invoice", now, org_id=org_id, invoice=invoice_id)
    with transaction(engine) as conn:
        org_row(conn, org_id, lock=True)
        status = conn.execute(select(invoices.c.status).where(invoices.c.id == invoice_id)).scalar_one()
        if status not in (InvoiceStatus.OPEN.value, InvoiceStatus.OVERDUE.value):
            raise InputError(f"invoice {invoice_id} is {status}, not payable", "invoice_id")
        pm_id = _pick_method(conn, org_id, payment_method_id)
        pay_id = _start(
            conn, org_id, pm_id, int(inv.amount), PaymentPurpose.INVOICE, now, invoice_id=invoice_id
        )
        audit(conn, actor, "pay_invoice", now, org_id=org_id, payment=pay_id, invoice=invoice_id)
    return _run(engine, processor, pay_id, org_id, now)


def resume_pending(engine: Engine, processor: Processor, now: datetime) -> list[Payment]:
    """Finish every charge left pending by a crash (see the module docstring), oldest first.

    The charge is asked again with its original idempotency key and settled at
    ``billing.recharge.settle_time`` (``now``, never before the charge began). A processor that
    refuses outright (``PaymentError``: the card's token is gone) fails the payment with its
    code, so nothing stays pending for ever. Returns the finished payments.
    """
    now = aware(now)
    with transaction(engine) as conn:
        rows = conn.execute(
            select(payments).where(payments.c.status == PaymentStatus.PENDING.value).order_by(payments.c.at)
        ).all()
    done: list[Payment] = []
    for row in rows:
        pending = payment_record(row._mapping)
        if not recovery_due(pending):
            continue
        when = settle_time(pending, now)
        try:
            result = _charge(engine, processor, pending.id, when)
        except PaymentError as exc:
            code = exc.code if exc.code in set(FailureCode) else FailureCode.PROCESSING_ERROR
            result = ChargeResult(False, f"refused:{code}", str(code))
        with transaction(engine) as conn:
            org_row(conn, row.org_id, lock=True)
            done.append(_finish(conn, pending.id, result, when))
    return done
