"""The one seam between triage and the usage analytics.

Triage asks the usage log four things: the findings of the detectors, the month-to-date spend
at ``as_of`` (for the hard limit), the average daily spend of the last 30 days (for the
auto-recharge threshold) and the totals of the current and previous months. The analytics
answer in their own types; this module turns them into ``inputs.UsageView`` so the decision
tree never depends on how the analytics are built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quotadesk.billing.pricing import PriceTable
from quotadesk.triage.bundle import Bundle, StatusIncident
from quotadesk.triage.inputs import UsageFinding, UsageView


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
        incidents=[(inc.name, inc.created_at, inc.resolved_at, idx) for idx, inc in incidents],
        customer_log_text=log_text or None,
    )
    months = {mt.period.label: mt.cost_nanos for mt in report.months}
    cur = report.current.period if report.current is not None else None
    prev = cur.previous_month() if cur is not None and cur.is_month else None
    return UsageView(
        source=data.source,
        findings=tuple(_finding(f) for f in report.findings),
        month_to_date=report.month_to_date_nanos,
        avg_daily_30d=report.avg_daily_30d_nanos if report.avg_daily_30d_days else None,
        current_label=cur.label if cur is not None else None,
        current_total=months.get(cur.label, 0) if cur is not None else None,
        previous_label=prev.label if prev is not None and prev.label in months else None,
        previous_total=months.get(prev.label) if prev is not None else None,
        first_ts=data.start,
        last_ts=data.end,
        models=tuple(data.models),
    )
