"""Monthly spend limits on calendar months in UTC, and the one clock rule every module shares.

The billing month is the calendar month in UTC: it starts 00:00:00 UTC on the 1st. So
23:59:59.999999 on the last day still belongs to the old month and 00:00 on the 1st to the
new one, whatever the customer's own timezone (the runbook tells customers exactly this).

Soft limit: a ``soft_limit_reached`` notice once per month when month-to-date spend reaches
it; the API keeps working. Hard limit: once month-to-date spend reaches it, requests are
refused until the limit is raised or the next month starts. "Reached" means spend so far is
at or above the limit; a request that would carry spend past the limit is still admitted
(the next one is refused), as the providers do it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from quotadesk.billing.model import Notice, NoticeKind, SpendLimits


def require_aware(value: datetime, field: str = "now") -> datetime:
    """``value`` in UTC; a naive datetime is refused.

    A naive ``now`` would silently be read as local time and move month boundaries and
    expiries by hours, which is exactly the kind of error a billing desk must not make.
    """
    if not isinstance(value, datetime):
        raise ValueError(f"{field}: expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field}: naive datetime {value.isoformat()}; give a timezone (UTC)")
    return value.astimezone(UTC)


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
"""The books' clock runs from ``EARLIEST`` up to (not including) ``LATEST``. The edges of the
calendar are refused where a time comes in (``store.values.aware``, the CLI's ``--now``): a
month, a term or a trial added to 9999-12-31 does not exist, and year 1 shifted by a timezone
leaves the calendar, so the range keeps a margin of centuries for every such step."""


def in_clock_range(value: datetime, field: str = "now") -> datetime:
    """``value`` in UTC if the books' clock covers it (see ``LATEST``); else ``ValueError``."""
    value = require_aware(value, field)
    if not EARLIEST <= value < LATEST:
        raise ValueError(
            f"{field}: {value.isoformat()} is outside the supported range "
            f"{EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d} (UTC)"
        )
    return value


def month_start(now: datetime) -> datetime:
    """00:00:00 UTC on the 1st of ``now``'s month (UTC)."""
    now = require_aware(now)
    return datetime(now.year, now.month, 1, tzinfo=UTC)


def next_month_start(now: datetime) -> datetime:
    """00:00:00 UTC on the 1st of the month after ``now``'s: when a hard limit lifts by itself."""
    now = require_aware(now)
    if now.month == 12:
        if now.year == 9999:
            raise ValueError(f"now: {now.isoformat()} has no next month; see LATEST")
        return datetime(now.year + 1, 1, 1, tzinfo=UTC)
    return datetime(now.year, now.month + 1, 1, tzinfo=UTC)


def same_month(a: datetime, b: datetime) -> bool:
    return month_start(a) == month_start(b)


def month_to_date(spend: int | Iterable[tuple[datetime, int]], now: datetime) -> int:
    """Spend in ``now``'s month up to ``now``, in nano-dollars.

    ``spend`` is either the figure already known or ``(ts, nanos)`` pairs, of which those
    from the 1st 00:00 UTC up to and including ``now`` count.
    """
    start = month_start(now)
    now = require_aware(now)
    if isinstance(spend, bool):
        raise ValueError("month_to_date: expected nano-dollars (int) or (ts, nanos) pairs, got bool")
    if isinstance(spend, int):
        if spend < 0:
            raise ValueError(f"month_to_date: must not be negative (got {spend})")
        return spend
    total = 0
    for i, (ts, amount) in enumerate(spend):
        ts = require_aware(ts, f"spend[{i}].ts")
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise ValueError(f"spend[{i}].nanos: expected an int, got {type(amount).__name__}")
        if start <= ts <= now:
            total += amount
    return total


@dataclass(frozen=True, slots=True)
class LimitState:
    """Where month-to-date spend stands against the monthly limits at ``now``.

    Fields: ``period_start``/``resets_at`` (this month's start and the next month's),
    ``month_to_date``, ``soft``/``hard`` (nano-dollars or None), ``soft_reached``,
    ``hard_reached`` and ``soft_notice``: the notice to send now, or None when the soft
    limit is not reached or this month's notice already went out (one per month, so a
    customer near the line is not mailed on every request).
    """

    period_start: datetime
    resets_at: datetime
    month_to_date: int
    soft: int | None
    hard: int | None
    soft_reached: bool
    hard_reached: bool
    soft_notice: Notice | None


def soft_notice_sent(notices: Iterable[Notice], now: datetime) -> bool:
    """Was a ``soft_limit_reached`` notice already sent in ``now``'s month (up to ``now``)?"""
    start = month_start(now)
    now = require_aware(now)
    return any(
        n.kind == NoticeKind.SOFT_LIMIT_REACHED and start <= require_aware(n.at, "notices[].at") <= now
        for n in notices
    )


def limit_state(
    limits: SpendLimits,
    spend: int | Iterable[tuple[datetime, int]],
    now: datetime,
    notices: Iterable[Notice] = (),
) -> LimitState:
    """Evaluate the monthly limits for ``spend`` (a figure or (ts, nanos) pairs) at ``now``."""
    now = require_aware(now)
    mtd = month_to_date(spend, now)
    for name, value in (("spend_limits.soft", limits.soft), ("spend_limits.hard", limits.hard)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"{name}: expected non-negative nano-dollars, got {value!r}")
    soft_reached = limits.soft is not None and mtd >= limits.soft
    hard_reached = limits.hard is not None and mtd >= limits.hard
    notice = None
    if soft_reached and not soft_notice_sent(notices, now):
        notice = Notice(kind=NoticeKind.SOFT_LIMIT_REACHED, at=now)
    return LimitState(
        period_start=month_start(now),
        resets_at=next_month_start(now),
        month_to_date=mtd,
        soft=limits.soft,
        hard=limits.hard,
        soft_reached=soft_reached,
        hard_reached=hard_reached,
        soft_notice=notice,
    )
