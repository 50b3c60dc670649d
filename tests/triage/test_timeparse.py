"""Time mentions resolved against received_at (Friday 2026-11-27 15:30 UTC), never a clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quotadesk.errors import InputError
from quotadesk.triage.timeparse import find_times

NOW = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)  # a Friday


def d(day: str, hm: str = "00:00", tz: timezone = UTC) -> datetime:
    return datetime.fromisoformat(f"{day}T{hm}").replace(tzinfo=tz)


CASES = [
    ("since this morning it fails", "since this morning", d("2026-11-27", "06:00"), NOW),
    ("it broke yesterday evening", "yesterday evening", d("2026-11-26", "18:00"), d("2026-11-26", "22:00")),
    ("last night everything died", "last night", d("2026-11-26", "20:00"), d("2026-11-27", "06:00")),
    ("it started last Friday", "last Friday", d("2026-11-20"), d("2026-11-21")),
    ("two days ago", "two days ago", d("2026-11-25"), d("2026-11-26")),
    ("about an hour ago", "an hour ago", d("2026-11-27", "14:30"), None),
    ("a couple of hours ago", "a couple of hours ago", d("2026-11-27", "13:30"), None),
    ("since Monday", "since Monday", d("2026-11-23"), NOW),
    ("this week", "this week", d("2026-11-23"), NOW),
    ("last week", "last week", d("2026-11-16"), d("2026-11-23")),
    ("last month", "last month", d("2026-10-01"), d("2026-11-01")),
    ("this month", "this month", d("2026-11-01"), NOW),
    ("earlier today", "earlier today", d("2026-11-27"), NOW),
    ("since yesterday", "since yesterday", d("2026-11-26"), NOW),
    ("for the past 3 days", "for the past 3 days", NOW - timedelta(days=3), NOW),
    ("at 2026-11-03 14:05 UTC", "2026-11-03 14:05 UTC", d("2026-11-03", "14:05"), None),
    ("2026-11-03T14:05:00Z", "2026-11-03T14:05:00Z", d("2026-11-03", "14:05"), None),
    ("on 2026-11-03", "2026-11-03", d("2026-11-03"), d("2026-11-04")),
    ("on Nov 3", "on Nov 3", d("2026-11-03"), d("2026-11-04")),
    ("November 3rd, 2026", "November 3rd, 2026", d("2026-11-03"), d("2026-11-04")),
    ("on 3 November", "3 November", d("2026-11-03"), d("2026-11-04")),
    ("Dec 20", "Dec 20", d("2025-12-20"), d("2025-12-21")),  # the latest Dec 20 before the ticket
    ("on 11/03", "11/03", d("2026-11-03"), d("2026-11-04")),
    ("am 03.11.2026", "03.11.2026", d("2026-11-03"), d("2026-11-04")),
    ("at 14:05", "at 14:05", d("2026-11-27", "14:05"), None),
    ("around 11pm", "around 11pm", d("2026-11-26", "23:00"), None),  # after the ticket: the night before
    # 15:30 UTC is 07:30 PST: 9:15 PST today is still to come, so it was yesterday
    ("at 9:15am PST", "at 9:15am PST", d("2026-11-26", "09:15", timezone(timedelta(hours=-8))), None),
    ("in October", "in October", d("2026-10-01"), d("2026-11-01")),
    ("desde el 3 de noviembre", "3 de noviembre", d("2026-11-03"), d("2026-11-04")),
    ("ayer por la tarde", "ayer", d("2026-11-26"), d("2026-11-27")),
    ("seit gestern", "seit gestern", d("2026-11-26"), NOW),
]


@pytest.mark.parametrize(("text", "words", "start", "end"), CASES)
def test_resolves(text: str, words: str, start: datetime, end: datetime | None) -> None:
    found = find_times(text, NOW)
    assert [(t.text, t.start, t.end) for t in found][:1] == [(words, start, end)]
    assert text[found[0].offset : found[0].offset + len(words)] == words


@pytest.mark.parametrize(
    "text",
    [
        "gpt-3.5 and claude 3.5 sonnet",
        "we run 24/7",
        "bill is $40.50 or 1.234,56 EUR",
        "Error code: 429",
        "HTTP 402 on every request",
        "I sat down and the sun was out",
        "hier ist mein Schlüssel",
        "",
    ],
)
def test_no_false_times(text: str) -> None:
    assert find_times(text, NOW) == ()


def test_naive_received_at_is_refused() -> None:
    with pytest.raises(InputError, match="received_at"):
        find_times("yesterday", datetime(2026, 11, 27, 15, 30))


def test_local_timezone_of_received_at() -> None:
    tz = timezone(timedelta(hours=2))
    found = find_times("since this morning", datetime(2026, 11, 27, 10, 0, tzinfo=tz))
    assert found[0].start == datetime(2026, 11, 27, 6, 0, tzinfo=tz)


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=120),
    st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 31), timezones=st.just(UTC)),
)
def test_never_raises_and_intervals_are_ordered(text: str, received: datetime) -> None:
    for t in find_times(text, received):
        assert t.start.tzinfo is not None
        if t.end is not None:
            assert t.start <= t.end
        assert t.text in text


def test_relative_phrases_are_not_in_the_future() -> None:
    text = "since this morning, yesterday evening, last night, last Friday, two days ago, this week, earlier today"
    for t in find_times(text, NOW):
        assert t.start <= NOW
        assert t.end is None or t.end <= NOW
