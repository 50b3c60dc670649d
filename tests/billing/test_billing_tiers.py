"""Tiers (rule: free → tier1…tier5 by payment method AND paid spend AND account age; upgrade pending; per-model limits)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from billing_factories import DAY, NOW, card, grant, org, usd

from quotadesk.billing.model import (
    GrantKind,
    PaymentMethodStatus,
    PaymentPurpose,
    PaymentStatus,
    PendingUpgrade,
    RateLimit,
    TierState,
)
from quotadesk.billing.model import Payment as Pay
from quotadesk.billing.pricing import DEFAULT_PRICES
from quotadesk.billing.tiers import (
    DEFAULT_TIERS,
    TierSpec,
    TierTable,
    evaluate_tier,
    model_allowed,
    rate_limit_for,
)


def _books(
    tier: str = "free", age_days: int = 400, cards: tuple[object, ...] = (card(),), **kw: object
) -> object:
    base: dict[str, object] = {"credit_grants": ()} | kw  # no purchased credit unless a test says so
    return org(tier=TierState(current=tier), created_at=NOW - age_days * DAY, payment_methods=cards, **base)


QUALIFY = [
    # (card?, paid $, age days) → highest tier qualified for
    pytest.param(False, "5000", 400, "free", id="no-card-stays-free-whatever-the-spend"),
    pytest.param(True, "0", 400, "free", id="card-but-no-paid-spend"),
    pytest.param(True, "5", 0, "tier1", id="tier1-at-5-dollars"),
    pytest.param(True, "4.99", 400, "free", id="just-below-tier1"),
    pytest.param(True, "50", 6, "tier1", id="tier2-spend-but-too-young"),
    pytest.param(True, "50", 7, "tier2", id="tier2"),
    pytest.param(True, "100", 7, "tier3", id="tier3"),
    pytest.param(True, "250", 13, "tier3", id="tier4-spend-but-too-young"),
    pytest.param(True, "250", 14, "tier4", id="tier4"),
    pytest.param(True, "1000", 30, "tier5", id="tier5"),
]


@pytest.mark.parametrize(("has_card", "paid", "age", "expected"), QUALIFY)
def test_qualification_needs_card_and_spend_and_age(
    has_card: bool, paid: str, age: int, expected: str
) -> None:
    books = _books(age_days=age, cards=(card(),) if has_card else ())
    assert evaluate_tier(books, usd(paid), NOW).qualifies_for == expected


def test_a_declined_or_expired_card_is_no_payment_method() -> None:
    for bad in (card(PaymentMethodStatus.DECLINED), card(exp_month=1, exp_year=2026)):
        books = _books(cards=(bad,))
        ev = evaluate_tier(books, usd("10"), NOW)
        assert ev.qualifies_for == "free"
        assert [c.name for c in ev.unmet] == ["payment_method"]


def test_unmet_criteria_name_figures_for_the_next_tier() -> None:
    books = _books(age_days=2, cards=())
    ev = evaluate_tier(books, usd("1"), NOW)
    assert ev.next_tier == "tier1" and ev.pending is None
    assert [str(c) for c in ev.unmet] == [
        "payment_method: needs a valid payment method, has none usable",
        "paid_spend: needs $5.00, has $1.00",
    ]
    ev2 = evaluate_tier(_books(tier="tier1", age_days=2), usd("60"), NOW)
    assert ev2.next_tier == "tier2"
    assert [str(c) for c in ev2.unmet] == ["account_age: needs 7 days, has 2 days"]


def test_upgrade_is_pending_within_the_settle_period_then_overdue() -> None:
    met = NOW - timedelta(hours=3)
    pays = (Pay("p1", met, usd("5"), PaymentStatus.SUCCEEDED, PaymentPurpose.TOP_UP),)
    books = _books(tier="free", payments=pays)
    ev = evaluate_tier(books, None, NOW)
    assert (ev.current, ev.qualifies_for, ev.pending) == ("free", "tier1", "tier1")
    assert ev.pending_since == met and ev.pending_until == met + timedelta(hours=24)
    assert not ev.overdue
    late = evaluate_tier(books, None, met + timedelta(hours=24))
    assert late.overdue
    short = evaluate_tier(books, None, NOW, settle=timedelta(hours=1))
    assert short.overdue


def test_recorded_pending_upgrade_uses_its_requested_at() -> None:
    asked = NOW - timedelta(hours=2)
    books = org(
        tier=TierState(current="free", pending=PendingUpgrade("tier1", asked)),
        payments=(Pay("p1", NOW - DAY * 3, usd("10"), PaymentStatus.SUCCEEDED),),
    )
    ev = evaluate_tier(books, None, NOW)
    assert ev.pending == "tier1" and ev.pending_since == asked and not ev.overdue


def test_recorded_pending_upgrade_whose_criteria_fail_lists_what_is_missing() -> None:
    books = org(
        tier=TierState(current="free", pending=PendingUpgrade("tier1", NOW - DAY)), payment_methods=()
    )
    ev = evaluate_tier(books, 0, NOW)
    assert ev.pending == "tier1" and ev.next_tier == "tier1" and ev.pending_until is None
    assert {c.name for c in ev.unmet} == {"payment_method", "paid_spend"}


def test_paid_total_defaults_to_succeeded_payments() -> None:
    pays = (
        Pay("p1", NOW - 20 * DAY, usd("30"), PaymentStatus.SUCCEEDED),
        Pay("p2", NOW - 10 * DAY, usd("30"), PaymentStatus.SUCCEEDED, PaymentPurpose.AUTO_RECHARGE),
        Pay("p3", NOW - 5 * DAY, usd("500"), PaymentStatus.FAILED),
    )
    ev = evaluate_tier(_books(tier="tier1", payments=pays), None, NOW)
    assert ev.qualifies_for == "tier2"


def test_paid_total_falls_back_to_purchased_grants_when_payments_are_missing() -> None:
    bought = (
        grant("g1", "0.00", amount="40", granted_at=NOW - 40 * DAY),
        grant("g2", "10.00", amount="20", kind=GrantKind.AUTO_RECHARGE, granted_at=NOW - 3 * DAY),
        grant("g3", "25.00", amount="100", kind=GrantKind.GOODWILL),  # free credit is not paid spend
    )
    ev = evaluate_tier(_books(tier="tier1", credit_grants=bought), None, NOW)
    assert ev.qualifies_for == "tier2"
    assert ev.pending == "tier2" and ev.pending_since == NOW - 3 * DAY and ev.overdue
    # Payments and the grants they bought are the same money: never added together.
    pays = (Pay("p1", NOW - 40 * DAY, usd("40"), PaymentStatus.SUCCEEDED),)
    same = evaluate_tier(_books(tier="tier1", credit_grants=bought[:1], payments=pays), None, NOW)
    assert same.qualifies_for == "tier1"


def test_no_pending_when_current_is_already_at_or_above() -> None:
    ev = evaluate_tier(_books(tier="tier3"), usd("60"), NOW)
    assert ev.pending is None and ev.next_tier == "tier4"


@pytest.mark.parametrize("bad", [-1, True])
def test_bad_paid_total_is_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="paid_total"):
        evaluate_tier(_books(), bad, NOW)


def test_unknown_tier_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="tier: unknown tier 'gold'"):
        evaluate_tier(_books(tier="gold"), 0, NOW)


@pytest.mark.parametrize(
    ("tier", "model", "allowed"),
    [
        ("free", "gpt-4o-mini", True),
        ("free", "gpt-4o-mini-2024-07-18", True),
        ("free", "claude-haiku", True),
        ("free", "gpt-4o", False),
        ("free", "o1", False),
        ("tier1", "gpt-4o", True),
        ("tier1", "o1", False),
        ("tier2", "o1", True),
        ("tier5", "claude-opus-4-1", True),
    ],
)
def test_models_each_tier_may_call(tier: str, model: str, allowed: bool) -> None:
    assert model_allowed(tier, model) is allowed


def test_free_tier_calls_only_economy_models() -> None:
    free = DEFAULT_TIERS.get("free").models
    assert free is not None
    assert all(DEFAULT_PRICES[m].price_class == "economy" for m in free)


@pytest.mark.parametrize(
    ("tier", "model", "expected"),
    [
        ("free", "gpt-4o-mini", RateLimit(3, 40_000)),
        ("free", "gpt-4o", None),
        ("tier2", "gpt-4o-mini", RateLimit(5_000, 2_000_000)),
        ("tier2", "gpt-4o-2024-08-06", RateLimit(5_000, 450_000)),
        ("tier2", "some-bundle-only-model", RateLimit(5_000, 450_000)),
        ("tier5", "gpt-4o-mini", RateLimit(30_000, 150_000_000)),
    ],
)
def test_rate_limit_for(tier: str, model: str, expected: RateLimit | None) -> None:
    assert rate_limit_for(tier, model) == expected


def test_rate_limits_grow_with_the_tier() -> None:
    tpms = [rate_limit_for(t, "gpt-4o-mini").tpm for t in DEFAULT_TIERS.names]  # type: ignore[union-attr]
    assert tpms == sorted(tpms)


def test_a_deployment_can_override_the_table() -> None:
    table = TierTable.from_mapping(
        {
            "settle_hours": 2,
            "tiers": [
                {"name": "free", "requires_payment_method": False, "models": ["gpt-4o"],
                 "rate_limits": {"gpt-4o": {"rpm": 1, "tpm": 100}}},
                {"name": "pro", "min_paid_total": "20", "min_account_age_days": 1, "models": None,
                 "rate_limits": {"*": {"rpm": 99, "tpm": None}}},
            ],
        }
    )  # fmt: skip
    assert table.settle == timedelta(hours=2)
    assert model_allowed("free", "gpt-4o", table) and not model_allowed("free", "gpt-4o-mini", table)
    assert rate_limit_for("free", "gpt-4o", table) == RateLimit(1, 100)
    assert rate_limit_for("pro", "o1", table) == RateLimit(99, None)
    books = org(tier=TierState(current="free"))
    assert evaluate_tier(books, usd("20"), NOW, table).qualifies_for == "pro"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "tiers"),
        ({"tiers": [{"name": ""}]}, r"tiers\[0\]\.name"),
        ({"tiers": [{"name": "a", "min_paid_total": "x"}]}, r"tiers\[0\]\.min_paid_total"),
        ({"tiers": [{"name": "a", "min_account_age_days": -1}]}, r"tiers\[0\]\.min_account_age_days"),
        ({"tiers": [{"name": "a", "models": "gpt-4o"}]}, r"tiers\[0\]\.models"),
        ({"tiers": [{"name": "a", "rate_limits": {"m": {"rpm": "9"}}}]}, r"tiers\[0\]\.rate_limits\.m\.rpm"),
        ({"tiers": [{"name": "a"}, {"name": "a"}]}, "duplicate"),
        ({"tiers": [{"name": "a"}], "settle_hours": -1}, "settle_hours"),
    ],
)
def test_malformed_tier_tables_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        TierTable.from_mapping(data)


def test_empty_table_is_refused() -> None:
    with pytest.raises(ValueError, match="tiers"):
        TierTable(())
    assert TierSpec("x", False, 0, 0, None).rate_limits == {}


def test_naive_now_is_refused() -> None:
    from datetime import datetime

    with pytest.raises(ValueError, match="now: naive"):
        evaluate_tier(_books(), 0, datetime(2026, 11, 20))
