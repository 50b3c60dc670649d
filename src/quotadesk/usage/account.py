"""Findings read against the account's own history and books.

- **Account compromise**: usage from IPs never seen before (or, without IPs, from models
  and keys never seen before), at hours the account never works, on models it never
  used. Each novelty alone is ordinary — a new server, a new model — so it takes a new
  origin plus at least one more novelty.
- **Billing discrepancy**: the usage total of an invoice's period against the invoice.
- **Expensive model**: most of the spend is on a premium-class model, steadily, with no
  anomaly: the customer chose it.
- **Forgot to stop**: flat usage that runs through nights and weekends (or goes on after
  the time the customer says they stopped), with no anomaly in its shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from quotadesk.billing.pricing import UnknownModelError
from quotadesk.money import plain
from quotadesk.usage.context import Context, day, money, pct, when
from quotadesk.usage.findings import Evidence, Finding, RootCause, Window
from quotadesk.usage.profile import at_hour, novel_usage, period_sums

HISTORY_DAYS = 3
"""An IP, model or key first seen less than this long after the log starts is not 'new'."""
CLUSTER_GAP = timedelta(hours=48)
RARE_HOUR_SHARE = 0.02
MIN_RUN_HOURS = 36
MAX_RUN_CV = 0.6
PREMIUM_PER_MTOK = 10.0
"""Without a price table, a model whose tokens average $10 per 1M or more is premium."""


def compromise(ctx: Context) -> list[Finding]:
    p = ctx.profile
    data = p.data
    if data.start is None:
        return []
    settled = data.start + timedelta(days=HISTORY_DAYS)
    lo = max(ctx.scope.start, settled)
    new_ips = sorted(
        ((ip, seen) for ip, seen in p.ips.items() if seen.first >= lo and seen.cost_nanos > 0),
        key=lambda x: x[1].first,
    )
    new_models = {m for m, t in p.model_first.items() if t >= lo}
    new_keys = {k for k, t in p.key_first.items() if t >= lo}
    if new_ips:
        cluster = _costliest_cluster([(seen.first, seen.last, seen.cost_nanos, ip) for ip, seen in new_ips])
        start, end, ips = cluster
        usage = novel_usage(data, start, end, ips=ips)
    elif not p.ips and (new_models or new_keys):
        firsts = [p.model_first[m] for m in new_models] + [p.key_first[k] for k in new_keys]
        start = min(firsts)
        ips = []
        usage = novel_usage(data, start, ctx.as_of, models=sorted(new_models), keys=sorted(new_keys))
    else:
        return []
    if usage is None or usage.cost_nanos < ctx.min_impact_nanos:
        return []
    # How the account normally works, from the hours before the novel usage began.
    hist_hours = p.total.requests[: max(0, p.hour_index(usage.first))]
    history = [0] * 24
    for h in range(len(hist_hours)):
        history[(p.hour0 + h) % 24] += int(hist_hours[h])
    hist_total = sum(history)
    rare = {h for h in range(24) if hist_total and history[h] < RARE_HOUR_SHARE * hist_total}
    off_hours = sum(usage.by_hour_of_day[h] for h in rare) / usage.requests if usage.requests else 0.0
    used_models = {m for m, _ in usage.models}
    novel_models = sorted(
        used_models & {m for m, t in p.model_first.items() if t >= usage.first - timedelta(hours=1)}
    )
    used_keys = {k for k, _ in usage.keys}
    novel_keys = sorted(
        used_keys & {k for k, t in p.key_first.items() if t >= usage.first - timedelta(hours=1)}
    )
    score = 0.35 if ips else 0.25
    signals = []
    if ips:
        signals.append(f"{len(ips)} IP address{'es' if len(ips) > 1 else ''} never seen before")
    if novel_models:
        score += 0.25
        signals.append(
            f"model{'s' if len(novel_models) > 1 else ''} never used before ({', '.join(novel_models)})"
        )
    if off_hours >= 0.5:
        score += 0.25
        signals.append(f"{pct(off_hours, 1)} of it at hours the account never works")
    if novel_keys:
        score += 0.15
        signals.append(f"new key{'s' if len(novel_keys) > 1 else ''} {', '.join(novel_keys)}")
    if len(ips) >= 5:
        score += 0.1
    if score < 0.6:
        return []
    usual_hours = [h for h in range(24) if h not in rare]
    facts = [
        Evidence(
            f"From {when(usage.first)} to {when(usage.last)} the account made {usage.requests:,} requests from "
            + (f"{len(ips)} new IP addresses (e.g. {', '.join(ips[:3])})" if ips else "new models or keys")
            + f", costing {money(usage.cost_nanos)}.",
            ctx.source,
        ),
        Evidence(f"Never seen before {day(usage.first)}: {'; '.join(signals)}.", ctx.source),
    ]
    if usual_hours and hist_total:
        facts.append(
            Evidence(
                f"Until then it worked {_hours_text(usual_hours)} UTC"
                + (f" from {', '.join(_usual_ips(ctx, usage.first)[:3])}" if ips else "")
                + (f" on {', '.join(sorted(set(p.model_first) - set(novel_models)))}" if novel_models else "")
                + ".",
                ctx.source,
            )
        )
    return [
        Finding(
            root_cause=RootCause.ACCOUNT_COMPROMISE,
            window=Window(usage.first, usage.last + timedelta(seconds=1)),
            impact_nanos=usage.cost_nanos,
            confidence=round(min(0.95, score), 2),
            summary=(
                f"Usage unlike the account's history began {when(usage.first)}: {'; '.join(signals)}; "
                f"it cost {money(usage.cost_nanos)}."
            ),
            evidence=tuple(facts),
            figures={
                "impact": plain(usage.cost_nanos),
                "date": day(usage.first),
                "first_seen": usage.first.isoformat(),
                "last_seen": usage.last.isoformat(),
                "new_ips": str(len(ips)),
                "sample_ips": ", ".join(ips[:5]),
                "new_models": ", ".join(novel_models),
                "off_hours_share": f"{off_hours:.2f}",
                "requests": str(usage.requests),
            },
            request_ids=usage.request_ids,
            key_ids=tuple(k for k, _ in usage.keys[:5]),
            models=tuple(m for m, _ in usage.models[:5]),
        )
    ]


def _costliest_cluster(
    items: Sequence[tuple[datetime, datetime, int, str]],
) -> tuple[datetime, datetime, list[str]]:
    """Group first sightings that follow each other within ``CLUSTER_GAP``; keep the costliest group."""
    groups: list[list[tuple[datetime, datetime, int, str]]] = []
    for item in sorted(items):
        if groups and item[0] - max(x[0] for x in groups[-1]) <= CLUSTER_GAP:
            groups[-1].append(item)
        else:
            groups.append([item])
    best = max(groups, key=lambda g: sum(x[2] for x in g))
    return min(x[0] for x in best), max(x[1] for x in best), [x[3] for x in best]


def _usual_ips(ctx: Context, before: datetime) -> list[str]:
    seen = [(s.requests, ip) for ip, s in ctx.profile.ips.items() if s.first < before]
    return [ip for _, ip in sorted(seen, reverse=True)]


def _hours_text(hours: list[int]) -> str:
    runs: list[list[int]] = []
    for h in sorted(hours):
        if runs and h == runs[-1][-1] + 1:
            runs[-1].append(h)
        else:
            runs.append([h])
    return ", ".join(f"{r[0]:02d}:00–{(r[-1] + 1) % 24:02d}:00" for r in runs)


def discrepancy(ctx: Context) -> list[Finding]:
    data = ctx.profile.data
    if data.start is None or data.end is None:
        return []
    usable = [
        inv
        for inv in ctx.invoices
        if inv.status not in ("void", "draft")
        and data.start <= inv.start + timedelta(days=1)
        and data.end >= inv.end - timedelta(days=1)
        and inv.end <= ctx.as_of + timedelta(days=1)
    ]
    sums = period_sums(data, [(inv.start, inv.end) for inv in usable])
    out: list[Finding] = []
    for inv, (usage_total, requests) in zip(usable, sums, strict=True):
        diff = inv.amount_nanos - usage_total
        tolerance = max(50_000_000, inv.amount_nanos // 1000)  # $0.05 or 0.1%
        if abs(diff) <= tolerance:
            continue
        label = f"{day(inv.start)} to {day(inv.end - timedelta(seconds=1))}"
        direction = "more" if diff > 0 else "less"
        out.append(
            Finding(
                root_cause=RootCause.BILLING_DISCREPANCY,
                window=Window(inv.start, inv.end),
                impact_nanos=abs(diff),
                confidence=0.9 if abs(diff) * 100 >= inv.amount_nanos else 0.75,
                summary=(
                    f"Invoice {inv.id} ({label}) is {money(inv.amount_nanos)} but the usage log totals "
                    f"{money(usage_total)}: {money(abs(diff))} {direction} than the usage."
                ),
                evidence=(
                    Evidence(
                        f"Invoice {inv.id} for {label} is {money(inv.amount_nanos)}.",
                        f"/account/invoices/{inv.index}",
                    ),
                    Evidence(
                        f"The usage log for the same period totals {money(usage_total)} over {requests:,} requests.",
                        ctx.source,
                    ),
                    Evidence(
                        f"The difference is {money(abs(diff))} ({direction} on the invoice).", ctx.source
                    ),
                ),
                figures={
                    "impact": plain(abs(diff)),
                    "date": day(inv.start),
                    "invoice_id": inv.id,
                    "invoice_total": plain(inv.amount_nanos),
                    "usage_total": plain(usage_total),
                    "difference": plain(diff),
                    "period_start": inv.start.isoformat(),
                    "period_end": inv.end.isoformat(),
                },
            )
        )
    return out


def _premium(ctx: Context, model: str, unit_nanos_per_token: float) -> bool:
    prices = ctx.profile.data.prices
    try:
        return prices.price_class(model) == "premium"
    except UnknownModelError:  # the cost was given; judge by what it cost
        return unit_nanos_per_token * 1e6 / 1e9 >= PREMIUM_PER_MTOK


def expensive_model(ctx: Context) -> list[Finding]:
    p = ctx.profile
    c0, c1 = ctx.days(ctx.current)
    if c1 <= c0:
        return []
    costs = {m: int(d.cost[c0:c1].sum()) for m, d in p.models.items()}
    total = sum(costs.values())
    premium = []
    for m, d in p.models.items():
        tok = int(d.tokens.sum())
        if costs[m] > 0 and _premium(ctx, m, int(d.cost.sum()) / tok if tok else 0.0):
            premium.append(m)
    spent = sum(costs[m] for m in premium)
    if not total or spent < 0.5 * total or spent < ctx.min_impact_nanos:
        return []
    top = max(premium, key=lambda m: costs[m])
    since = p.model_first.get(top, ctx.current.start)
    share = pct(spent, total)
    return [
        Finding(
            root_cause=RootCause.EXPENSIVE_MODEL,
            window=Window(ctx.current.start, min(ctx.as_of, ctx.current.end)),
            impact_nanos=spent,
            confidence=0.7 if spent >= 0.8 * total else 0.55,
            summary=(
                f"{share} of the spend in {ctx.current.label} ({money(spent)}) is on the premium model {top}, in "
                f"use since {day(since)}; usage itself looks normal."
            ),
            evidence=(
                Evidence(
                    f"In {ctx.current.label}, {', '.join(premium)} cost {money(spent)} of {money(total)} ({share}).",
                    ctx.source,
                ),
                Evidence(f"{top} is a premium-class model, first used {day(since)}.", "/prices"),
            ),
            figures={
                "impact": plain(spent),
                "date": day(since),
                "model": top,
                "premium_share": f"{spent / total:.2f}",
                "period_total": plain(total),
            },
            models=tuple(premium),
        )
    ]


def forgot_to_stop(ctx: Context) -> list[Finding]:
    """A key left running: continuous, flat traffic through hours the account does not work.

    Shape alone: a run of at least ``MIN_RUN_HOURS`` consecutive active hours with a flat
    rate (a script, not people), starting after the log has some history, through hours
    that before it held almost no traffic (nights, weekends). With ``stopped_at``: any
    material usage after the time the customer says they stopped.
    """
    import numpy as np

    p = ctx.profile
    data = p.data
    out: list[Finding] = []
    end_h = min(p.n_hours, p.hour_index(ctx.as_of) + 1)
    scope_h = max(0, p.hour_index(ctx.scope.start))
    settled_h = p.hour_index(data.start + timedelta(days=HISTORY_DAYS)) if data.start else 0
    for key, series in p.by_key.items():
        req = series.requests[:end_h]
        after_stop = 0
        if ctx.stopped_at is not None:
            after_stop = int(series.cost[max(0, p.hour_index(ctx.stopped_at) + 1) : end_h].sum())
        best: tuple[int, int, int, float] | None = None  # (usual-idle cost, start, end, night share before)
        for a, b in _runs(req > 0, scope_h):
            if b - a < MIN_RUN_HOURS or a < settled_h:
                continue
            rate = req[a:b].astype(np.float64)
            if rate.mean() <= 0 or rate.std() / rate.mean() > MAX_RUN_CV:
                continue
            before = p.total.requests[:a]
            hod = np.arange(len(before)) % 24
            profile = np.bincount(hod, weights=before, minlength=24)
            hist = float(profile.sum())
            idle = profile < RARE_HOUR_SHARE * hist if hist else np.ones(24, dtype=bool)
            run_hod = (np.arange(a, b) + p.hour0) % 24
            idle_cost = int(series.cost[a:b][idle[run_hod]].sum())
            if not idle[run_hod].any() or idle_cost < ctx.min_impact_nanos:
                continue
            if best is None or idle_cost > best[0]:
                best = (idle_cost, a, b, float(profile[idle].sum()) / hist if hist else 0.0)
        if best is None and after_stop < ctx.min_impact_nanos:
            continue
        info = ctx.key(key)
        facts: list[Evidence] = []
        if ctx.stopped_at is not None and after_stop >= ctx.min_impact_nanos:
            facts.append(
                Evidence(
                    f"Key {key} kept being used after {when(ctx.stopped_at)}, when the customer says they stopped: "
                    f"{money(after_stop)} since then.",
                    ctx.source,
                )
            )
        if best is not None:
            idle_cost, a, b, _ = best
            rate = req[a:b].astype(np.float64)
            start, stop = at_hour(p.hour0 + a), at_hour(p.hour0 + b)
            facts.append(
                Evidence(
                    f"From {when(start)} to {when(stop)} key {key} ran without a break for {b - a} hours at a steady "
                    f"{rate.mean():,.0f} requests an hour (varying by {rate.std() / rate.mean():.0%}), "
                    f"costing {money(int(series.cost[a:b].sum()))}.",
                    ctx.source,
                )
            )
            facts.append(
                Evidence(
                    f"{money(idle_cost)} of it ran at hours when the account otherwise does not work.",
                    ctx.source,
                )
            )
            window = Window(start, stop)
            impact = max(idle_cost, after_stop)
        else:
            first_after = p.hour_index(ctx.stopped_at) + 1 if ctx.stopped_at else 0
            window = Window(at_hour(p.hour0 + max(0, first_after)), ctx.as_of)
            impact = after_stop
        confidence = 0.55 if best is not None else 0.0
        if after_stop >= ctx.min_impact_nanos:
            confidence = max(confidence, 0.8)
        if info is not None and info.environment in ("development", "ci"):
            confidence += 0.1
        out.append(
            Finding(
                root_cause=RootCause.FORGOT_TO_STOP,
                window=window,
                impact_nanos=impact,
                confidence=round(min(0.95, confidence), 2),
                summary=(
                    f"Key {key} was left running from {when(window.start)}: steady traffic through hours nobody "
                    f"works, {money(impact)} of it."
                ),
                evidence=tuple(facts),
                figures={
                    "impact": plain(impact),
                    "date": day(window.start),
                    "key_id": key,
                    "window_start": window.start.isoformat(),
                    "window_end": window.end.isoformat(),
                    "after_stop_cost": plain(after_stop),
                },
                key_ids=(key,),
            )
        )
    return out


def _runs(active: Any, lo: int) -> list[tuple[int, int]]:
    """Runs ``[a, b)`` of active hours from ``lo`` on, bridging single idle hours."""
    import numpy as np

    hours = np.flatnonzero(active[lo:]) + lo
    runs: list[tuple[int, int]] = []
    for h in hours.tolist():
        if runs and h - runs[-1][1] <= 1:
            runs[-1] = (runs[-1][0], h + 1)
        else:
            runs.append((h, h + 1))
    return runs
