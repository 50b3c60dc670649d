"""The back-office changes of ``store.accounts``: a manual tier survives the month close, negotiated
rate limits reach admission, invoices paid or waived keep the ledger balanced, flags lift by id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from quotadesk.billing.decision import Deny, Rule
from quotadesk.errors import InputError
from quotadesk.store.access import SYSTEM, Actor, Role
from quotadesk.store.books import Books
from quotadesk.store.db import transaction
from quotadesk.store.errors import ConflictError, ForbiddenError
from quotadesk.store.metering import UsageEvent
from quotadesk.store.probe import access_now
from quotadesk.store.snapshot import load_organization

NOW = datetime(2026, 11, 10, 12, tzinfo=UTC)
FINANCE = Actor("fran", Role.FINANCE)
SUPPORT = Actor("sam", Role.SUPPORT)


@pytest.fixture
def books(tmp_path: Path) -> Books:
    return Books.open(f"sqlite:///{tmp_path}/b.db")


def test_a_manual_tier_is_kept_by_the_close_until_auto(books: Books) -> None:
    org = books.create_org(SYSTEM, NOW - timedelta(days=400))
    books.set_tier(Actor("bea", Role.BILLING_TEAM), NOW, org, "tier4")
    books.tick(NOW + timedelta(days=40))  # nothing qualifies it for tier4: the close would demote or pend
    assert books.organization(org).tier.current == "tier4"
    books.set_tier(SYSTEM, NOW + timedelta(days=41), org, "auto")
    with transaction(books.engine) as conn:
        assert load_organization(conn, org).tier.current == "tier4"  # auto keeps the tier it is on
    with pytest.raises(InputError) as err:
        books.set_tier(SYSTEM, NOW, org, "platinum")
    assert err.value.field == "current"
    with pytest.raises(ForbiddenError):
        books.set_tier(SUPPORT, NOW, org, "tier5")


def test_negotiated_rate_limits_reach_admission(books: Books) -> None:
    org = books.create_org(SYSTEM, NOW - timedelta(days=30))
    books.grant_credit(SYSTEM, NOW, org, "100.00", kind="promotional")
    key = books.create_key(SYSTEM, NOW, org)
    books.set_tier(SYSTEM, NOW, org, "tier1")
    books.set_rate_limits(Actor("ada", Role.ADMIN), NOW, org, {"gpt-4o-mini": {"rpm": 1, "tpm": None}})
    first = books.admit(NOW, secret=key.secret, model="gpt-4o-mini", input_tokens=10)
    assert not isinstance(first, Deny)
    second = books.admit(NOW + timedelta(seconds=1), secret=key.secret, model="gpt-4o-mini", input_tokens=10)
    assert isinstance(second, Deny) and second.rule == Rule.RATE_LIMIT and second.limit["rpm"] == "1"
    for bad in ({"m": {"rpm": 0}}, {"m": {}}, {"m": {"rpm": True}}, {"m": {"rpm": 5, "burst": 9}}, []):
        with pytest.raises(InputError):
            books.set_rate_limits(SYSTEM, NOW, org, bad)


def _invoiced_with_invoice(books: Books, request_id: str) -> tuple[str, str]:
    org = books.create_org(SYSTEM, NOW - timedelta(days=90), billing_mode="invoiced")
    books.record_usage(
        NOW - timedelta(days=40),
        UsageEvent(request_id, org, "gpt-4o", NOW - timedelta(days=40), 10**6, 10**5),
    )
    books.tick(NOW)
    inv = books.organization(org).invoices[0]
    return org, inv.id


def test_invoice_paid_outside_the_processor_or_waived_keeps_the_ledger_true(books: Books) -> None:
    org, inv = _invoiced_with_invoice(books, "r1")
    with pytest.raises(ForbiddenError) as refused:
        books.record_invoice_payment(SUPPORT, NOW, inv, reference="wire 123")
    assert "finance" in refused.value.allowed
    pay = books.record_invoice_payment(FINANCE, NOW, inv, reference="wire 123")
    assert pay.startswith("pay_")
    assert books.organization(org).invoices[0].status == "paid"
    with pytest.raises(ConflictError):
        books.record_invoice_payment(FINANCE, NOW, inv, reference="wire 123")
    org2, inv2 = _invoiced_with_invoice(books, "r2")
    with pytest.raises(ForbiddenError):
        books.waive_invoice(SUPPORT, NOW, inv2, reason="goodwill")
    books.waive_invoice(FINANCE, NOW, inv2, reason="outage credit agreed")
    assert books.organization(org2).invoices[0].status == "void"
    assert books.verify().ok


def test_flags_lift_by_id_by_the_owning_team_only(books: Books) -> None:
    org = books.create_org(SYSTEM, NOW)
    fid = books.raise_flag(SYSTEM, NOW, org, "outstanding_balance", reason="unpaid")
    with pytest.raises(ForbiddenError):
        books.lift_flag_id(Actor("tess", Role.TRUST_AND_SAFETY), NOW, org, fid, reason="x")
    with pytest.raises(InputError):
        books.lift_flag_id(FINANCE, NOW, org, fid, reason=" ")
    row = books.lift_flag_id(FINANCE, NOW, org, fid, reason="paid")
    assert row["active"] is False and row["lifted_by"] == "fran"
    assert books.organization(org).status == "active"
    again = books.lift_flag_id(FINANCE, NOW, org, fid, reason="paid")
    assert again["lifted_at"] == row["lifted_at"]  # lifting twice changes nothing
    other = books.create_org(SYSTEM, NOW)
    with pytest.raises(Exception) as missing:
        books.lift_flag_id(FINANCE, NOW, other, fid, reason="x")
    assert getattr(missing.value, "field", None) == "flag"


def test_the_probe_is_the_gateways_decision(books: Books) -> None:
    org = books.create_org(SYSTEM, NOW - timedelta(days=10))
    assert access_now(books.engine, org, NOW).key_id is None  # no key: refused as an unknown key
    assert not access_now(books.engine, org, NOW).allowed
    key = books.create_key(SYSTEM, NOW, org, environment="production")
    probe = access_now(books.engine, org, NOW)
    assert not probe.allowed and isinstance(probe.decision, Deny)
    assert probe.decision.rule == Rule.CREDITS_EXHAUSTED and probe.key_id == key.id
    books.grant_credit(SYSTEM, NOW, org, "5.00", kind="promotional")
    assert access_now(books.engine, org, NOW).allowed
    books.set_limits(SYSTEM, NOW, org, hard="0.00")
    refused = access_now(books.engine, org, NOW).decision
    assert isinstance(refused, Deny) and refused.rule == Rule.HARD_LIMIT


def test_stripe_links_are_one_org_per_customer(books: Books) -> None:
    a = books.create_org(SYSTEM, NOW, stripe_customer="cus_A1")
    b = books.create_org(SYSTEM, NOW)
    with pytest.raises(ConflictError):
        books.link_stripe(SYSTEM, NOW, b, "cus_A1")
    books.link_stripe(SYSTEM, NOW, a, None)
    books.link_stripe(SYSTEM, NOW, b, "cus_A1")
    with pytest.raises(InputError):
        books.link_stripe(SYSTEM, NOW, b, "acct_1")
