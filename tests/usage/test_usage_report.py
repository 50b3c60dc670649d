"""The report's periods and totals: months in UTC, month to date, the 30-day average."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from quotadesk.errors import InputError
from quotadesk.usage.detectors import analyse, choose_periods
from quotadesk.usage.periods import Period
from quotadesk.usage.records import load_usage


def daily_rows(first: datetime, days: int, dollars: int = 2) -> list[dict[str, object]]:
    return [
        {"ts": (first + timedelta(days=d, hours=12)).isoformat(), "model": "gpt-4o", "cost": f"{dollars}.00"}
        for d in range(days)
    ]


@pytest.mark.parametrize(
    ("as_of", "current", "previous"),
    [
        ("2026-11-03T10:00:00+00:00", "2026-10", "2026-09"),  # early in the month: last month's bill
        ("2026-11-12T09:00:00+00:00", "2026-11", "2026-10"),  # a week in: this month to date
        ("2026-12-01T00:00:00+00:00", "2026-11", "2026-10"),
        ("2027-03-20T00:00:00+00:00", "2026-11", "2026-10"),  # an old export: its own last month
    ],
)
def test_choose_periods(as_of: str, current: str, previous: str) -> None:
    data = load_usage(daily_rows(datetime(2026, 9, 1, tzinfo=UTC), 80), None)
    cur, prev = choose_periods(datetime.fromisoformat(as_of), data)
    assert (cur.label, prev.label) == (current, previous)


def test_totals_month_to_date_and_average() -> None:
    data = load_usage(daily_rows(datetime(2026, 9, 1, tzinfo=UTC), 72), None)  # to 2026-11-11
    report = analyse(data, as_of=datetime(2026, 11, 12, 9, tzinfo=UTC))
    assert [(m.period.label, m.cost_nanos) for m in report.months] == [
        ("2026-09", 60_000_000_000),
        ("2026-10", 62_000_000_000),
        ("2026-11", 22_000_000_000),
    ]
    assert report.month_to_date_nanos == 22_000_000_000
    assert report.avg_daily_30d_nanos == 2_000_000_000 and report.avg_daily_30d_days == 30
    assert report.recharge_threshold_nanos == 4_000_000_000
    assert report.current is not None and report.current.period.label == "2026-11"
    assert report.current.cost_nanos == 22_000_000_000 and not report.current.complete
    assert report.previous is not None and report.previous.cost_nanos == 62_000_000_000
    assert report.against is not None and report.against.end < datetime(2026, 10, 13, tzinfo=UTC)
    assert report.decomposition is not None and report.decomposition.before_nanos == 22_000_000_000
    assert (
        report.daily[0].day.isoformat() == "2026-10-01" and report.daily[-1].day.isoformat() == "2026-11-12"
    )
    assert report.max_daily_nanos == 2_000_000_000
    assert report.first_seen_models == {"gpt-4o": datetime(2026, 9, 1, 12, tzinfo=UTC)}
    assert report.findings == ()


def test_nothing_after_as_of_is_read() -> None:
    data = load_usage(daily_rows(datetime(2026, 10, 1, tzinfo=UTC), 40, dollars=3), None)
    report = analyse(data, as_of=datetime(2026, 10, 20, 23, tzinfo=UTC))
    assert report.month_to_date_nanos == 20 * 3_000_000_000
    assert report.avg_daily_30d_days == 20


def test_as_of_must_be_aware() -> None:
    data = load_usage(daily_rows(datetime(2026, 10, 1, tzinfo=UTC), 3), None)
    with pytest.raises(InputError, match="as_of"):
        analyse(data, as_of=datetime(2026, 10, 5))


def test_periods_parse_and_step_back() -> None:
    assert Period.parse("2026-01").previous_month().label == "2025-12"
    span = Period.parse("2026-10-01..2026-10-15")
    assert span.days == 15 and not span.is_month and Period.parse("2026-10").is_month
    with pytest.raises(InputError, match="period"):
        Period.parse("October")


def test_months_cover_a_log_older_than_the_lookback() -> None:
    rows = daily_rows(datetime(2025, 5, 1, tzinfo=UTC), 3) + daily_rows(datetime(2026, 10, 1, tzinfo=UTC), 10)
    report = analyse(load_usage(rows, None), as_of=datetime(2026, 10, 20, tzinfo=UTC))
    assert [m.period.label for m in report.months] == ["2025-05", "2026-10"]
    assert report.total_nanos == 13 * 2_000_000_000
