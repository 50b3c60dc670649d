"""Auto-recharge (rule: below threshold → charge; one in flight; daily cap; failure → failed payment, notice, no credit)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from billing_factories import NOW, card, grant, org, usd
from hypothesis import given, settings
from hypothesis import strategies as st

from quotadesk.billing.grants import spendable_balance
from quotadesk.billing.model import (
    AutoRecharge,
    GrantKind,
    NoticeKind,
    Organization,
    Payment,
    PaymentMethodStatus,
    PaymentPurpose,
    PaymentStatus,
)
from quotadesk.billing.recharge import (
    apply_charge_result,
    attempts_today,
    card_usable,
    decide_recharge,
    start_charge,
)

ON = AutoRecharge(enabled=True, threshold=usd("10"), amount=usd("50"), daily_cap=3)


def _payment(pid: str, status: PaymentStatus, at: datetime = NOW - timedelta(hours=1)) -> Payment:
    return Payment(id=pid, at=at, amount=usd("50"), status=status, purpose=PaymentPurpose.AUTO_RECHARGE)


LOW = (grant(remaining="4.00"),)

DECISIONS = [
    pytest.param({}, True, "below_threshold", id="below-threshold-charges"),
    pytest.param(
        {"credit_grants": (grant(remaining="10.00"),)}, False, "above_threshold", id="at-threshold-no"
    ),
    pytest.param({"auto_recharge": replace(ON, enabled=False)}, False, "disabled", id="disabled"),
    pytest.param({"auto_recharge": replace(ON, amount=None)}, False, "not_configured", id="no-amount"),
    pytest.param({"auto_recharge": replace(ON, threshold=None)}, False, "not_configured", id="no-threshold"),
    pytest.param(
        {"payments": (_payment("p", PaymentStatus.PENDING),)}, False, "in_flight", id="one-in-flight"
    ),
    pytest.param(
        {"payments": tuple(_payment(f"p{i}", PaymentStatus.FAILED) for i in range(3))},
        False,
        "daily_cap",
        id="daily-cap-counts-failures",
    ),
    pytest.param(
        {
            "payments": tuple(
                _payment(f"p{i}", PaymentStatus.FAILED, NOW - timedelta(days=1)) for i in range(3)
            )
        },
        True,
        "below_threshold",
        id="yesterdays-attempts-do-not-count",
    ),
    pytest.param(
        {"payments": (Payment("t", NOW, usd("5"), PaymentStatus.FAILED, PaymentPurpose.TOP_UP),) * 3},
        True,
        "below_threshold",
        id="top-ups-do-not-count",
    ),
    pytest.param({"payment_methods": ()}, False, "no_valid_card", id="no-card"),
    pytest.param(
        {"payment_methods": (card(PaymentMethodStatus.DECLINED),)}, False, "no_valid_card", id="declined-card"
    ),
    pytest.param(
        {"payment_methods": (card(exp_month=10, exp_year=2026),)},
        False,
        "no_valid_card",
        id="card-past-expiry",
    ),
    pytest.param(
        {"payment_methods": (card(default=False), card(id="pm_2", default=False))},
        False,
        "no_valid_card",
        id="no-default-among-several",
    ),
]


@pytest.mark.parametrize(("changes", "charge", "reason"), DECISIONS)
def test_decide_recharge(changes: dict[str, object], charge: bool, reason: str) -> None:
    books = org(**({"auto_recharge": ON, "credit_grants": LOW} | changes))
    decision = decide_recharge(books, NOW)
    assert (decision.charge, decision.reason) == (charge, reason)
    if charge:
        assert decision.amount == usd("50") and decision.payment_method_id == "pm_1"
    else:
        assert decision.amount == 0


def test_no_valid_card_raises_a_notice_and_no_charge() -> None:
    decision = decide_recharge(org(auto_recharge=ON, credit_grants=LOW, payment_methods=()), NOW)
    assert decision.notice is not None and decision.notice.kind == NoticeKind.AUTO_RECHARGE_FAILED
    with pytest.raises(ValueError, match="no charge is due"):
        start_charge(decision, "p1", NOW)


def test_balance_can_be_given_instead_of_computed() -> None:
    books = org(auto_recharge=ON)
    assert not decide_recharge(books, NOW).charge
    assert decide_recharge(books, NOW, balance=usd("9.99")).charge


def test_card_is_good_through_its_expiry_month() -> None:
    c = card(exp_month=11, exp_year=2026)
    assert card_usable(c, datetime(2026, 11, 30, 23, 59, tzinfo=UTC))
    assert not card_usable(c, datetime(2026, 12, 1, tzinfo=UTC))


def test_failed_charge_gives_failed_payment_notice_and_no_credit() -> None:
    books = org(auto_recharge=ON, credit_grants=LOW)
    pending = start_charge(decide_recharge(books, NOW), "p1", NOW)
    assert pending.status == PaymentStatus.PENDING and pending.purpose == PaymentPurpose.AUTO_RECHARGE
    outcome = apply_charge_result(pending, False, NOW, failure_code="card_declined")
    assert outcome.payment.status == PaymentStatus.FAILED
    assert outcome.payment.failure_code == "card_declined"
    assert outcome.grant is None
    assert outcome.notice is not None and outcome.notice.kind == NoticeKind.AUTO_RECHARGE_FAILED


def test_succeeded_charge_gives_an_auto_recharge_grant_and_access_resumes() -> None:
    books = org(auto_recharge=ON, credit_grants=LOW)
    pending = start_charge(decide_recharge(books, NOW), "p1", NOW)
    outcome = apply_charge_result(pending, True, NOW)
    assert outcome.payment.status == PaymentStatus.SUCCEEDED and outcome.notice is None
    assert outcome.grant is not None
    assert outcome.grant.kind == GrantKind.AUTO_RECHARGE
    assert outcome.grant.amount == outcome.grant.remaining == usd("50")
    assert outcome.grant.expires_at is None
    assert spendable_balance((*LOW, outcome.grant), NOW) == usd("54")


@pytest.mark.parametrize(
    ("payment", "match"),
    [
        (_payment("p", PaymentStatus.FAILED), "payment.status"),
        (replace(_payment("p", PaymentStatus.PENDING), purpose=PaymentPurpose.TOP_UP), "payment.purpose"),
    ],
)
def test_only_a_pending_auto_recharge_can_be_settled(payment: Payment, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        apply_charge_result(payment, True, NOW)


def test_unknown_failure_code_is_refused() -> None:
    with pytest.raises(ValueError, match="failure_code"):
        apply_charge_result(_payment("p", PaymentStatus.PENDING), False, NOW, failure_code="nope")


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="now"):
        decide_recharge(org(auto_recharge=ON), datetime(2026, 11, 20))


@settings(max_examples=60, deadline=None)
@given(
    cap=st.integers(0, 5),
    steps=st.lists(st.tuples(st.integers(1, 240), st.booleans()), min_size=1, max_size=120),
)
def test_a_failing_card_never_loops(cap: int, steps: list[tuple[int, bool]]) -> None:
    """Requests keep arriving with a declining card: at most ``cap`` charges per UTC day, never two in flight."""
    books: Organization = org(
        auto_recharge=replace(ON, daily_cap=cap), credit_grants=(grant(remaining="0.00", amount="5.00"),)
    )
    now = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    for i, (minutes, settle) in enumerate(steps):
        now += timedelta(minutes=minutes)
        pending = [p for p in books.payments if p.status == PaymentStatus.PENDING]
        decision = decide_recharge(books, now)
        if decision.charge:
            assert not pending, "charged while a recharge was in flight"
            books = replace(books, payments=(*books.payments, start_charge(decision, f"p{i}", now)))
        if settle and pending:
            outcome = apply_charge_result(pending[0], False, now, failure_code="card_declined")
            books = replace(
                books, payments=tuple(outcome.payment if p.id == pending[0].id else p for p in books.payments)
            )
            assert outcome.grant is None
        assert attempts_today(books.payments, now) <= cap
        assert sum(1 for p in books.payments if p.status == PaymentStatus.PENDING) <= 1
    assert spendable_balance(books.credit_grants, now) == 0
