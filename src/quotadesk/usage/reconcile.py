"""Reconciling the usage log against the costs a provider reported, day by day.

A provider's cost report (OpenAI Costs API, Anthropic cost report) is what it will bill;
the usage log is what the usage says it should cost. The two are compared per UTC day
over the days the report covers, per source, so "the log totals $412.10 but OpenAI
reported $431.70 for 1–14 October" comes with the days that differ.

``as_invoices`` turns each reconciliation into an invoice-like record so the
``billing_discrepancy`` detector (which compares invoices with the log) can weigh it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from quotadesk.usage.log import UsageLog


@dataclass(frozen=True, slots=True)
class DayCompare:
    """One UTC day: the provider's reported cost and the usage log's, in nano-dollars."""

    day: date
    reported_nanos: int
    usage_nanos: int

    @property
    def difference_nanos(self) -> int:
        return self.reported_nanos - self.usage_nanos


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """One source's reported costs against the log over ``[start, end)`` (the days it covers)."""

    source: str
    start: datetime
    end: datetime
    days: tuple[DayCompare, ...]

    @property
    def reported_nanos(self) -> int:
        return sum(d.reported_nanos for d in self.days)

    @property
    def usage_nanos(self) -> int:
        return sum(d.usage_nanos for d in self.days)

    @property
    def difference_nanos(self) -> int:
        return self.reported_nanos - self.usage_nanos


def reconcile(
    log: UsageLog, org: str, *, start: datetime | None = None, end: datetime | None = None
) -> list[Reconciliation]:
    """Per source of reported costs, each covered day of ``[start, end)`` against the usage log."""
    costs = log.read_arrow(org, start=start, end=end, dataset="costs")
    if costs.num_rows == 0:
        return []
    reported = _per_day(costs, "amount_nanos", extra=["source"])
    first = min(d for _, d in reported)
    last = max(d for _, d in reported)
    lo = datetime(first.year, first.month, first.day, tzinfo=UTC)
    hi = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    usage = {d: n for (_, d), n in _per_day(log.read_arrow(org, start=lo, end=hi), "cost_nanos").items()}
    out = []
    for source in sorted({s for s, _ in reported}):
        days = sorted(d for s, d in reported if s == source)
        compares = tuple(DayCompare(d, reported[(source, d)], usage.get(d, 0)) for d in days)
        day0, day1 = days[0], days[-1]
        out.append(
            Reconciliation(
                source,
                datetime(day0.year, day0.month, day0.day, tzinfo=UTC),
                datetime(day1.year, day1.month, day1.day, tzinfo=UTC) + timedelta(days=1),
                compares,
            )
        )
    return out


def _per_day(table: pa.Table, column: str, extra: list[str] | None = None) -> dict[tuple[str, date], int]:
    if table.num_rows == 0:
        return {}
    keys = list(extra or [])
    day = pc.floor_temporal(table.column("ts"), unit="day")
    frame = pa.table({**{k: table.column(k) for k in keys}, "day": day, "v": table.column(column)})
    grouped = frame.group_by([*keys, "day"], use_threads=False).aggregate([("v", "sum")]).to_pylist()
    out: dict[tuple[str, date], int] = {}
    for row in grouped:
        when = row["day"].astimezone(UTC).date()
        out[(row[keys[0]] if keys else "", when)] = int(row["v_sum"])
    return out


def as_invoices(recs: list[Reconciliation]) -> list[dict[str, Any]]:
    """Invoice-like records (``id, period_start, period_end, amount, status``) for ``analyse``."""
    return [
        {
            "id": f"{r.source} {r.start.date().isoformat()}..{(r.end - timedelta(days=1)).date().isoformat()}",
            "period_start": r.start,
            "period_end": r.end,
            "amount": r.reported_nanos,
            "status": "open",
        }
        for r in recs
    ]
