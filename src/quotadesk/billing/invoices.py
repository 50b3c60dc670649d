"""Invoiced accounts: when an unpaid invoice cuts the account off, and when it becomes a flag.

An invoice is unpaid while ``open`` or ``overdue``. It is overdue once ``now`` is past its
``due_at`` (at ``due_at`` itself it is still on time), or when the books already mark it
``overdue``. An overdue invoice on an invoiced account refuses requests with 402
``invoice_overdue``: Finance, not the customer's card, settles it. Still unpaid
``outstanding_after`` (30 days by default) after it fell due, it raises an
``outstanding_balance`` flag, and any active flag suspends the account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from quotadesk.billing.limits import require_aware
from quotadesk.billing.model import (
    BillingMode,
    Flag,
    FlagKind,
    FlagSource,
    Invoice,
    InvoiceStatus,
    Organization,
)

OUTSTANDING_AFTER = timedelta(days=30)
UNPAID = frozenset({InvoiceStatus.OPEN, InvoiceStatus.OVERDUE})


def is_overdue(invoice: Invoice, now: datetime) -> bool:
    """Unpaid and past due at ``now`` (or marked overdue by the books)."""
    now = require_aware(now)
    if invoice.status not in UNPAID:
        return False
    if invoice.status == InvoiceStatus.OVERDUE:
        return True
    return invoice.due_at is not None and now > require_aware(
        invoice.due_at, f"invoices[{invoice.id}].due_at"
    )


@dataclass(frozen=True, slots=True)
class InvoiceState:
    """The invoice side of an organization at ``now``.

    ``overdue`` lists the unpaid invoices past due (oldest due first), ``amount_due`` their
    total in nano-dollars, ``oldest_due_at`` the earliest due date among them. ``cut_off`` is
    true when the account is invoiced and anything is overdue (402 ``invoice_overdue``).
    ``flag`` is the ``outstanding_balance`` flag to raise now: set when an invoice is still
    unpaid ``outstanding_after`` past due and no such flag is already active.
    ``flag_due`` is true whenever that condition holds, raised already or not.
    """

    overdue: tuple[Invoice, ...]
    amount_due: int
    oldest_due_at: datetime | None
    cut_off: bool
    flag_due: bool
    flag: Flag | None


def invoice_state(
    org: Organization, now: datetime, outstanding_after: timedelta = OUTSTANDING_AFTER
) -> InvoiceState:
    """Evaluate ``org``'s invoices at ``now``."""
    now = require_aware(now)
    overdue = sorted(
        (inv for inv in org.invoices if is_overdue(inv, now)),
        key=lambda inv: (inv.due_at is None, inv.due_at or now, inv.id),
    )
    due_dates = [require_aware(inv.due_at, f"invoices[{inv.id}].due_at") for inv in overdue if inv.due_at]
    oldest = min(due_dates) if due_dates else None
    flag_due = oldest is not None and now >= oldest + outstanding_after
    already = any(f.active and f.kind == FlagKind.OUTSTANDING_BALANCE for f in org.flags)
    flag = None
    if flag_due and not already and oldest is not None:
        flag = Flag(
            kind=FlagKind.OUTSTANDING_BALANCE, at=oldest + outstanding_after, source=FlagSource.AUTOMATED
        )
    return InvoiceState(
        overdue=tuple(overdue),
        amount_due=sum(inv.amount for inv in overdue),
        oldest_due_at=oldest,
        cut_off=org.billing_mode == BillingMode.INVOICED and bool(overdue),
        flag_due=flag_due,
        flag=flag,
    )
