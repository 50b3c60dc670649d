"""Invoices, suspension and keys (rules: Invoiced accounts, Suspension, Keys)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from billing_factories import DAY, KEY, NOW, flag, invoice, org, personal_key

from quotadesk.billing.decision import Rule
from quotadesk.billing.invoices import invoice_state, is_overdue
from quotadesk.billing.keys import find_key, hash_secret, key_usable, redact, revoke_departed
from quotadesk.billing.model import (
    ApiKey,
    BillingMode,
    FlagKind,
    InvoiceStatus,
    KeyScope,
    KeyStatus,
    OrgStatus,
)
from quotadesk.billing.suspension import can_lift, lifted_by, suspension_state

# --- invoices ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "due_at", "overdue"),
    [
        (InvoiceStatus.OPEN, NOW - timedelta(microseconds=1), True),
        (InvoiceStatus.OPEN, NOW, False),  # due now: still on time
        (InvoiceStatus.OPEN, NOW + DAY, False),
        (InvoiceStatus.OVERDUE, NOW + DAY, True),  # the books say so
        (InvoiceStatus.PAID, NOW - 40 * DAY, False),
        (InvoiceStatus.VOID, NOW - 40 * DAY, False),
        (InvoiceStatus.DRAFT, NOW - 40 * DAY, False),
        (InvoiceStatus.OPEN, None, False),
    ],
)
def test_invoice_overdue(status: InvoiceStatus, due_at: object, overdue: bool) -> None:
    assert is_overdue(invoice(status, due_at), NOW) is overdue  # type: ignore[arg-type]


def test_overdue_invoice_cuts_off_an_invoiced_account_only() -> None:
    inv = invoice(due_at=NOW - 5 * DAY)
    invoiced = invoice_state(org(billing_mode=BillingMode.INVOICED, invoices=(inv,)), NOW)
    assert invoiced.cut_off and invoiced.overdue == (inv,) and invoiced.amount_due == inv.amount
    assert invoiced.oldest_due_at == inv.due_at
    assert not invoiced.flag_due and invoiced.flag is None
    prepaid = invoice_state(org(invoices=(inv,)), NOW)
    assert not prepaid.cut_off


def test_still_unpaid_30_days_after_due_raises_an_outstanding_balance_flag() -> None:
    due = NOW - 30 * DAY
    books = org(billing_mode=BillingMode.INVOICED, invoices=(invoice(due_at=due),))
    state = invoice_state(books, NOW)
    assert state.flag_due
    assert state.flag is not None and state.flag.kind == FlagKind.OUTSTANDING_BALANCE and state.flag.active
    assert state.flag.at == due + 30 * DAY
    assert not invoice_state(books, NOW - timedelta(microseconds=1)).flag_due
    assert invoice_state(books, NOW - 20 * DAY, outstanding_after=timedelta(days=5)).flag_due


def test_no_second_flag_when_one_is_already_active() -> None:
    books = org(
        billing_mode=BillingMode.INVOICED,
        invoices=(invoice(due_at=NOW - 45 * DAY),),
        flags=(flag(FlagKind.OUTSTANDING_BALANCE),),
    )
    state = invoice_state(books, NOW)
    assert state.flag_due and state.flag is None


def test_invoice_state_refuses_naive_now() -> None:
    from datetime import datetime

    with pytest.raises(ValueError, match="now"):
        invoice_state(org(), datetime(2026, 11, 20))


# --- suspension ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "status", "suspended", "teams"),
    [
        ((), OrgStatus.ACTIVE, False, ()),
        ((flag(FlagKind.POLICY_VIOLATION),), OrgStatus.ACTIVE, True, ("trust_and_safety",)),
        ((flag(FlagKind.FRAUD),), OrgStatus.ACTIVE, True, ("trust_and_safety",)),
        ((flag(FlagKind.OUTSTANDING_BALANCE),), OrgStatus.ACTIVE, True, ("finance",)),
        ((flag(FlagKind.FRAUD, active=False),), OrgStatus.ACTIVE, False, ()),
        ((), OrgStatus.SUSPENDED, True, ("trust_and_safety",)),
        (
            (flag(FlagKind.OUTSTANDING_BALANCE), flag(FlagKind.FRAUD)),
            OrgStatus.SUSPENDED,
            True,
            ("trust_and_safety", "finance"),
        ),
    ],
)
def test_any_active_flag_suspends(
    flags: tuple[object, ...], status: OrgStatus, suspended: bool, teams: tuple[str, ...]
) -> None:
    state = suspension_state(org(flags=flags, status=status))
    assert state.suspended is suspended
    assert state.console_blocked is suspended
    assert state.lifted_by == teams


@pytest.mark.parametrize(
    ("kind", "team"),
    [
        (FlagKind.POLICY_VIOLATION, "trust_and_safety"),
        (FlagKind.FRAUD, "trust_and_safety"),
        (FlagKind.OUTSTANDING_BALANCE, "finance"),
    ],
)
def test_who_lifts_a_suspension_and_support_never_can(kind: FlagKind, team: str) -> None:
    assert lifted_by(kind) == team
    assert can_lift(team, kind)
    assert not can_lift("support", kind)
    other = "finance" if team == "trust_and_safety" else "trust_and_safety"
    assert not can_lift(other, kind)


# --- keys ---------------------------------------------------------------------------------------------

SECRET = "sk-proj-Zx81kLmN0pQrStUvWxYz0123a1b2"


def test_hash_is_sha256_hex() -> None:
    assert hash_secret(SECRET) == hashlib.sha256(SECRET.encode()).hexdigest()


@pytest.mark.parametrize(
    ("secret", "shown"),
    [
        (SECRET, "sk-...a1b2"),
        ("sk-ant-api03-abcdefghijklmnopqrstuvwxyz-9f8e", "sk-...9f8e"),
        ("AIzaSyA-1234567890abcdefghijklmnopq", "...nopq"),  # dash too deep: not a prefix
        ("gsk_abcdefghijklmnopqrstuvwx", "...uvwx"),
        ("short-key", "***"),
    ],
)
def test_redact(secret: str, shown: str) -> None:
    assert redact(secret) == shown
    visible = redact(secret).replace("...", "")
    assert len(visible) <= 8  # a short tag and the last four, never more of the secret


@pytest.mark.parametrize("bad", ["", None])
def test_redact_and_hash_refuse_empty(bad: object) -> None:
    with pytest.raises(ValueError, match="secret"):
        redact(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="secret"):
        hash_secret(bad)  # type: ignore[arg-type]


def test_find_key_by_id_secret_or_hash() -> None:
    stored = ApiKey(id="key_9", status=KeyStatus.ACTIVE, secret_hash=hash_secret(SECRET))
    keys = (KEY, stored)
    assert find_key(keys, key_id="key_9") is stored
    assert find_key(keys, secret=SECRET) is stored
    assert find_key(keys, secret_hash=hash_secret(SECRET).upper()) is stored
    assert find_key(keys, secret="sk-other-secret-0000") is None
    assert find_key(keys) is None


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        (None, Rule.INVALID_KEY),
        (KEY, None),
        (ApiKey(id="k", status=KeyStatus.REVOKED), Rule.INVALID_KEY),
        (personal_key(owner_active=True), None),
        (personal_key(owner_active=False), Rule.DEPARTED_MEMBER_KEY),
        (personal_key(owner_active=False, status=KeyStatus.REVOKED), Rule.DEPARTED_MEMBER_KEY),
        (ApiKey(id="k", status=KeyStatus.ACTIVE, scope=KeyScope.ORGANIZATION, owner_active=False), None),
    ],
)
def test_key_usable(key: ApiKey | None, rule: Rule | None) -> None:
    assert key_usable(key) == rule


def test_personal_keys_of_departed_members_are_revoked() -> None:
    gone, stays, org_key = personal_key(False), personal_key(True), KEY
    out = revoke_departed((gone, stays, org_key))
    assert [k.status for k in out] == [KeyStatus.REVOKED, KeyStatus.ACTIVE, KeyStatus.ACTIVE]
    assert out[1] is stays and out[2] is org_key
