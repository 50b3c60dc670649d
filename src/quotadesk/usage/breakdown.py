"""A period's usage broken down for a dashboard: per day and model, per key, per model.

``explanation.explain`` says why a bill changed; a dashboard also shows where the money went
inside one period: spend per UTC day stacked by model (the chart), and a table per key and
per model with requests, failures, tokens and tokens per request. Both are single grouped
passes over the usage log in its engine, like every other usage query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from quotadesk.usage.periods import Period
from quotadesk.usage.records import UsageData


@dataclass(frozen=True, slots=True)
class DayModels:
    """One UTC day: spend per model (nano-dollars) and requests."""

    day: date
    cost_by_model: dict[str, int]
    requests: int

    @property
    def cost_nanos(self) -> int:
        return sum(self.cost_by_model.values())


@dataclass(frozen=True, slots=True)
class UsageLine:
    """One key or model over the period."""

    name: str
    requests: int
    failed: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_nanos: int

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cached_tokens

    @property
    def tokens_per_request(self) -> int:
        """Whole tokens per request (0 without requests), as a person reads it off a table."""
        return self.tokens // self.requests if self.requests else 0


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).date()
    return date.fromisoformat(str(value)[:10])


def daily_by_model(data: UsageData, period: Period) -> tuple[DayModels, ...]:
    """Every UTC day of ``period`` (days without usage at 0) with its spend per model."""
    import ibis

    first = period.start.astimezone(UTC).date()
    last = (period.end - timedelta(microseconds=1)).astimezone(UTC).date()
    found: dict[date, tuple[dict[str, int], int]] = {}
    if data.table is not None:
        t = data.table
        rows = data.to_pyarrow(
            t.filter((t.ts >= period.start) & (t.ts < period.end))
            .group_by(d=t.ts.truncate("D"), model=t.model)
            .aggregate(cost=ibis._.cost_nanos.sum(), requests=ibis._.requests.sum())
        ).to_pylist()
        for r in rows:
            day, model = _day(r["d"]), str(r["model"])
            costs, requests = found.get(day, ({}, 0))
            costs[model] = costs.get(model, 0) + int(r["cost"] or 0)
            found[day] = (costs, requests + int(r["requests"] or 0))
    out = []
    current = first
    while current <= last:
        costs, requests = found.get(current, ({}, 0))
        out.append(DayModels(current, dict(sorted(costs.items())), requests))
        current += timedelta(days=1)
    return tuple(out)


def usage_by(data: UsageData, period: Period, column: str) -> tuple[UsageLine, ...]:
    """Per ``key_id`` or ``model`` over ``period``, costliest first."""
    import ibis

    if column not in ("key_id", "model"):
        raise ValueError(f"column: expected key_id or model, got {column!r}")
    if data.table is None:
        return ()
    t = data.table
    rows = data.to_pyarrow(
        t.filter((t.ts >= period.start) & (t.ts < period.end))
        .group_by(name=t[column])
        .aggregate(
            requests=ibis._.requests.sum(),
            failed=ibis.ifelse(ibis._.status >= 400, ibis._.requests, 0).sum(),
            input_tokens=ibis._.input_tokens.sum(),
            output_tokens=ibis._.output_tokens.sum(),
            cached_tokens=ibis._.cached_tokens.sum(),
            cost=ibis._.cost_nanos.sum(),
        )
    ).to_pylist()
    lines = [
        UsageLine(
            str(r["name"] or ""),
            int(r["requests"] or 0),
            int(r["failed"] or 0),
            int(r["input_tokens"] or 0),
            int(r["output_tokens"] or 0),
            int(r["cached_tokens"] or 0),
            int(r["cost"] or 0),
        )
        for r in rows
    ]
    return tuple(sorted(lines, key=lambda u: (-u.cost_nanos, u.name)))
