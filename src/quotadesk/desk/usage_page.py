"""The account's usage dashboard as a value: a date range, its spend, and why it changed.

``usage_dashboard`` reads the org's usage from both places it lives (the books' metered
events and the usage log, ``intake.usage_records``), loads it into the analytics engine and
asks the usage library, never re-deriving anything: ``explanation.explain`` for the totals,
the exact decomposition against the comparison period and the detectors' findings;
``breakdown`` for spend per day by model and the per-key and per-model tables. The billed
side is the books': each invoice of an invoiced account, or for a prepaid account what the
ledger charged to credits in each month, set against what the usage log totals for it.

The range is whole UTC days, ``first``..``last`` inclusive. The comparison defaults to as many
days just before it; the detectors see four more weeks of history before either, so a
"usual" rate has something to be usual against.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from quotadesk.billing.limits import month_start, next_month_start
from quotadesk.desk.intake import usage_records
from quotadesk.errors import InputError
from quotadesk.store import ledger
from quotadesk.store.db import transaction
from quotadesk.store.snapshot import load_organization
from quotadesk.usage.breakdown import DayModels, UsageLine, daily_by_model, usage_by
from quotadesk.usage.explanation import as_of_for, decomposition_json, explain
from quotadesk.usage.findings import Finding
from quotadesk.usage.periods import Period
from quotadesk.usage.profile import period_sums
from quotadesk.usage.records import load_usage

MAX_DAYS = 366
DEFAULT_DAYS = 30
HISTORY = timedelta(days=28)


@dataclass(frozen=True, slots=True)
class Billed:
    """What the books billed for a span against what the usage log totals for it."""

    label: str
    source: str  # "invoice INV-…" or "credits charged (ledger)"
    billed_nanos: int
    usage_nanos: int

    @property
    def difference_nanos(self) -> int:
        return self.billed_nanos - self.usage_nanos


@dataclass(frozen=True, slots=True)
class UsageDashboard:
    org_id: str
    first: date
    last: date
    against_first: date
    against_last: date
    as_of: datetime
    rows: int
    total_nanos: int
    previous_total_nanos: int
    requests: int
    daily: tuple[DayModels, ...]
    models: tuple[str, ...]  # costliest first: the chart's stacking order and legend
    findings: tuple[Finding, ...]
    by_key: tuple[UsageLine, ...]
    by_model: tuple[UsageLine, ...]
    decomposition: dict[str, Any]
    billed: tuple[Billed, ...]

    @property
    def change_nanos(self) -> int:
        return self.total_nanos - self.previous_total_nanos


def _day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def parse_day(text: str | None, field: str) -> date | None:
    """``YYYY-MM-DD`` (empty: None), or an ``InputError`` naming ``field``."""
    if text is None or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InputError(f"expected a day as YYYY-MM-DD, got {text[:40]!r}", field) from exc


def choose_range(
    now: datetime,
    first: date | None = None,
    last: date | None = None,
    against_first: date | None = None,
    against_last: date | None = None,
) -> tuple[Period, Period]:
    """The period shown (default: the last 30 days to today) and the one it is compared with
    (default: as many days just before it); a range that is backwards or too long is refused."""
    today = now.astimezone(UTC).date()
    last = last or (today if first is None else min(today, first + timedelta(days=DEFAULT_DAYS - 1)))
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise InputError("the last day is before the first", "to")
    if (last - first).days + 1 > MAX_DAYS:
        raise InputError(f"at most {MAX_DAYS} days", "to")
    period = Period.span(_day_start(first), _day_start(last) + timedelta(days=1))
    if against_first is None and against_last is None:
        length = last - first + timedelta(days=1)
        against = Period.span(period.start - length, period.start)
    else:
        a_last = against_last or (against_first + (last - first) if against_first else first)
        a_first = against_first or a_last - (last - first)
        if a_last < a_first:
            raise InputError("the last day is before the first", "against_to")
        if (a_last - a_first).days + 1 > MAX_DAYS:
            raise InputError(f"at most {MAX_DAYS} days", "against_to")
        against = Period.span(_day_start(a_first), _day_start(a_last) + timedelta(days=1))
    return period, against


def usage_dashboard(
    books: Any,
    org_id: str,
    now: datetime,
    period: Period,
    against: Period,
    *,
    usage_dir: str | None = None,
) -> UsageDashboard:
    """The dashboard of ``org_id`` for ``period`` against ``against``, as of ``now``."""
    with transaction(books.engine) as conn:
        org = load_organization(conn, org_id)
    as_of = as_of_for(period, now)
    since = min(min(period.start, against.start) - HISTORY, month_start(period.start))
    until = max(as_of, min(against.end, now) - timedelta(microseconds=1))
    records = usage_records(books, org_id, since, until, usage_dir)
    data = load_usage(records, None, books.prices)
    explained = explain(data, period, against, as_of=as_of, keys=org.api_keys, invoices=org.invoices)
    shown = Period(period.start, min(period.end, as_of + timedelta(microseconds=1)), period.label)
    daily = daily_by_model(data, period)
    totals: dict[str, int] = {}
    for d in daily:
        for model, cost in d.cost_by_model.items():
            totals[model] = totals.get(model, 0) + cost
    return UsageDashboard(
        org_id=org_id,
        first=period.start.date(),
        last=(period.end - timedelta(days=1)).date(),
        against_first=against.start.date(),
        against_last=(against.end - timedelta(days=1)).date(),
        as_of=as_of,
        rows=data.rows,
        total_nanos=explained.total_nanos,
        previous_total_nanos=explained.previous_total_nanos,
        requests=sum(d.requests for d in daily),
        daily=daily,
        models=tuple(sorted(totals, key=lambda mdl: (-totals[mdl], mdl))),
        findings=explained.findings,
        by_key=usage_by(data, shown, "key_id"),
        by_model=usage_by(data, shown, "model"),
        decomposition=decomposition_json(explained.decomposition),
        billed=_billed(books, org, data, period, as_of),
    )


def _billed(books: Any, org: Any, data: Any, period: Period, as_of: datetime) -> tuple[Billed, ...]:
    spans: list[tuple[str, str, datetime, datetime, int]] = []
    if org.invoices:
        for inv in sorted(org.invoices, key=lambda i: i.period_start):
            if inv.period_start < period.end and inv.period_end > period.start and inv.status.value != "void":
                spans.append(
                    (
                        f"{inv.period_start:%B %Y}",
                        f"invoice {inv.id}",
                        inv.period_start,
                        inv.period_end,
                        inv.amount,
                    )
                )
    else:
        month = month_start(period.start)
        with transaction(books.engine) as conn:
            while month < period.end and month <= as_of:
                end = min(next_month_start(month), as_of + timedelta(microseconds=1))
                charged = ledger.balance(conn, ledger.spend_account(org.id, month))
                label = f"{month:%B %Y}" + (" to date" if end < next_month_start(month) else "")
                spans.append((label, "credits charged (ledger)", month, end, charged))
                month = next_month_start(month)
    sums = period_sums(data, [(s[2], s[3]) for s in spans])
    return tuple(
        Billed(label, src, billed, usage)
        for (label, src, _, _, billed), (usage, _) in zip(spans, sums, strict=True)
    )
