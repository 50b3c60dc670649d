"""Charts drawn on the server as SVG: spend per day stacked by model, and the monthly limit bar.

A small module of ours rather than a chart library: two chart shapes, no script, nothing
fetched, and the markup carries what a test (or a screen reader) needs: each bar its day and
cost, each finding its root cause and window, each limit zone its name. Text is escaped with
``markupsafe``; every number comes from the read models (integer nano-dollars), formatted by
``quotadesk.money``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

from quotadesk.desk.billing import LimitBar
from quotadesk.money import fmt
from quotadesk.usage.breakdown import DayModels

PALETTE = ("#1f5fa8", "#c2571a", "#2e7d32", "#7b3fa0", "#b0217a", "#00796b", "#6d4c41", "#455a64")
"""Model colours (each at least 3:1 against white, told apart by the legend's names too)."""
OTHER = "#8a8a8a"


def colour(index: int) -> str:
    return PALETTE[index] if index < len(PALETTE) else OTHER


@dataclass(frozen=True, slots=True)
class Marker:
    """A detector's finding on the chart: its root cause and the days its window covers."""

    root_cause: str
    first: date
    last: date
    label: str


def _nice_top(value: int) -> tuple[int, int]:
    """A round axis maximum at or above ``value`` nano-dollars (1, 2, 2.5 or 5 times a power of
    ten) and the number of gridline steps that keeps every label round."""
    if value <= 0:
        return 1_000_000_000, 4
    step = 10 ** (len(str(value)) - 1)
    for mult, ticks in ((1, 4), (2, 4), (2.5, 5), (5, 5)):
        if mult * step >= value:
            return int(mult * step), ticks
    return 10 * step, 5


def spend_chart(
    days: Sequence[DayModels], models: Sequence[str], markers: Sequence[Marker] = (), *, title: str
) -> Markup:
    """Spend per day stacked by model (costliest model at the bottom), findings as shaded bands."""
    width, height = 960, 320
    left, right, top, bottom = 72, 12, 40, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(1, len(days))
    slot = plot_w / n
    bar_w = max(2.0, slot * 0.72)
    peak = max((d.cost_nanos for d in days), default=0)
    axis_top, ticks = _nice_top(peak)
    shown = list(models[: len(PALETTE)])
    order = {m: i for i, m in enumerate(shown)}
    parts: list[str] = []
    desc = f"{len(days)} days; highest day {fmt(peak)}."
    if markers:
        desc += " Marked: " + "; ".join(
            f"{m.label} ({m.first:%Y-%m-%d} to {m.last:%Y-%m-%d})" for m in markers
        )
    parts.append(
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-title chart-desc"'
        ' xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart-title">{escape(title)}</title><desc id="chart-desc">{escape(desc)}</desc>'
    )
    for i in range(ticks + 1):
        value = axis_top * i // ticks
        y = top + plot_h - plot_h * i / ticks
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{escape(fmt(value, places=0))}</text>'
        )
    index = {d.day: i for i, d in enumerate(days)}
    for mk in markers:
        lo = index.get(max(mk.first, days[0].day)) if days else None
        hi = index.get(min(mk.last, days[-1].day)) if days else None
        if lo is None or hi is None:
            continue
        x = left + lo * slot
        w = (hi - lo + 1) * slot
        parts.append(
            f'<g class="finding" data-finding="{escape(mk.root_cause)}" data-first="{mk.first.isoformat()}"'
            f' data-last="{mk.last.isoformat()}"><rect x="{x:.1f}" y="{top}" width="{w:.1f}" height="{plot_h}"/>'
            f'<text x="{x + w / 2:.1f}" y="{top - 8}" text-anchor="middle">{escape(mk.label)}</text></g>'
        )
    for i, d in enumerate(days):
        x = left + i * slot + (slot - bar_w) / 2
        y = float(top + plot_h)
        total = d.cost_nanos
        tip = f"{d.day:%Y-%m-%d}: {fmt(total)}, {d.requests:,} requests"
        parts.append(
            f'<g class="day" data-day="{d.day.isoformat()}" data-cost="{total}"><title>{escape(tip)}</title>'
        )
        ranked = sorted(d.cost_by_model.items(), key=lambda kv: (order.get(kv[0], len(shown)), kv[0]))
        for model, cost in ranked:
            if cost <= 0:
                continue
            h = plot_h * cost / axis_top
            y -= h
            fill = colour(order.get(model, len(PALETTE)))
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{fill}"'
                f' data-model="{escape(model)}"/>'
            )
        parts.append("</g>")
        if n <= 16 or i % max(1, n // 8) == 0 or i == n - 1:
            parts.append(
                f'<text x="{left + i * slot + slot / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle"'
                f' class="axis">{d.day:%m-%d}</text>'
            )
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" class="baseline"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def legend(models: Sequence[str]) -> Markup:
    """The chart's legend in HTML (so its text is real text, readable and checked for contrast)."""
    items = []
    for i, model in enumerate(models):
        fill = colour(i) if i < len(PALETTE) else OTHER
        label = model if i < len(PALETTE) else f"{model} (grey: other models)"
        items.append(
            f'<li><span class="swatch" style="background:{fill}" aria-hidden="true"></span>{escape(label)}</li>'
        )
    return Markup('<ul class="legend" aria-label="Models">' + "".join(items) + "</ul>")


def limit_chart(bar: LimitBar) -> Markup:
    """Month-to-date spend on the safe, warning and offline zones of the monthly limits."""
    width, height = 960, 64
    soft, hard, mtd = bar.soft, bar.hard, bar.month_to_date
    scale_top = max(v for v in (soft or 0, hard or 0, mtd, 1) if v is not None)
    scale_top = int(scale_top * 1.15) + 1

    def x(value: int) -> float:
        return width * min(value, scale_top) / scale_top

    zones: list[tuple[str, int, int]] = []
    start = 0
    if soft is not None and (hard is None or soft < hard):
        zones.append(("safe", start, soft))
        start = soft
    if hard is not None:
        zones.append(("warning" if soft is not None and soft < hard else "safe", start, hard))
        zones.append(("offline", hard, scale_top))
    else:
        zones.append(("warning" if soft is not None else "safe", start, scale_top))
    title = f"Month to date {fmt(mtd)}: {bar.zone} zone"
    parts = [
        f'<svg class="limits" viewBox="0 0 {width} {height}" role="img" aria-labelledby="limit-title"'
        f' xmlns="http://www.w3.org/2000/svg"><title id="limit-title">{escape(title)}</title>'
    ]
    for name, lo, hi in zones:
        current = " current" if name == bar.zone else ""
        parts.append(
            f'<rect class="zone {name}{current}" data-zone="{name}" x="{x(lo):.1f}" y="8" width="{max(0.0, x(hi) - x(lo)):.1f}"'
            f' height="36"/>'
        )
    parts.append(
        f'<line class="spend" x1="{x(mtd):.1f}" x2="{x(mtd):.1f}" y1="2" y2="50"/>'
        f'<rect class="spend-fill" x="0" y="20" width="{x(mtd):.1f}" height="12"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))
