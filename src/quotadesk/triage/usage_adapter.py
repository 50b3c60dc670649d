"""The one seam between triage and the usage analytics.

Triage asks the usage log four things: the findings of the detectors, the month-to-date spend
at ``as_of`` (for the hard limit), the average daily spend of the last 30 days (for the
auto-recharge threshold) and the totals of the current and previous months. The analytics
answer in their own types; this module turns them into ``inputs.UsageView`` so the decision
tree never depends on how the analytics are built.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from quotadesk.billing.limits import month_start
from quotadesk.billing.pricing import PriceTable
from quotadesk.triage.bundle import Bundle, StatusIncident
from quotadesk.triage.inputs import UsageFinding, UsageView


def _prev_month(start: datetime) -> datetime:
    return month_start(start - timedelta(days=1))


def _sum(data: Any, start: datetime, end: datetime) -> int:
    t = data.table
    expr = t.filter((t.ts >= start) & (t.ts < end)).cost_nanos.sum()
    value = data.con.execute(expr)
    return int(value) if value is not None and value == value else 0


def _totals(data: Any, as_of: datetime) -> dict[str, Any]:
    """Month-to-date, last 30 days, and the two months a high-bill ticket compares."""
    this_month = month_start(as_of)
    mtd = _sum(data, this_month, as_of + timedelta(microseconds=1))
    last30 = _sum(data, as_of - timedelta(days=30), as_of)
    end = data.end or as_of
    # The "current" month is the one the data's latest full activity falls in, never after as_of.
    latest = min(end, as_of)
    cur = month_start(latest)
    if cur == this_month and (as_of - this_month) < timedelta(days=7) and data.start and data.start < cur:
        cur = _prev_month(cur)  # early in a month, the ticket is about the month that just closed
    prev = _prev_month(cur)
    cur_end = month_start(cur + timedelta(days=32))
    return {
        "mtd": mtd,
        "avg30": last30 // 30,
        "cur_label": cur.strftime("%Y-%m"),
        "cur_total": _sum(data, cur, cur_end),
        "prev_label": prev.strftime("%Y-%m"),
        "prev_total": _sum(data, prev, cur) if data.start is not None and data.start < cur else None,
    }


def _finding(f: Any) -> UsageFinding:
    window = getattr(f, "window", None)
    evidence = getattr(f, "evidence", ()) or ()
    facts = tuple(getattr(e, "fact", None) or (e[0] if isinstance(e, tuple) else str(e)) for e in evidence)
    summary = getattr(f, "summary", "")
    if summary and summary not in facts:
        facts = (summary, *facts)
    return UsageFinding(
        root_cause=str(getattr(f.root_cause, "value", f.root_cause)),
        start=window[0] if window else None,
        end=window[1] if window else None,
        impact=int(f.impact_nanos),
        confidence=float(f.confidence),
        facts=facts,
        figures={str(k): str(v) for k, v in dict(getattr(f, "figures", {}) or {}).items()},
        request_ids=tuple(getattr(f, "request_ids", ()) or ()),
        key_ids=tuple(getattr(f, "key_ids", ()) or ()),
        models=tuple(getattr(f, "models", ()) or ()),
    )


def usage_view(b: Bundle, incidents: Sequence[tuple[int, StatusIncident]], log_text: str) -> UsageView:
    from quotadesk.usage.records import load_usage

    prices = PriceTable.from_mapping(dict(b.prices), b.as_of.date()) if b.prices else None
    data = load_usage(b.usage_records, b.usage_file, prices)
    if data.is_empty:
        return UsageView(source=data.source)
    from quotadesk.usage.detectors import analyse

    keys = b.account.api_keys if b.account is not None else ()
    invoices = b.account.invoices if b.account is not None else ()
    report = analyse(
        data,
        as_of=b.as_of,
        keys=keys,
        invoices=invoices,
        incidents=[(inc.name, inc.created_at, inc.resolved_at) for _, inc in incidents],
        customer_log_text=log_text or None,
    )
    totals = _totals(data, b.as_of)
    return UsageView(
        source=data.source,
        findings=tuple(_finding(f) for f in report.findings),
        month_to_date=totals["mtd"],
        avg_daily_30d=totals["avg30"],
        current_label=totals["cur_label"],
        current_total=totals["cur_total"],
        previous_label=totals["prev_label"],
        previous_total=totals["prev_total"],
        first_ts=data.start,
        last_ts=data.end,
        models=tuple(data.models),
    )
