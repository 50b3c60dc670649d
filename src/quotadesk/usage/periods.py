"""Billing periods: calendar months in UTC, and any half-open span of time.

The books bill by calendar month starting 00:00 UTC on the 1st, so every total the usage
analytics reports is per such month unless a caller asks for another span. A period is
half-open, ``[start, end)``, so months tile time with no instant counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from quotadesk.errors import InputError


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open span ``[start, end)`` of UTC time with a label for people.

    ``label`` is ``YYYY-MM`` for a calendar month and ``YYYY-MM-DD..YYYY-MM-DD`` (inclusive
    last day) otherwise, so a reply can quote it as it is.
    """

    start: datetime
    end: datetime
    label: str

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise InputError("period bounds must carry a UTC offset", "period")
        if self.end <= self.start:
            raise InputError(f"period end {self.end.isoformat()} is not after its start", "period")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        start = datetime(year, month, 1, tzinfo=UTC)
        return cls(start, _next_month(start), f"{year:04d}-{month:02d}")

    @classmethod
    def month_of(cls, when: datetime) -> Period:
        when = when.astimezone(UTC)
        return cls.month(when.year, when.month)

    @classmethod
    def span(cls, start: datetime, end: datetime) -> Period:
        last = (end - timedelta(microseconds=1)).astimezone(UTC).date()
        return cls(start, end, f"{start.astimezone(UTC).date().isoformat()}..{last.isoformat()}")

    @classmethod
    def parse(cls, text: str) -> Period:
        """``2026-10`` (a month) or ``2026-10-01..2026-10-15`` (inclusive days)."""
        raw = text.strip()
        try:
            if ".." in raw:
                first, last = raw.split("..", 1)
                start_d, last_d = date.fromisoformat(first), date.fromisoformat(last)
                start = datetime(start_d.year, start_d.month, start_d.day, tzinfo=UTC)
                end = datetime(last_d.year, last_d.month, last_d.day, tzinfo=UTC) + timedelta(days=1)
                return cls.span(start, end)
            year, month = raw.split("-")
            return cls.month(int(year), int(month))
        except (ValueError, InputError) as exc:
            raise InputError(f"expected YYYY-MM or YYYY-MM-DD..YYYY-MM-DD, got {text!r}", "period") from exc

    @property
    def is_month(self) -> bool:
        return (
            self.start.day == 1
            and self.start.hour == self.start.minute == self.start.second == 0
            and self.end == _next_month(self.start)
        )

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400

    def previous_month(self) -> Period:
        """The calendar month before the one this period starts in."""
        first = self.start.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        prev = first - timedelta(days=1)
        return Period.month(prev.year, prev.month)

    def contains(self, when: datetime) -> bool:
        return self.start <= when < self.end

    def clip(self, end: datetime) -> Period:
        """This period cut at ``end`` (e.g. a month to date); unchanged if it ends earlier."""
        if end >= self.end or end <= self.start:
            return self
        return Period(self.start, end, self.label)


def _next_month(start: datetime) -> datetime:
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


def as_period(value: Period | str) -> Period:
    """Accept a Period or its text form (see ``Period.parse``)."""
    return value if isinstance(value, Period) else Period.parse(value)
