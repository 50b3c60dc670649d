"""Grants: spendable balance, consumption order and expiry (rule: Balance)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from billing_factories import DAY, NOW, grant, usd
from hypothesis import given
from hypothesis import strategies as st

from quotadesk.billing.grants import (
    consume,
    consumption_order,
    expired_remainders,
    is_expired,
    spendable_balance,
)
from quotadesk.billing.model import CreditGrant, GrantKind, NoticeKind


def test_balance_is_the_sum_of_unexpired_remainders() -> None:
    grants = [
        grant("a", "5.00", kind=GrantKind.FREE_TRIAL, expires_at=NOW - DAY),  # expired: gone
        grant("b", "3.25", expires_at=NOW + DAY),
        grant("c", "10.00"),  # never expires
    ]
    assert spendable_balance(grants, NOW) == usd("13.25")


def test_a_grant_expiring_exactly_now_is_expired() -> None:
    g = grant("a", "5.00", expires_at=NOW)
    assert is_expired(g, NOW)
    assert not is_expired(g, NOW - timedelta(microseconds=1))
    assert spendable_balance([g], NOW) == 0
    assert spendable_balance([g], NOW - timedelta(microseconds=1)) == usd("5.00")


def test_no_grants_no_balance() -> None:
    assert spendable_balance([], NOW) == 0


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="now"):
        spendable_balance([grant()], datetime(2026, 11, 20))


@pytest.mark.parametrize("field", ["remaining", "amount"])
def test_negative_grant_figures_are_refused_naming_the_field(field: str) -> None:
    from dataclasses import replace

    bad = replace(grant(), **{field: -1})
    with pytest.raises(ValueError, match=rf"credit_grants\[0\]\.{field}"):
        spendable_balance([bad], NOW)


def test_naive_grant_dates_are_refused() -> None:
    with pytest.raises(ValueError, match=r"credit_grants\[0\]\.expires_at"):
        spendable_balance([grant(expires_at=datetime(2027, 1, 1))], NOW)


# Each row: two grants that differ in one ordering criterion; the first listed must be spent first.
ORDER_CASES = [
    pytest.param(
        grant("soon", kind=GrantKind.PURCHASED, expires_at=NOW + DAY),
        grant("later", kind=GrantKind.FREE_TRIAL, expires_at=NOW + 9 * DAY),
        id="soonest-expiry-beats-free-first",
    ),
    pytest.param(
        grant("expiring", kind=GrantKind.PURCHASED, expires_at=NOW + 300 * DAY),
        grant("never", kind=GrantKind.GOODWILL, expires_at=None),
        id="never-expiring-goes-last",
    ),
    pytest.param(
        grant("free", kind=GrantKind.PROMOTIONAL, granted_at=NOW - DAY),
        grant("paid", kind=GrantKind.PURCHASED, granted_at=NOW - 9 * DAY),
        id="free-before-purchased-at-equal-expiry",
    ),
    pytest.param(
        grant("goodwill", kind=GrantKind.GOODWILL),
        grant("recharge", kind=GrantKind.AUTO_RECHARGE),
        id="goodwill-before-auto-recharge",
    ),
    pytest.param(
        grant("old", kind=GrantKind.PURCHASED, granted_at=NOW - 9 * DAY),
        grant("new", kind=GrantKind.PURCHASED, granted_at=NOW - DAY),
        id="oldest-first-otherwise",
    ),
]


@pytest.mark.parametrize(("first", "second"), ORDER_CASES)
def test_consumption_order(first: CreditGrant, second: CreditGrant) -> None:
    for given_order in ([first, second], [second, first]):
        assert [g.id for g in consumption_order(given_order, NOW)] == [first.id, second.id]
        # Spending exactly the first grant's remainder takes it all from that grant.
        result = consume(given_order, first.remaining, NOW)
        assert result.consumed == ((first.id, first.remaining),)


def test_consume_spills_over_in_order_and_keeps_input_order() -> None:
    grants = (
        grant("paid", "10.00"),
        grant("trial", "2.00", kind=GrantKind.FREE_TRIAL, expires_at=NOW + 5 * DAY),
    )
    result = consume(grants, usd("3.50"), NOW)
    assert result.consumed == (("trial", usd("2.00")), ("paid", usd("1.50")))
    assert [g.id for g in result.grants] == ["paid", "trial"]
    assert [g.remaining for g in result.grants] == [usd("8.50"), 0]
    assert result.shortfall == 0


def test_consume_never_touches_expired_grants_and_reports_shortfall() -> None:
    grants = (grant("old", "50.00", expires_at=NOW - DAY), grant("live", "1.00"))
    result = consume(grants, usd("5.00"), NOW)
    assert result.consumed == (("live", usd("1.00")),)
    assert result.grants[0] == grants[0]
    assert result.shortfall == usd("4.00")


def test_consume_zero_changes_nothing() -> None:
    grants = (grant("a", "1.00"),)
    assert consume(grants, 0, NOW) == (grants, (), 0)


@pytest.mark.parametrize("bad", [-1, True, 1.0])
def test_consume_refuses_bad_amounts(bad: object) -> None:
    with pytest.raises(ValueError, match="amount"):
        consume([grant()], bad, NOW)  # type: ignore[arg-type]


def test_consume_refuses_duplicate_grant_ids() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        consume([grant("a"), grant("a")], 1, NOW)


def test_expired_remainders_say_what_was_lost_and_when() -> None:
    e1, e2 = NOW - 10 * DAY, NOW - 2 * DAY
    grants = [
        grant("trial", "4.20", kind=GrantKind.FREE_TRIAL, amount="5.00", expires_at=e2),
        grant("promo", "1.00", kind=GrantKind.PROMOTIONAL, expires_at=e1),
        grant("spent", "0.00", amount="5.00", expires_at=e1),  # nothing left: nothing lost
        grant("live", "9.00", expires_at=NOW + DAY),
        grant("now", "0.50", expires_at=NOW),  # expires at now: lost
    ]
    lost = expired_remainders(grants, NOW)
    assert [(r.grant_id, r.remaining, r.expires_at) for r in lost.lost] == [
        ("promo", usd("1.00"), e1),
        ("trial", usd("4.20"), e2),
        ("now", usd("0.50"), NOW),
    ]
    assert lost.total == usd("5.70")
    assert lost.notice is not None
    assert lost.notice.kind == NoticeKind.CREDITS_EXPIRED and lost.notice.at == NOW


def test_no_expired_remainders_no_notice() -> None:
    lost = expired_remainders([grant("live", "9.00", expires_at=NOW + DAY)], NOW)
    assert lost.lost == () and lost.total == 0 and lost.notice is None


# --- properties -----------------------------------------------------------------------------------

KINDS = list(GrantKind)


@st.composite
def grant_sets(draw: st.DrawFn) -> list[CreditGrant]:
    n = draw(st.integers(0, 6))
    out = []
    for i in range(n):
        amount = draw(st.integers(0, 10**12))
        remaining = draw(st.integers(0, amount))
        expiry = draw(st.one_of(st.none(), st.integers(-5, 5)))
        out.append(
            CreditGrant(
                id=f"g{i}",
                kind=draw(st.sampled_from(KINDS)),
                amount=amount,
                remaining=remaining,
                granted_at=NOW - timedelta(days=draw(st.integers(0, 100))),
                expires_at=None if expiry is None else NOW + timedelta(hours=expiry),
            )
        )
    return out


@given(grants=grant_sets(), amount=st.integers(0, 10**13))
def test_spend_never_drives_a_grant_below_zero_and_consumed_sums_exactly(
    grants: list[CreditGrant], amount: int
) -> None:
    balance = spendable_balance(grants, NOW)
    result = consume(grants, amount, NOW)
    assert all(g.remaining >= 0 for g in result.grants)
    assert sum(n for _, n in result.consumed) == min(amount, balance)
    assert result.shortfall == amount - min(amount, balance)
    assert spendable_balance(result.grants, NOW) == balance - min(amount, balance)
    by_id = {g.id: g for g in grants}
    for gid, n in result.consumed:
        assert n > 0
        assert not is_expired(by_id[gid], NOW)
    for before, after in zip(grants, result.grants, strict=True):
        assert before.id == after.id and before.remaining - after.remaining == dict(result.consumed).get(
            before.id, 0
        )


@given(grants=grant_sets())
def test_balance_equals_the_sum_of_unexpired_remainders(grants: list[CreditGrant]) -> None:
    expected = sum(g.remaining for g in grants if g.expires_at is None or g.expires_at > NOW)
    assert spendable_balance(grants, NOW) == expected
    lost = expired_remainders(grants, NOW)
    assert lost.total + expected == sum(g.remaining for g in grants)
