"""The Books API end to end on both databases: money in, usage out, roles, bad input."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from quotadesk.billing.decision import Deny, Rule
from quotadesk.billing.model import (
    GrantKind,
    KeyStatus,
    NoticeKind,
    OrgStatus,
    PaymentMethodStatus,
    PaymentStatus,
)
from quotadesk.errors import InputError, NotFoundError
from quotadesk.store import ledger
from quotadesk.store.access import SYSTEM, Actor, Role
from quotadesk.store.admission import Admitted
from quotadesk.store.books import Books
from quotadesk.store.errors import ConflictError, ForbiddenError, PaymentError
from quotadesk.store.metering import UsageEvent
from quotadesk.store.schema import audit_log, ledger_transactions, usage_events

NOW = datetime(2026, 11, 14, 9, 0, tzinfo=UTC)
CUSTOMER = Actor("owner@acme.test", Role.CUSTOMER)
SUPPORT = Actor("sam@support", Role.SUPPORT)
FINANCE = Actor("fran@finance", Role.FINANCE)
TNS = Actor("tina@tns", Role.TRUST_AND_SAFETY)
BILLING = Actor("bill@billing", Role.BILLING_TEAM)
FAST = {"gpt-4o-mini": {"rpm": 100_000, "tpm": 100_000_000}}


def _event(
    org: str, rid: str, *, tokens: int = 1_000_000, model: str = "gpt-4o-mini", ts: datetime = NOW
) -> UsageEvent:
    return UsageEvent(request_id=rid, org_id=org, model=model, ts=ts, input_tokens=tokens, output_tokens=0)


def _snapshot(books: Books) -> dict[str, int]:
    with books.engine.connect() as conn:
        return {
            t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one())
            for t in (
                "ledger_transactions",
                "ledger_postings",
                "usage_events",
                "credit_grants",
                "payments",
                "notices",
            )
        }


def test_top_up_usage_and_balances(books: Books) -> None:
    org = books.create_org(SYSTEM, NOW, name="Acme", free_trial="5.00", trial_days=30)
    books.add_payment_method(CUSTOMER, NOW, org, "4242424242424242", 12, 2030)
    pay = books.top_up(CUSTOMER, NOW, org, "10.00")
    assert pay.status == PaymentStatus.SUCCEEDED
    # 1M gpt-4o-mini input tokens = $0.15; three of them, one replayed
    result = books.record_usage_batch(NOW, [_event(org, "r1"), _event(org, "r2"), _event(org, "r1")])
    assert (result.posted, result.duplicates, result.cost) == (2, 1, 300_000_000)
    o = books.organization(org)
    by_kind = {g.kind: g.remaining for g in o.credit_grants}
    # the free trial expires first, so it pays first
    assert by_kind == {GrantKind.FREE_TRIAL: 4_700_000_000, GrantKind.PURCHASED: 10_000_000_000}
    with books.engine.connect() as conn:
        assert ledger.balance(conn, f"spend:{org}:2026-11") == 300_000_000
    assert books.verify().ok
    # replaying the same batch changes nothing
    before = _snapshot(books)
    again = books.record_usage_batch(NOW, [_event(org, "r1"), _event(org, "r2")])
    assert (again.posted, again.duplicates) == (0, 2)
    assert _snapshot(books) == before


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"input_tokens": -1}, "usage[1].input_tokens", InputError),
        ({"model": "gpt-9-imaginary"}, "usage[1].model", InputError),
        ({"org_id": "org_nope"}, "usage[1].org_id", NotFoundError),
        (
            {"request_id": "r0", "input_tokens": 7},
            "usage[1].input_tokens",
            ConflictError,
        ),
        ({"ts": datetime(2026, 11, 14)}, "usage[1].ts", InputError),
    ],
)
def test_bad_usage_names_the_field_and_changes_nothing(
    books: Books, changes: dict[str, object], field: str, error: type
) -> None:
    org = books.create_org(SYSTEM, NOW, free_trial="5.00")
    books.record_usage(NOW, _event(org, "r0"))
    before = _snapshot(books)
    bad = replace(_event(org, "r1"), **changes)  # type: ignore[arg-type]
    with pytest.raises(error) as err:
        books.record_usage_batch(NOW, [_event(org, "r2"), bad])
    assert err.value.field == field
    assert _snapshot(books) == before


def test_replayed_request_id_with_other_content_is_a_conflict(books: Books) -> None:
    org = books.create_org(SYSTEM, NOW, free_trial="5.00")
    books.record_usage(NOW, _event(org, "r1"))
    with pytest.raises(ConflictError) as err:
        books.record_usage(NOW, _event(org, "r1", tokens=5))
    assert err.value.field == "usage[0].input_tokens"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda b, o: b.top_up(CUSTOMER, NOW, o, "-5"), "amount"),
        (lambda b, o: b.top_up(CUSTOMER, NOW, o, 5.0), "amount"),
        (lambda b, o: b.top_up(CUSTOMER, NOW, o, "0"), "amount"),
        (lambda b, o: b.top_up(CUSTOMER, NOW, "org_missing", "5"), "org_id"),
        (lambda b, o: b.top_up(CUSTOMER, NOW.replace(tzinfo=None), o, "5"), "now"),
        (lambda b, o: b.set_limits(CUSTOMER, NOW, o, soft="-1"), "soft"),
        (lambda b, o: b.create_key(CUSTOMER, NOW, o, scope="team"), "scope"),
        (lambda b, o: b.create_key(CUSTOMER, NOW, o, scope="personal"), "owner"),
        (lambda b, o: b.create_org(SYSTEM, NOW, billing_mode="monthly"), "billing_mode"),
        (lambda b, o: b.grant_credit(BILLING, NOW, o, "5", kind="purchased"), "kind"),
        (lambda b, o: b.top_up(CUSTOMER, NOW, o, "5"), "payment_method_id"),  # no card on file
    ],
)
def test_bad_input_is_refused_naming_the_field(books: Books, call: object, field: str) -> None:
    org = books.create_org(SYSTEM, NOW)
    before = _snapshot(books)
    with pytest.raises((InputError, NotFoundError)) as err:
        call(books, org)  # type: ignore[operator]
    assert err.value.field == field
    assert _snapshot(books) == before


def test_keys_are_stored_hashed_and_shown_once(books: Books) -> None:
    org = books.create_org(SYSTEM, NOW)
    key = books.create_key(CUSTOMER, NOW, org, name="prod")
    with books.engine.connect() as conn:
        dump = "\n".join(str(r) for r in conn.execute(text("SELECT * FROM api_keys")))
    assert key.secret not in dump
    assert key.redacted in dump and key.redacted.endswith(key.secret[-4:])
    personal = books.create_key(CUSTOMER, NOW, org, scope="personal", owner="dev@acme.test")
    assert books.member_left(CUSTOMER, NOW, org, "dev@acme.test") == [personal.id]
    status = {k.id: k.status for k in books.organization(org).api_keys}
    assert status == {key.id: KeyStatus.ACTIVE, personal.id: KeyStatus.REVOKED}
    denied = books.admit(NOW, secret=personal.secret, model="gpt-4o-mini")
    assert isinstance(denied, Deny) and denied.rule == Rule.DEPARTED_MEMBER_KEY
    unknown = books.admit(NOW, secret="sk-not-a-key-of-anyone", model="gpt-4o-mini")
    assert isinstance(unknown, Deny) and unknown.rule == Rule.INVALID_KEY


def test_declining_card_leaves_a_failed_payment_a_notice_and_no_credit(books: Books) -> None:
    org = books.create_org(SYSTEM, NOW)
    books.add_payment_method(CUSTOMER, NOW, org, "4000000000000341", 12, 2030)
    pay = books.top_up(CUSTOMER, NOW, org, "25.00")
    assert (pay.status, pay.failure_code) == (PaymentStatus.FAILED, "card_declined")
    o = books.organization(org)
    assert o.credit_grants == ()
    assert [n.kind for n in o.notices] == [NoticeKind.PAYMENT_FAILED]
    assert o.payment_methods[0].status == PaymentMethodStatus.DECLINED
    with pytest.raises(PaymentError) as err:
        books.add_payment_method(CUSTOMER, NOW, org, "4000000000000002", 12, 2030)
    assert err.value.code == "card_declined"
    assert books.verify().ok


def test_auto_recharge_charges_once_and_never_loops(books: Books) -> None:
    org = books.create_org(SYSTEM, NOW, free_trial="1.00")
    books.add_payment_method(CUSTOMER, NOW, org, "4242424242424242", 12, 2030)
    books.set_auto_recharge(CUSTOMER, NOW, org, enabled=True, threshold="0.50", amount="20.00")
    books.record_usage(NOW, _event(org, "r1", tokens=4_000_000))  # $0.60 → balance $0.40 < $0.50
    o = books.organization(org)
    recharges = [p for p in o.payments if p.purpose == "auto_recharge"]
    assert [p.status for p in recharges] == [PaymentStatus.SUCCEEDED]
    assert sum(g.remaining for g in o.credit_grants) == 20_400_000_000
    # a declining card: one failed payment, a notice, no credit, and the card is not retried
    books.add_payment_method(CUSTOMER, NOW, org, "4000000000000341", 12, 2030)
    books.record_usage(NOW, _event(org, "r2", tokens=134_000_000))  # $20.10 → $0.30 left
    books.record_usage(NOW, _event(org, "r3", tokens=1_000_000))
    books.record_usage(NOW, _event(org, "r4", tokens=1_000_000))
    o = books.organization(org)
    failed = [p for p in o.payments if p.status == PaymentStatus.FAILED]
    assert len(failed) == 1 and failed[0].failure_code == "card_declined"
    assert NoticeKind.AUTO_RECHARGE_FAILED in {n.kind for n in o.notices}
    assert books.verify().ok


def test_support_cannot_lift_a_suspension_or_grant_credit_and_is_audited(books: Books) -> None:
    org = books.create_org(SYSTEM, NOW)
    key = books.create_key(CUSTOMER, NOW, org)
    books.raise_flag(TNS, NOW, org, "policy_violation", reason="report #123")
    assert books.organization(org).status == OrgStatus.SUSPENDED
    denied = books.admit(NOW, secret=key.secret, model="gpt-4o-mini")
    assert isinstance(denied, Deny) and denied.rule == Rule.SUSPENDED
    with pytest.raises(ForbiddenError):
        books.lift_flag(SUPPORT, NOW, org, "policy_violation")
    with pytest.raises(ForbiddenError):
        books.lift_flag(FINANCE, NOW, org, "policy_violation")
    with pytest.raises(ForbiddenError):
        books.grant_credit(SUPPORT, NOW, org, "50.00")
    with pytest.raises(ForbiddenError):
        books.raise_flag(SUPPORT, NOW, org, "fraud")
    with books.engine.connect() as conn:
        refused = conn.execute(
            select(audit_log.c.actor, audit_log.c.action)
            .where(audit_log.c.outcome == "refused")
            .order_by(audit_log.c.id)
        ).all()
    assert [tuple(r) for r in refused] == [
        ("sam@support", "lift_flag:policy_violation"),
        ("fran@finance", "lift_flag:policy_violation"),
        ("sam@support", "grant_credit"),
        ("sam@support", "raise_flag:fraud"),
    ]
    assert books.organization(org).status == OrgStatus.SUSPENDED
    assert books.lift_flag(TNS, NOW, org, "policy_violation") == 1
    o = books.organization(org)
    assert o.status == OrgStatus.ACTIVE and not any(f.active for f in o.flags)
    books.raise_flag(FINANCE, NOW, org, "outstanding_balance")
    with pytest.raises(ForbiddenError):
        books.lift_flag(TNS, NOW, org, "outstanding_balance")
    assert books.lift_flag(FINANCE, NOW, org, "outstanding_balance") == 1
    books.grant_credit(BILLING, NOW, org, "5.00", reason="goodwill for outage")
    assert books.verify().ok


def test_admit_holds_and_settle_posts_the_real_cost(books: Books) -> None:
    org = books.create_org(SYSTEM, NOW, free_trial="1.00", rate_limits=FAST)
    key = books.create_key(CUSTOMER, NOW, org)
    first = books.admit(NOW, secret=key.secret, model="gpt-4o-mini", input_tokens=4_000_000)  # $0.60
    assert isinstance(first, Admitted) and first.hold.amount == 600_000_000
    second = books.admit(NOW, secret=key.secret, model="gpt-4o-mini", input_tokens=4_000_000)
    assert isinstance(second, Deny) and second.rule == Rule.CREDITS_EXHAUSTED  # $0.40 free after the hold
    settled = books.settle(NOW, first.hold.id, input_tokens=1_000_000, output_tokens=0)
    assert (settled.cost, settled.held) == (150_000_000, 600_000_000)
    assert books.settle(NOW, first.hold.id, input_tokens=1_000_000, output_tokens=0).replayed
    third = books.admit(NOW, secret=key.secret, model="gpt-4o-mini", input_tokens=4_000_000)
    assert isinstance(third, Admitted)  # $0.85 left, hold released
    unpriced = books.admit(NOW, secret=key.secret, model="gpt-9-imaginary")
    assert isinstance(unpriced, Deny) and unpriced.rule == Rule.MODEL_NOT_IN_TIER
    with pytest.raises(InputError) as err:
        books.admit(NOW, secret=key.secret, model="gpt-4o-mini", input_tokens=-5)
    assert err.value.field == "estimated_input_tokens"
    assert books.verify().ok


def test_hard_limit_refuses_until_the_first(books: Books) -> None:
    org = books.create_org(SYSTEM, NOW, free_trial="10.00", rate_limits=FAST)
    key = books.create_key(CUSTOMER, NOW, org)
    books.set_limits(CUSTOMER, NOW, org, soft="0.10", hard="0.20")
    books.record_usage(NOW, _event(org, "r1", tokens=2_000_000))  # $0.30
    denied = books.admit(NOW, secret=key.secret, model="gpt-4o-mini", input_tokens=10)
    assert isinstance(denied, Deny) and denied.rule == Rule.HARD_LIMIT
    december = datetime(2026, 12, 1, tzinfo=UTC)
    assert isinstance(
        books.admit(december, secret=key.secret, model="gpt-4o-mini", input_tokens=10), Admitted
    )
    report = books.tick(NOW + timedelta(minutes=1))
    assert report.counts.get("soft_limit_notices") == 1
    assert books.tick(NOW + timedelta(minutes=1)).counts.get("soft_limit_notices") is None
    kinds = [n.kind for n in books.organization(org).notices]
    assert kinds.count(NoticeKind.SOFT_LIMIT_REACHED) == 1 and kinds.count(NoticeKind.HARD_LIMIT_REACHED) == 1


def test_tick_expires_grants_into_breakage(books: Books) -> None:
    org = books.create_org(SYSTEM, NOW, free_trial="5.00", trial_days=10)
    books.record_usage(NOW, _event(org, "r1"))
    later = NOW + timedelta(days=11)
    assert books.tick(later).counts["grants_expired"] == 1
    assert "grants_expired" not in books.tick(later).counts
    o = books.organization(org)
    assert [g.remaining for g in o.credit_grants] == [0]
    assert NoticeKind.CREDITS_EXPIRED in {n.kind for n in o.notices}
    with books.engine.connect() as conn:
        assert ledger.balance(conn, ledger.BREAKAGE) == 4_850_000_000
    assert books.verify().ok


def test_invoiced_account_invoice_overdue_flag_and_payment(books: Books) -> None:
    org = books.create_org(SYSTEM, NOW, billing_mode="invoiced", rate_limits=FAST)
    key = books.create_key(CUSTOMER, NOW, org)
    books.add_payment_method(CUSTOMER, NOW, org, "4242424242424242", 12, 2030)
    books.record_usage(NOW, _event(org, "r1", tokens=10_000_000))  # $1.50
    dec1 = datetime(2026, 12, 1, 0, 5, tzinfo=UTC)
    assert books.tick(dec1).counts["invoices_issued"] == 1
    (inv,) = books.organization(org).invoices
    assert inv.amount == 1_500_000_000 and inv.period_start == datetime(2026, 11, 1, tzinfo=UTC)
    assert "invoices_issued" not in books.tick(dec1).counts
    overdue_at = dec1 + timedelta(days=31)
    assert books.tick(overdue_at).counts["invoices_overdue"] == 1
    denied = books.admit(overdue_at, secret=key.secret, model="gpt-4o-mini", input_tokens=10)
    assert isinstance(denied, Deny) and denied.rule == Rule.INVOICE_OVERDUE
    assert books.tick(overdue_at + timedelta(days=31)).counts["flags_raised"] == 1
    assert books.organization(org).status == OrgStatus.SUSPENDED
    pay = books.pay_invoice(FINANCE, overdue_at + timedelta(days=32), inv.id)
    assert pay.status == PaymentStatus.SUCCEEDED
    books.lift_flag(FINANCE, overdue_at + timedelta(days=32), org, "outstanding_balance")
    assert books.organization(org).status == OrgStatus.ACTIVE
    assert books.verify().ok


def test_verify_reports_a_corrupted_cached_balance(books: Books) -> None:
    org = books.create_org(SYSTEM, NOW, free_trial="5.00")
    books.record_usage(NOW, _event(org, "r1"))
    assert books.verify().ok
    with books.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_accounts SET balance = balance + 1 WHERE name LIKE 'spend:%'"))
        conn.execute(text("UPDATE credit_grants SET remaining = remaining - 7"))
    report = books.verify()
    assert {f.code for f in report.findings} == {"balance_drift", "grant_drift"}
    assert report.counts["usage_events"] == 1
    with books.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(usage_events)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(ledger_transactions)).scalar() == 2


def test_late_usage_after_its_month_was_invoiced_is_billed_next_month(books: Books) -> None:
    org = books.create_org(SYSTEM, NOW, billing_mode="invoiced", rate_limits=FAST)
    books.record_usage(NOW, _event(org, "r1", tokens=10_000_000))  # $1.50 in November
    dec1 = datetime(2026, 12, 1, 0, 5, tzinfo=UTC)
    assert books.tick(dec1).counts["invoices_issued"] == 1
    # A November request reported late, after November's invoice went out: billed with the month in
    # which it was carried (January), never by reopening November's invoice.
    books.record_usage(dec1 + timedelta(hours=1), _event(org, "r2", tokens=20_000_000, ts=NOW))  # $3.00
    books.record_usage(
        dec1 + timedelta(days=3), _event(org, "r3", tokens=10_000_000, ts=dec1 + timedelta(days=3))
    )
    jan1 = datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
    counts = books.tick(jan1).counts
    assert counts["late_usage_carried"] == 1 and counts["invoices_issued"] == 1
    assert [inv.amount for inv in books.organization(org).invoices] == [1_500_000_000, 1_500_000_000]
    assert "invoices_issued" not in books.tick(jan1).counts
    feb1 = datetime(2027, 2, 1, 0, 5, tzinfo=UTC)
    assert books.tick(feb1).counts["invoices_issued"] == 1  # January's invoice carries November's late $3.00
    invs = sorted(books.organization(org).invoices, key=lambda i: i.period_start)
    assert [i.amount for i in invs] == [1_500_000_000, 1_500_000_000, 3_000_000_000]
    assert books.verify().ok
