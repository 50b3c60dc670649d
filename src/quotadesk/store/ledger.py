"""The append-only, double-entry ledger: every movement of money is a transaction whose
postings sum to zero.

Sign convention (one rule, no debit/credit columns): an account's balance is the sum of its
postings, positive when the account *holds* value. So a grant account holds the credit
left on it, ``spend:<org>:<month>`` holds what the org consumed that month, ``external:*``
accounts go negative as money or promotions flow in from outside, and ``arrears:<org>`` /
``invoice:<id>`` go negative while the org owes. Summing every account gives zero, always.

Accounts
    grant:<grant_id>          credit left on one grant (cached as credit_grants.remaining)
    spend:<org>:<YYYY-MM>     usage consumed in a calendar month (UTC): month-to-date spend
    arrears:<org>             usage a prepaid org could not cover (metered after the fact)
    unbilled:<org>:<YYYY-MM>  usage of an invoiced org in a month, until invoiced (negative)
    invoice:<invoice_id>      what an issued invoice still asks for (negative until paid)
    external:processor        money received through the payment processor (negative)
    external:promotions       free, goodwill and promotional credit given (negative)
    breakage                  expired remainders written off

``ledger_accounts.balance`` caches each sum so reads are O(1); ``verify`` recomputes them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from quotadesk.errors import InputError
from quotadesk.store.schema import ledger_accounts, ledger_postings, ledger_transactions

EXTERNAL_PROCESSOR = "external:processor"
EXTERNAL_PROMOTIONS = "external:promotions"
BREAKAGE = "breakage"


def grant_account(grant_id: str) -> str:
    return f"grant:{grant_id}"


def spend_account(org_id: str, month_start: datetime) -> str:
    """The month is named by its first instant (UTC), as ``limits.month_start`` gives it."""
    return f"spend:{org_id}:{month_start:%Y-%m}"


def arrears_account(org_id: str) -> str:
    return f"arrears:{org_id}"


def unbilled_account(org_id: str, month_start: datetime) -> str:
    return f"unbilled:{org_id}:{month_start:%Y-%m}"


def invoice_account(invoice_id: str) -> str:
    return f"invoice:{invoice_id}"


@dataclass(frozen=True, slots=True)
class Posting:
    """One leg of a transaction: ``amount`` nano-dollars into (positive) or out of ``account``."""

    account: str
    amount: int


class LedgerError(InputError):
    """A transaction that would break double entry (empty, zero legs, not summing to zero)."""


def check_postings(postings: Sequence[Posting]) -> None:
    """Refuse a transaction that is not balanced double entry, naming what is wrong."""
    if len(postings) < 2:
        raise LedgerError(f"a transaction needs at least two postings, got {len(postings)}", "postings")
    total = 0
    for i, p in enumerate(postings):
        if isinstance(p.amount, bool) or not isinstance(p.amount, int):
            raise LedgerError(
                f"amount must be int nano-dollars, got {type(p.amount).__name__}", f"postings[{i}]"
            )
        if p.amount == 0:
            raise LedgerError("a posting of zero moves nothing", f"postings[{i}].amount")
        if not p.account:
            raise LedgerError("account name is empty", f"postings[{i}].account")
        total += p.amount
    if total != 0:
        raise LedgerError(f"postings sum to {total} nano-dollars, not zero", "postings")


def _account_org(name: str, org_id: str | None) -> str | None:
    return None if name.startswith("external:") or name == BREAKAGE else org_id


def ensure_accounts(conn: Connection, names: Iterable[str], org_id: str | None) -> None:
    """Create the accounts that do not exist yet (balance 0); existing ones are left alone."""
    rows = [{"name": n, "org_id": _account_org(n, org_id), "balance": 0} for n in sorted(set(names))]
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        pg = postgresql.insert(ledger_accounts).on_conflict_do_nothing(index_elements=["name"])
        conn.execute(pg, rows)
    else:
        lite = sqlite.insert(ledger_accounts).on_conflict_do_nothing(index_elements=["name"])
        conn.execute(lite, rows)


_bump = (
    update(ledger_accounts)
    .where(ledger_accounts.c.name == bindparam("acct"))
    .values(balance=ledger_accounts.c.balance + bindparam("delta"))
)


def post(
    conn: Connection,
    *,
    kind: str,
    at: datetime,
    postings: Sequence[Posting],
    org_id: str | None = None,
    ref: str | None = None,
    memo: str = "",
) -> int:
    """Append one balanced transaction and update the cached balances; returns its id.

    Must run inside the caller's transaction (``db.atomic``): the postings, the caches and
    whatever the caller records alongside (a payment, usage events) commit together or not
    at all.
    """
    check_postings(postings)
    txn_id = conn.execute(
        insert(ledger_transactions)
        .values(at=at, kind=kind, org_id=org_id, ref=ref, memo=memo)
        .returning(ledger_transactions.c.id)
    ).scalar_one()
    ensure_accounts(conn, (p.account for p in postings), org_id)
    conn.execute(
        insert(ledger_postings),
        [{"txn_id": txn_id, "account": p.account, "amount": p.amount} for p in postings],
    )
    deltas: dict[str, int] = defaultdict(int)
    for p in postings:
        deltas[p.account] += p.amount
    changed = [{"acct": a, "delta": d} for a, d in sorted(deltas.items()) if d]
    if changed:
        conn.execute(_bump, changed)
    return int(txn_id)


def balance(conn: Connection, account: str) -> int:
    """The cached balance (0 for an account never posted to)."""
    value = conn.execute(select(ledger_accounts.c.balance).where(ledger_accounts.c.name == account)).scalar()
    return int(value or 0)


def balances(conn: Connection, accounts: Iterable[str]) -> Mapping[str, int]:
    names = sorted(set(accounts))
    if not names:
        return {}
    rows = conn.execute(
        select(ledger_accounts.c.name, ledger_accounts.c.balance).where(ledger_accounts.c.name.in_(names))
    )
    found = {str(n): int(b) for n, b in rows}
    return {n: found.get(n, 0) for n in names}


def derived_balance(conn: Connection, account: str) -> int:
    """The balance recomputed from the postings: the truth the cache must match."""
    value = conn.execute(
        select(func.coalesce(func.sum(ledger_postings.c.amount), 0)).where(
            ledger_postings.c.account == account
        )
    ).scalar()
    return int(value or 0)
