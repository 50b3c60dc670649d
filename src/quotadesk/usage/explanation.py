"""Explaining one period's bill against another: totals, the exact decomposition, findings, days.

``explain`` is what ``quotadesk usage explain`` prints. It takes a loaded usage log
(``UsageData``, from the stored log or straight from export files) and two periods, runs
the cost-change decomposition between them (``decompose``) and the detector suite
(``detectors.analyse``) as of the end of the period, and keeps the findings whose window
touches either period. ``as_of`` is a parameter: the CLI passes the end of the period,
or now for a month still running.

Money in the JSON form is decimal strings of dollars, exact to the nano-dollar with at
least two decimals (``"1234.50"``, ``"0.000123"``), as the contract spells money.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from quotadesk.money import fmt, from_nanos
from quotadesk.usage.decompose import COMPONENTS, Decomposition, Totals, decompose
from quotadesk.usage.findings import Finding
from quotadesk.usage.periods import Period, as_period
from quotadesk.usage.records import UsageData

MAX_PARTS = 20
"""Key × model cells listed in the JSON decomposition (largest change first)."""


@dataclass(frozen=True, slots=True)
class DaySpend:
    """One UTC day of the period: spend (nano-dollars) and requests."""

    day: date
    cost_nanos: int
    requests: int


@dataclass(frozen=True, eq=False)
class Explanation:
    """A period explained against another.

    ``total_nanos``/``previous_total_nanos`` are the spend in ``period`` (up to ``as_of``)
    and in ``against``; ``decomposition`` splits the change exactly; ``findings`` are the
    detectors' (ranked) whose window overlaps either period; ``daily`` is the period's
    spend per day for the chart; ``extra`` carries what the caller adds (unknown models,
    import notes, reconciliation) straight into the JSON.
    """

    period: Period
    against: Period
    as_of: datetime
    source: str
    total_nanos: int
    previous_total_nanos: int
    decomposition: Decomposition
    findings: tuple[Finding, ...]
    daily: tuple[DaySpend, ...]
    detector_errors: tuple[str, ...] = ()

    @property
    def change_nanos(self) -> int:
        return self.total_nanos - self.previous_total_nanos


def default_against(period: Period) -> Period:
    """The month before a month; the same number of days just before any other span."""
    if period.is_month:
        return period.previous_month()
    return Period.span(period.start - (period.end - period.start), period.start)


def as_of_for(period: Period, now: datetime) -> datetime:
    """The last instant of ``period``, or ``now`` while the period is still running."""
    return min(now.astimezone(UTC), period.end - timedelta(microseconds=1))


def explain(
    data: UsageData,
    period: Period | str,
    against: Period | str | None = None,
    *,
    as_of: datetime,
    keys: Sequence[Any] = (),
    invoices: Sequence[Any] = (),
    incidents: Sequence[Any] = (),
    min_impact_nanos: int | None = None,
) -> Explanation:
    """Explain ``period`` against ``against`` (default: see ``default_against``) as of ``as_of``."""
    from quotadesk.usage import detectors
    from quotadesk.usage.profile import period_sums

    p = as_period(period)
    a = as_period(against) if against is not None else default_against(p)
    end = min(p.end, as_of + timedelta(microseconds=1))
    upto = Period(p.start, end, p.label) if end > p.start else p
    (total, _), (previous, _) = period_sums(data, [(upto.start, upto.end), (a.start, a.end)])
    decomposition = decompose(data, upto, a)
    kwargs: dict[str, Any] = {}
    if min_impact_nanos is not None:
        kwargs["min_impact_nanos"] = min_impact_nanos
    report = detectors.analyse(data, as_of=as_of, keys=keys, invoices=invoices, incidents=incidents, **kwargs)
    lo, hi = min(p.start, a.start), max(p.end, a.end)
    findings = tuple(f for f in report.findings if f.window.start < hi and f.window.end > lo)
    return Explanation(
        period=p,
        against=a,
        as_of=as_of,
        source=data.source,
        total_nanos=total,
        previous_total_nanos=previous,
        decomposition=decomposition,
        findings=findings,
        daily=daily_spend(data, upto),
        detector_errors=report.detector_errors,
    )


def daily_spend(data: UsageData, period: Period) -> tuple[DaySpend, ...]:
    """Spend and requests per UTC day of ``period`` (days without usage included, at 0)."""
    import ibis

    if data.table is None:
        return ()
    t = data.table
    rows = data.to_pyarrow(
        t.filter((t.ts >= period.start) & (t.ts < period.end))
        .group_by(d=t.ts.truncate("D"))
        .aggregate(cost=ibis._.cost_nanos.sum(), requests=ibis._.requests.sum())
    ).to_pylist()
    found = {_day(r["d"]): (int(r["cost"] or 0), int(r["requests"] or 0)) for r in rows}
    first = period.start.astimezone(UTC).date()
    last = (period.end - timedelta(microseconds=1)).astimezone(UTC).date()
    out = []
    current = first
    while current <= last:
        cost, requests = found.get(current, (0, 0))
        out.append(DaySpend(current, cost, requests))
        current += timedelta(days=1)
    return tuple(out)


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).date()
    return date.fromisoformat(str(value)[:10])


# --- JSON ------------------------------------------------------------------------------------------


def usd(nanos: int) -> str:
    """Exact dollars as a decimal string with at least two decimals: ``"12.50"``, ``"0.000123"``."""
    text = format(from_nanos(int(nanos)).normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _pct(part: int, whole: int) -> str | None:
    if whole == 0:
        return None
    return f"{100 * part / whole:.1f}"


def _totals_json(t: Totals) -> dict[str, str]:
    return {
        "before": usd(t.before_nanos),
        "after": usd(t.after_nanos),
        "change": usd(t.change_nanos),
        "volume": usd(t.volume_nanos),
        "tokens_per_request": usd(t.tokens_per_request_nanos),
        "price_mix": usd(t.price_mix_nanos),
    }


def decomposition_json(d: Decomposition) -> dict[str, Any]:
    change = d.change_nanos
    top = d.top_driver()
    return {
        "period": d.period.label,
        "against": d.against.label,
        "before": usd(d.before_nanos),
        "after": usd(d.after_nanos),
        "change": usd(change),
        "volume": usd(d.volume_nanos),
        "tokens_per_request": usd(d.tokens_per_request_nanos),
        "price_mix": usd(d.price_mix_nanos),
        "share_pct": {
            "volume": _pct(d.volume_nanos, change),
            "tokens_per_request": _pct(d.tokens_per_request_nanos, change),
            "price_mix": _pct(d.price_mix_nanos, change),
        },
        "requests_before": d.requests_before,
        "requests_after": d.requests_after,
        "tokens_before": d.tokens_before,
        "tokens_after": d.tokens_after,
        "top_driver": None
        if top is None
        else {
            "component": top[0],
            "model": top[2].model,
            "key_id": top[2].key_id,
            "amount": usd(getattr(top[2], _COMPONENT_FIELD[top[0]])),
            "share_pct": _pct(getattr(top[2], _COMPONENT_FIELD[top[0]]), change),
        },
        "by_model": [{"model": m, **_totals_json(t)} for m, t in _by_change(d.by_model)],
        "by_key": [{"key_id": k, **_totals_json(t)} for k, t in _by_change(d.by_key)],
        "parts": [
            {
                "key_id": p.key_id,
                "model": p.model,
                "before": usd(p.before_nanos),
                "after": usd(p.after_nanos),
                "change": usd(p.change_nanos),
                "volume": usd(p.volume_nanos),
                "tokens_per_request": usd(p.tokens_per_request_nanos),
                "price_mix": usd(p.price_mix_nanos),
            }
            for p in d.parts[:MAX_PARTS]
        ],
        "parts_total": len(d.parts),
    }


_COMPONENT_FIELD = {
    "volume": "volume_nanos",
    "tokens_per_request": "tokens_per_request_nanos",
    "price_mix": "price_mix_nanos",
}
assert set(_COMPONENT_FIELD) == set(COMPONENTS)


def _by_change(items: Any) -> list[tuple[str, Totals]]:
    return sorted(items.items(), key=lambda kv: (-abs(kv[1].change_nanos), kv[0]))


def finding_json(f: Finding) -> dict[str, Any]:
    return {
        "root_cause": f.root_cause.value,
        "window": {"start": _iso(f.window.start), "end": _iso(f.window.end)},
        "impact": usd(f.impact_nanos),
        "confidence": round(f.confidence, 3),
        "summary": f.summary,
        "evidence": [{"fact": e.fact, "source": e.source} for e in f.evidence],
        "figures": dict(f.figures),
        "key_ids": list(f.key_ids),
        "models": list(f.models),
        "request_ids": list(f.request_ids),
    }


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_json(e: Explanation) -> dict[str, Any]:
    return {
        "period": e.period.label,
        "against": e.against.label,
        "as_of": _iso(e.as_of),
        "source": e.source,
        "total": usd(e.total_nanos),
        "previous_total": usd(e.previous_total_nanos),
        "change": usd(e.change_nanos),
        "change_pct": _pct(e.change_nanos, e.previous_total_nanos),
        "decomposition": decomposition_json(e.decomposition),
        "findings": [finding_json(f) for f in e.findings],
        "daily": [
            {"day": d.day.isoformat(), "cost": usd(d.cost_nanos), "requests": d.requests} for d in e.daily
        ],
        "detector_errors": list(e.detector_errors),
    }


# --- terminal ---------------------------------------------------------------------------------------

_EIGHTHS = " ▏▎▍▌▋▊▉█"


def bar(value: int, top: int, width: int = 40) -> str:
    """A horizontal bar of ``value`` against ``top`` in eighths of a character."""
    if top <= 0 or value <= 0:
        return ""
    eighths = max(1, round(8 * width * value / top))
    full, rest = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[rest] if rest else "")


def render_lines(e: Explanation, *, notes: Sequence[str] = ()) -> list[str]:
    """The readable report as plain lines (rich markup-free, so it pipes and tests cleanly)."""
    d = e.decomposition
    change = e.change_nanos
    sign = "+" if change >= 0 else "-"
    pct = _pct(change, e.previous_total_nanos)
    lines = [
        f"Usage {e.period.label} against {e.against.label}  (as of {_iso(e.as_of)})",
        f"  total {fmt(e.total_nanos)}   previous {fmt(e.previous_total_nanos)}   "
        f"change {sign}{fmt(abs(change))}" + (f" ({sign}{abs(float(pct)):.1f}%)" if pct is not None else ""),
        "",
        "Why it changed (exact split, no residual)",
    ]
    for name, value in (
        ("volume (requests)", d.volume_nanos),
        ("tokens per request", d.tokens_per_request_nanos),
        ("price mix (models)", d.price_mix_nanos),
    ):
        share = d.share(value)
        lines.append(f"  {name:<20} {_signed(value):>14}" + (f"  {share}%" if share is not None else ""))
    top = d.top_driver()
    if top is not None:
        component, model, part = top
        amount = getattr(part, _COMPONENT_FIELD[component])
        share = d.share(amount)
        lines.append(
            f"  largest driver: {component.replace('_', ' ')} of {model}"
            + (f" on key {part.key_id}" if part.key_id else "")
            + f", {_signed(amount)}"
            + (f" ({share}% of the change)" if share is not None else "")
        )
    movers = _by_change(d.by_model)[:5]
    if movers:
        lines.append("  by model:")
        for model, t in movers:
            lines.append(
                f"    {model:<28} {fmt(t.before_nanos):>12} → {fmt(t.after_nanos):>12}  {_signed(t.change_nanos):>13}"
            )
    lines.append("")
    if e.findings:
        lines.append(f"Findings ({len(e.findings)})")
        for i, f in enumerate(e.findings, start=1):
            window = f"{_iso(f.window.start)} .. {_iso(f.window.end)}"
            lines.append(
                f"  {i}. {f.root_cause.value}  impact {fmt(f.impact_nanos)}  confidence {f.confidence:.2f}"
            )
            lines.append(f"     {window}")
            lines.append(f"     {f.summary}")
            for ev in f.evidence:
                lines.append(f"       - {ev.fact}  [{ev.source}]")
    else:
        lines.append("Findings: none above the minimum impact.")
    for err in e.detector_errors:
        lines.append(f"  (detector failed: {err})")
    lines.append("")
    lines.append(f"Daily spend {e.period.label}")
    top_day = max((x.cost_nanos for x in e.daily), default=0)
    for x in e.daily:
        lines.append(f"  {x.day.isoformat()} {bar(x.cost_nanos, top_day):<40} {fmt(x.cost_nanos)}")
    for note in notes:
        lines.append(f"note: {note}")
    return lines


def _signed(nanos: int) -> str:
    return ("+" if nanos >= 0 else "-") + fmt(abs(nanos))
