"""Monthly limits on calendar months in UTC (rule: soft → one notice a month; hard → refuse until raised or the 1st)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from billing_factories import NOW, usd
from hypothesis import given
from hypothesis import strategies as st

from quotadesk.billing.limits import (
    limit_state,
    month_start,
    month_to_date,
    next_month_start,
    require_aware,
    soft_notice_sent,
)
from quotadesk.billing.model import Notice, NoticeKind, SpendLimits


@pytest.mark.parametrize(
    ("now", "start", "nxt"),
    [
        (datetime(2026, 11, 20, 12, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
        (datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC),
         datetime(2027, 1, 1, tzinfo=UTC)),
        (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC)),
        (datetime(2028, 2, 29, 23, tzinfo=UTC), datetime(2028, 2, 1, tzinfo=UTC), datetime(2028, 3, 1, tzinfo=UTC)),
        # 01:00 on Dec 1st in UTC+2 is still November in UTC: the billing month is UTC's.
        (datetime(2026, 12, 1, 1, tzinfo=timezone(timedelta(hours=2))), datetime(2026, 11, 1, tzinfo=UTC),
         datetime(2026, 12, 1, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_month_start_and_next(now: datetime, start: datetime, nxt: datetime) -> None:
    assert month_start(now) == start
    assert next_month_start(now) == nxt


@given(st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 1)))
def test_month_boundary_last_microsecond_is_old_month_and_midnight_is_new(naive: datetime) -> None:
    first = datetime(naive.year, naive.month, 1, tzinfo=UTC)
    last_instant = first - timedelta(microseconds=1)  # 23:59:59.999999 on the last day of the previous month
    assert (last_instant.hour, last_instant.minute, last_instant.second, last_instant.microsecond) == (
        23,
        59,
        59,
        999999,
    )
    assert month_start(last_instant) != first
    assert next_month_start(last_instant) == first
    assert month_start(first) == first
    # Spend at those two instants lands in different months.
    assert month_to_date([(last_instant, 5), (first, 7)], first) == 7
    assert month_to_date([(last_instant, 5), (first, 7)], last_instant) == 5


@pytest.mark.parametrize("fn", [month_start, next_month_start, require_aware])
def test_naive_now_is_refused(fn: object) -> None:
    with pytest.raises(ValueError, match="now: naive"):
        fn(datetime(2026, 11, 20, 12))  # type: ignore[operator]


def test_month_to_date_counts_this_month_up_to_now() -> None:
    spend = [
        (datetime(2026, 10, 31, 23, 59, 59, 999999, tzinfo=UTC), usd("100")),
        (datetime(2026, 11, 1, tzinfo=UTC), usd("1.50")),
        (NOW, usd("2.00")),
        (NOW + timedelta(seconds=1), usd("50")),
    ]
    assert month_to_date(spend, NOW) == usd("3.50")
    assert month_to_date(usd("12"), NOW) == usd("12")


@pytest.mark.parametrize("bad", [-1, True])
def test_month_to_date_figure_must_be_non_negative_int(bad: int) -> None:
    with pytest.raises(ValueError, match="month_to_date"):
        month_to_date(bad, NOW)


def test_month_to_date_refuses_naive_timestamps() -> None:
    with pytest.raises(ValueError, match=r"spend\[0\]\.ts"):
        month_to_date([(datetime(2026, 11, 2), 1)], NOW)


LIMITS = SpendLimits(soft=usd("150"), hard=usd("200"))


@pytest.mark.parametrize(
    ("mtd", "soft", "hard"),
    [("0", False, False), ("149.999999999", False, False), ("150", True, False), ("199.99", True, False),
     ("200", True, True), ("250", True, True)],
)  # fmt: skip
def test_soft_and_hard_reached_at_or_above_the_limit(mtd: str, soft: bool, hard: bool) -> None:
    state = limit_state(LIMITS, usd(mtd), NOW)
    assert (state.soft_reached, state.hard_reached) == (soft, hard)


def test_hard_limit_resets_on_the_first_of_next_month() -> None:
    state = limit_state(LIMITS, usd("200"), NOW)
    assert state.resets_at == datetime(2026, 12, 1, tzinfo=UTC)
    assert state.period_start == datetime(2026, 11, 1, tzinfo=UTC)


def test_no_limits_never_trip() -> None:
    state = limit_state(SpendLimits(), usd("1000000"), NOW)
    assert not state.soft_reached and not state.hard_reached and state.soft_notice is None


def test_soft_limit_sends_one_notice_per_month() -> None:
    first = limit_state(LIMITS, usd("151"), NOW)
    assert first.soft_notice == Notice(kind=NoticeKind.SOFT_LIMIT_REACHED, at=NOW)
    sent = (first.soft_notice,)
    later = NOW + timedelta(days=5)
    assert limit_state(LIMITS, usd("170"), later, sent).soft_notice is None
    # A notice from last month does not count for this one.
    last_month = (Notice(kind=NoticeKind.SOFT_LIMIT_REACHED, at=datetime(2026, 10, 25, tzinfo=UTC)),)
    assert limit_state(LIMITS, usd("151"), NOW, last_month).soft_notice is not None
    # Other notice kinds do not count either.
    other = (Notice(kind=NoticeKind.HARD_LIMIT_REACHED, at=NOW - timedelta(days=1)),)
    assert limit_state(LIMITS, usd("151"), NOW, other).soft_notice is not None


def test_soft_notice_sent_respects_the_month_boundary() -> None:
    at_last_instant = Notice(
        kind=NoticeKind.SOFT_LIMIT_REACHED, at=datetime(2026, 10, 31, 23, 59, 59, 999999, tzinfo=UTC)
    )
    at_midnight = Notice(kind=NoticeKind.SOFT_LIMIT_REACHED, at=datetime(2026, 11, 1, tzinfo=UTC))
    assert not soft_notice_sent([at_last_instant], NOW)
    assert soft_notice_sent([at_midnight], NOW)


def test_negative_limit_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"spend_limits\.hard"):
        limit_state(SpendLimits(hard=-1), 0, NOW)
