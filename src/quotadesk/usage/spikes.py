"""Short bursts of traffic and what drove them: a runaway loop, a retry storm, an outage, a bug.

A burst is a run of hours whose request count is at least ``BURST_FACTOR`` times what is
usual for that hour. "Usual" is the largest of three robust baselines, so neither a
quiet night nor a weekly batch job reads as an anomaly:

- the median of the series' active hours (the typical busy hour);
- the median of the same hour of day over the previous 14 days;
- the median of the same hour of week over the previous 8 weeks.

Bursts are found per key and for the whole account (a new key has no history of its
own), merged, and kept when they last at most a week. Each is then drilled into:
mostly failing requests, or identical bodies repeated within the same minute, make it a
**retry storm**; otherwise massive volume spread over time is a **runaway loop**. A
burst overlapping a status-page incident is also a **provider-outage retries** finding,
and one the customer's own log explains is a **code bug** (offered for every burst with a
lower confidence, since a refund request names the customer's bug, not the shape).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from quotadesk.money import plain
from quotadesk.usage.context import Context, day, money, pct, ratio_text, when
from quotadesk.usage.findings import Evidence, Finding, RootCause, Window
from quotadesk.usage.profile import Hourly, WindowStats, at_day, at_hour, window_stats

BURST_FACTOR = 5.0
BURST_MIN_EXTRA = 20
"""A burst hour also needs this many requests above the usual, so 1 → 5 requests is not one."""
MAX_BURST_HOURS = 7 * 24
MERGE_GAP_HOURS = 2
FAILING_SHARE = 0.5
REPEAT_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Baseline:
    """Usual requests and cost per hour for one series (arrays aligned with the profile)."""

    requests: Any
    cost: Any
    typical: float


def baseline(series: Hourly) -> Baseline:
    import numpy as np

    req = series.requests.astype(np.float64)
    cost = series.cost.astype(np.float64)
    active = req > 0
    typical = float(np.median(req[active])) if active.any() else 0.0
    typical_cost = float(np.median(cost[active])) if active.any() else 0.0
    hod_r, hod_c = _prior_median(req, 24, 14), _prior_median(cost, 24, 14)
    how_r, how_c = _prior_median(req, 168, 8), _prior_median(cost, 168, 8)
    usual_r = np.maximum(np.maximum(np.nan_to_num(hod_r), np.nan_to_num(how_r)), typical)
    seen = ~np.isnan(hod_r)
    usual_c = np.where(seen, np.maximum(np.nan_to_num(hod_c), np.nan_to_num(how_c)), typical_cost)
    # Whole nano-dollars, so excess cost is integer arithmetic on integer costs.
    return Baseline(usual_r, np.floor(usual_c).astype(np.int64), typical)


def _prior_median(x: Any, step: int, count: int) -> Any:
    """Median of x[h - step·k] for k = 1..count (NaN where there is no prior value)."""
    import numpy as np

    n = len(x)
    stack = np.full((count, n), np.nan)
    for k in range(1, count + 1):
        shift = step * k
        if shift >= n:
            break
        stack[k - 1, shift:] = x[: n - shift]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(stack, axis=0)


def burst_hours(series: Hourly, base: Baseline, gap: int = MERGE_GAP_HOURS) -> list[tuple[int, int]]:
    """Runs ``[start, end)`` of hot hours, merged across gaps of up to ``gap`` hours."""
    import numpy as np

    req = series.requests.astype(np.float64)
    threshold = np.maximum(BURST_FACTOR * base.requests, base.requests + BURST_MIN_EXTRA)
    hot = np.flatnonzero(req >= threshold)
    runs: list[tuple[int, int]] = []
    for h in hot.tolist():
        if runs and h - runs[-1][1] <= gap:
            runs[-1] = (runs[-1][0], h + 1)
        else:
            runs.append((h, h + 1))
    return runs


def _merge(runs: list[tuple[int, int]], gap: int = MERGE_GAP_HOURS) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(runs):
        if out and a <= out[-1][1] + gap:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


@dataclass(frozen=True, slots=True)
class Burst:
    """One burst: hours ``[start, end)`` (profile-relative), what it cost and who sent it."""

    start: int
    end: int
    requests: int
    failed: int
    cost: int
    excess_cost: int
    usual_per_hour: float
    peak_per_hour: int
    keys: tuple[tuple[str, int, int], ...]  # (key, requests, cost), most requests first
    stats: WindowStats

    @property
    def failing_share(self) -> float:
        return self.failed / self.requests if self.requests else 0.0


def find_bursts(ctx: Context) -> list[Burst]:
    """Bursts within the analysis scope, largest excess cost first."""
    import numpy as np

    p = ctx.profile
    scope_h = max(0, p.hour_index(ctx.scope.start))
    bases = {key: baseline(series) for key, series in p.by_key.items()}
    total_base = baseline(p.total)
    # Daily exports put a whole day in one midnight row: bursts on adjacent days are one.
    gap = MERGE_GAP_HOURS if p.bucket_hours == 1 else p.bucket_hours + MERGE_GAP_HOURS
    runs = burst_hours(p.total, total_base, gap)
    for key, series in p.by_key.items():
        runs += burst_hours(series, bases[key], gap)
    bursts: list[Burst] = []
    for a, b in _merge(runs, gap):
        b = max(b, a + p.bucket_hours)
        if b - a > MAX_BURST_HOURS or b <= scope_h:
            continue
        sl = slice(a, b)
        # Excess is counted per key so one key's burst is not hidden by another key's quiet hours.
        excess = 0
        usual = 0.0
        key_rows = []
        for key, series in p.by_key.items():
            kr = int(series.requests[sl].sum())
            if kr == 0:
                continue
            kc = int(series.cost[sl].sum())
            key_rows.append((key, kr, kc))
            excess += int(np.clip(series.cost[sl] - bases[key].cost[sl], 0, None).sum())
            # A key first seen in this burst has no usual rate: its "typical busy hour" would be
            # the burst itself and make a loop look like 1.6x its own level.
            if series.requests[:a].any():
                usual += float(bases[key].requests[sl].mean())
        key_rows.sort(key=lambda r: (-r[1], r[0]))
        cost = int(p.total.cost[sl].sum())
        start_dt, end_dt = at_hour(p.hour0 + a), at_hour(p.hour0 + b)
        top = [k for k, _, _ in key_rows[:3]]
        stats = window_stats(p.data, start_dt, end_dt, top if len(key_rows) > 1 else ())
        bursts.append(
            Burst(
                start=a,
                end=b,
                requests=int(p.total.requests[sl].sum()),
                failed=int(p.total.failed[sl].sum()),
                cost=cost,
                excess_cost=min(excess, cost),
                usual_per_hour=usual or total_base.typical,
                peak_per_hour=int(p.total.requests[sl].max()),
                keys=tuple(key_rows),
                stats=stats,
            )
        )
    bursts = _drop_schedules(bursts)
    bursts.sort(key=lambda x: -x.excess_cost)
    return bursts


def _drop_schedules(bursts: list[Burst]) -> list[Burst]:
    """Bursts that recur are a schedule or a new routine, not a loop; retries never are.

    Two shapes, per key (the key sending most of each burst):

    - the same start hour on 3+ days, each burst at most 6 hours: a cron or CI job. The
      same-hour baseline only learns a new daily job after a week, so its first runs would
      otherwise each look like a burst;
    - bursts on 3+ days in a row (gaps of at most 3 days, for weekends), each within a day:
      a key put to work in office hours. Its hot hours are whichever crossed the threshold,
      so their start hours scatter; the change of level is for the shift detectors (dev key
      in production, traffic growth). Loops days or weeks apart stay loops.

    A storm that comes back every morning is still a storm: retries are never a routine.
    """
    candidates = [b for b in bursts if b.keys and not is_retry(b)]
    scheduled: set[int] = set()
    by_hour: dict[tuple[str, int], list[Burst]] = {}
    by_key: dict[str, list[Burst]] = {}
    for b in candidates:
        if b.end - b.start <= 6:
            by_hour.setdefault((b.keys[0][0], b.start % 24), []).append(b)
        if b.end - b.start <= 16:
            by_key.setdefault(b.keys[0][0], []).append(b)
    for group in by_hour.values():
        if len({g.start // 24 for g in group}) >= 3:
            scheduled |= {id(g) for g in group}
    for group in by_key.values():
        for run in _runs_of_days(group, max_gap=3):
            if len({g.start // 24 for g in run}) >= 3:
                scheduled |= {id(g) for g in run}
    return [b for b in bursts if id(b) not in scheduled]


def _runs_of_days(group: list[Burst], max_gap: int) -> list[list[Burst]]:
    """The bursts split where more than ``max_gap`` days pass between one and the next."""
    runs: list[list[Burst]] = []
    for b in sorted(group, key=lambda x: x.start):
        if runs and b.start // 24 - runs[-1][-1].start // 24 <= max_gap:
            runs[-1].append(b)
        else:
            runs.append([b])
    return runs


def is_retry(burst: Burst) -> bool:
    """Mostly failing, or the same bodies again and again; but new bodies are new work.

    A loop that runs into rate limits fails a lot too; when the rows carry fingerprints and
    nearly every body is different, it is a loop, not retries.
    """
    s = burst.stats
    new_work = s.fingerprinted >= 20 and s.distinct_bodies >= 0.8 * s.fingerprinted
    if burst.failing_share >= FAILING_SHARE and not new_work:
        return True
    return s.fingerprinted > 0 and s.repeated_share >= REPEAT_SHARE and burst.failing_share >= 0.2


def _window(ctx: Context, burst: Burst) -> Window:
    p = ctx.profile
    start = at_hour(p.hour0 + burst.start)
    end = at_hour(p.hour0 + burst.end)
    s = burst.stats
    if p.bucket_hours > 1:
        return Window(start, at_day(p.day0 + -(-burst.end // 24)))
    if s.first is not None and s.last is not None and s.last - s.first >= timedelta(minutes=1):
        # Per-request rows: the burst's own first and last request, not whole hours.
        start, end = max(start, s.first), min(end, s.last + timedelta(seconds=1))
    return Window(start, end)


def _span_text(w: Window) -> str:
    last = w.end - timedelta(seconds=1)
    if w.start.hour == w.start.minute == 0 and w.end - w.start >= timedelta(days=1) and w.end.hour == 0:
        return (
            f"on {day(w.start)}"
            if w.end - w.start == timedelta(days=1)
            else f"from {day(w.start)} to {day(last)}"
        )
    if w.start.date() == last.date():
        return f"on {day(w.start)} between {w.start:%H:%M} and {w.end:%H:%M} UTC"
    return f"from {when(w.start)} to {when(w.end)}"


def _statuses(stats: WindowStats) -> str:
    failing = [(code, n) for code, n in stats.statuses if code >= 400]
    return ", ".join(f"{n:,} × {code}" for code, n in failing[:4])


def burst_findings(ctx: Context, bursts: list[Burst], novel_windows: list[Window]) -> list[Finding]:
    """Runaway-loop / retry-storm findings (and code-bug twins) for bursts above the minimum impact.

    A burst must also cost at least half a typical day's spend: a busy hour that adds a
    few cents to a large account is not what made the bill.
    """
    import numpy as np

    daily = ctx.profile.day_total().cost
    typical_day = int(np.median(daily[daily > 0])) if (daily > 0).any() else 0
    floor = max(ctx.min_impact_nanos, typical_day // 2)
    out: list[Finding] = []
    for burst in bursts:
        if burst.excess_cost < floor:
            continue
        w = _window(ctx, burst)
        retry = is_retry(burst)
        top_key, top_req, _ = burst.keys[0] if burst.keys else ("", burst.requests, burst.cost)
        key_share = top_req / burst.requests if burst.requests else 0.0
        s = burst.stats
        span = _span_text(w)
        figures = {
            "impact": plain(burst.excess_cost),
            "date": day(w.start),
            "window_start": w.start.isoformat(),
            "window_end": w.end.isoformat(),
            "requests": str(burst.requests),
            "failed_requests": str(burst.failed),
            "failed_share": f"{burst.failing_share:.2f}",
            "usual_requests_per_hour": f"{burst.usual_per_hour:.0f}",
            "peak_requests_per_hour": str(burst.peak_per_hour),
            "window_cost": plain(burst.cost),
            "key_id": top_key,
            "key_share": f"{key_share:.2f}",
        }
        if s.fingerprinted:
            figures |= {
                "repeated_share": f"{s.repeated_share:.2f}",
                "repeated_bodies": str(s.repeated_bodies),
                "max_repeats": str(s.max_repeats),
            }
        facts = [
            Evidence(
                f"{span}, {_who(burst)} sent {burst.requests:,} requests, peaking at "
                f"{burst.peak_per_hour:,} in one hour ({ratio_text(burst.peak_per_hour, burst.usual_per_hour)} the "
                f"usual {burst.usual_per_hour:,.0f} per hour).",
                ctx.source,
            )
        ]
        if burst.failed:
            facts.append(
                Evidence(
                    f"{burst.failed:,} of them ({pct(burst.failed, burst.requests)}) failed ({_statuses(s)}).",
                    ctx.source,
                )
            )
        if s.fingerprinted:
            if s.repeated_bodies:
                facts.append(
                    Evidence(
                        f"{s.repeated_bodies:,} identical request bodies were sent up to {s.max_repeats:,} times "
                        f"each; {pct(s.repeated, s.fingerprinted)} of the requests repeated a body within the "
                        "same minute (no backoff between attempts).",
                        ctx.source,
                    )
                )
            else:
                facts.append(
                    Evidence(
                        f"The requests carried {s.distinct_bodies:,} distinct bodies: new work, not repeats.",
                        ctx.source,
                    )
                )
        facts.append(
            Evidence(
                f"These hours cost {money(burst.cost)}, {money(burst.excess_cost)} more than usual for them.",
                ctx.source,
            )
        )
        overlaps_novel = any(_overlaps(w, n) for n in novel_windows)
        if retry:
            confidence = (
                0.6 + 0.25 * min(1.0, burst.failing_share / 0.8) + (0.1 if s.repeated_share >= 0.5 else 0)
            )
            cause = RootCause.RETRY_STORM
            summary = (
                f"A retry storm {span}: {burst.requests:,} requests, {pct(burst.failed, burst.requests)} failing and "
                f"retried without backoff, added {money(burst.excess_cost)}."
            )
        else:
            confidence = (
                0.55 + 0.2 * min(1.0, key_share) + (0.1 if s.fingerprinted and not s.repeated_bodies else 0)
            )
            cause = RootCause.RUNAWAY_LOOP
            summary = (
                f"A runaway loop {span}: {_who(burst)} sent {burst.requests:,} requests "
                f"({ratio_text(burst.peak_per_hour, burst.usual_per_hour)} the usual hourly rate), "
                f"adding {money(burst.excess_cost)}."
            )
        if overlaps_novel:
            # Traffic from IPs/models never seen before is more likely someone else's.
            confidence -= 0.3
        finding = Finding(
            root_cause=cause,
            window=w,
            impact_nanos=burst.excess_cost,
            confidence=_clamp(confidence),
            summary=summary,
            evidence=tuple(facts),
            figures=figures,
            request_ids=s.request_ids,
            key_ids=tuple(k for k, _, _ in burst.keys[:5]),
        )
        out.append(finding)
        out.append(_code_bug(ctx, finding, overlaps_novel))
    return out


def _who(burst: Burst) -> str:
    if not burst.keys:
        return "the account"
    key, n, _ = burst.keys[0]
    if len(burst.keys) == 1 or n / max(1, burst.requests) >= 0.9:
        return f"key {key}"
    return f"keys {', '.join(k for k, _, _ in burst.keys[:3])}"


_BUG_WORDS = re.compile(
    r"\b(retry|retrying|retries|retried|loop|looping|infinite|recursion|recursive|exception|traceback|"
    r"error|timeout|timed out|while true|stack overflow|backoff|crash|bug|again|429|5\d\d)\b",
    re.IGNORECASE,
)
_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2}))?")


def _code_bug(ctx: Context, shape: Finding, overlaps_novel: bool) -> Finding:
    """The same burst read as the customer's own bug, as a refund request would name it."""
    w = shape.window
    text = ctx.log_text or ""
    words = sorted({m.group(0).lower() for m in _BUG_WORDS.finditer(text)})
    near = _log_times_near(text, w)
    confidence = 0.45
    facts = list(shape.evidence)
    if words:
        confidence = 0.7
        facts.append(Evidence(f"The customer's log mentions: {', '.join(words[:6])}.", "/ticket/attachments"))
    if near:
        confidence = 0.85 if words else 0.65
        facts.append(
            Evidence(
                f"The customer's log has entries at {', '.join(near[:3])}, inside the burst.",
                "/ticket/attachments",
            )
        )
    if overlaps_novel:
        confidence -= 0.3
    if any(_overlaps(w, Window(i.start, i.end or ctx.as_of)) for i in ctx.incidents):
        confidence -= 0.2
    kind = "retry storm" if shape.root_cause is RootCause.RETRY_STORM else "runaway loop"
    return replace(
        shape,
        root_cause=RootCause.CODE_BUG,
        confidence=_clamp(confidence),
        summary=(
            f"A {kind} in the customer's own code {_span_text(w)} added {money(shape.impact_nanos)}"
            + (" (their log shows it)." if words or near else ".")
        ),
        evidence=tuple(facts),
        figures={**shape.figures, "shape": shape.root_cause.value},
    )


def _log_times_near(text: str, w: Window) -> list[str]:
    from datetime import UTC

    hits = []
    for m in _DATE.finditer(text):
        try:
            d = datetime.fromisoformat(m.group(1)).replace(tzinfo=UTC)
        except ValueError:
            continue
        if m.group(2):
            d = d.replace(hour=int(m.group(2)), minute=int(m.group(3)))
            if w.start - timedelta(hours=1) <= d <= w.end + timedelta(hours=1):
                hits.append(m.group(0))
        elif w.start.date() <= d.date() <= w.end.date():
            hits.append(m.group(0))
    return hits


def _overlaps(a: Window, b: Window) -> bool:
    return a.start < b.end and b.start < a.end


def _clamp(x: float) -> float:
    return round(min(0.95, max(0.05, x)), 2)


def outage_findings(ctx: Context, bursts: list[Burst]) -> list[Finding]:
    """Failing, retried traffic and its cost during each status-page incident."""
    import numpy as np

    p = ctx.profile
    out: list[Finding] = []
    for inc in ctx.incidents:
        inc_end = inc.end or ctx.as_of
        a = max(0, p.hour_index(inc.start - timedelta(minutes=15)))
        b = min(p.n_hours, p.hour_index(inc_end + timedelta(hours=1)) + 1)
        if b <= a or b <= 0:
            continue
        sl = slice(a, b)
        base = baseline(p.total)
        requests = int(p.total.requests[sl].sum())
        failed = int(p.total.failed[sl].sum())
        usual = float(base.requests[sl].sum())
        usual_failed = float(np.median(p.total.failed[p.total.requests > 0])) * (b - a) if requests else 0.0
        excess = int(np.clip(p.total.cost[sl] - base.cost[sl], 0, None).sum())
        overlapping = [x for x in bursts if x.start < b and a < x.end]
        excess = max([excess, *[x.excess_cost for x in overlapping]])
        retried = failed >= max(20.0, 3 * usual_failed) and (
            requests >= 1.5 * usual or failed >= 0.3 * requests
        )
        if not retried:
            continue
        # No minimum impact here: a surge of failures inside a published incident is not
        # noise, and "the failed calls cost you nothing" is itself the answer to a refund.
        small = excess < ctx.min_impact_nanos
        stats = (
            overlapping[0].stats
            if overlapping
            else window_stats(p.data, at_hour(p.hour0 + a), at_hour(p.hour0 + b))
        )
        w = Window(
            max(inc.start, at_hour(p.hour0 + a)), min(inc_end + timedelta(hours=1), at_hour(p.hour0 + b))
        )
        facts = (
            Evidence(
                f"The status page reports '{inc.name}' from {when(inc.start)}"
                + (f" to {when(inc.end)}." if inc.end else ", still unresolved."),
                f"/status_page/incidents/{inc.index}",
            ),
            Evidence(
                f"During it the account sent {requests:,} requests (usually about {usual:,.0f} in those hours); "
                f"{failed:,} failed ({pct(failed, requests)}).",
                ctx.source,
            ),
            Evidence(
                f"Those hours cost {money(int(p.total.cost[sl].sum()))}, {money(excess)} above the usual: the "
                "retries that went through were billed.",
                ctx.source,
            ),
        )
        out.append(
            Finding(
                root_cause=RootCause.PROVIDER_OUTAGE_RETRIES,
                window=w,
                impact_nanos=excess,
                confidence=(0.85 if overlapping else 0.7) - (0.15 if small else 0.0),
                summary=(
                    f"Retries during the provider incident '{inc.name}' on {day(inc.start)} "
                    f"added {money(excess)}."
                ),
                evidence=facts,
                figures={
                    "impact": plain(excess),
                    "date": day(inc.start),
                    "incident": inc.name,
                    "incident_start": inc.start.isoformat(),
                    "incident_end": inc.end.isoformat() if inc.end else "",
                    "requests": str(requests),
                    "failed_requests": str(failed),
                },
                request_ids=stats.request_ids,
                key_ids=tuple(k for k, _, _ in overlapping[0].keys[:5]) if overlapping else (),
            )
        )
    return out
