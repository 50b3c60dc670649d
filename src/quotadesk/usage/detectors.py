"""``analyse``: explain a usage log — totals per period, the change, and ranked findings.

The report answers the two usage tickets of the runbook. "My bill is higher than
expected" (incident 2) reads the high-bill causes (runaway loop, retry storm, model
swap, context bloat, dev key in production, traffic growth, billing discrepancy); "I
want a refund" (incident 5) reads the refund causes (account compromise, provider-outage
retries, code bug, expensive model, forgot to stop). Every detector runs; each finding
says how much extra spend it explains and how sure it is, and findings are ranked by
impact × confidence, so a caller picks the first finding whose cause fits its ticket.

Periods: the billing month is the calendar month in UTC. The **current** period is the
month of ``as_of`` once a week of it has passed, else the month before (the bill the
customer is looking at); it moves to ``as_of``'s month when the main anomaly happened
there. The **previous** period is the month before the current one, and the
decomposition compares the current period with as many days of the previous one
(``against``), so a month to date is not set against a whole month.

Detectors never raise: one that fails is recorded in ``detector_errors`` and the others
still report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from quotadesk.errors import InputError
from quotadesk.usage import account, shifts, spikes
from quotadesk.usage.context import (
    Context,
    KeyInfo,
    normalize_incidents,
    normalize_invoices,
    normalize_keys,
)
from quotadesk.usage.decompose import Decomposition, decompose
from quotadesk.usage.findings import HIGH_BILL_CAUSES, REFUND_CAUSES, Finding, RootCause, Window, rank
from quotadesk.usage.periods import Period
from quotadesk.usage.profile import Profile, at_day, build_profile, period_sums
from quotadesk.usage.records import UsageData

DEFAULT_MIN_IMPACT_NANOS = 500_000_000
"""$0.50: below this a finding does not explain a bill anyone writes in about."""

ANOMALIES = frozenset(
    {
        RootCause.RUNAWAY_LOOP,
        RootCause.RETRY_STORM,
        RootCause.MODEL_SWAP,
        RootCause.CONTEXT_BLOAT,
        RootCause.DEV_KEY_IN_PRODUCTION,
        RootCause.ACCOUNT_COMPROMISE,
        RootCause.PROVIDER_OUTAGE_RETRIES,
    }
)
"""Causes that are a change in the account's usage (not growth, books or a steady choice)."""


@dataclass(frozen=True, slots=True)
class PeriodTotals:
    """Spend in one period up to ``as_of``: total, requests, and per model and per key.

    ``days`` is how many days of the period had begun by ``as_of``; ``complete`` says the
    period had ended.
    """

    period: Period
    cost_nanos: int
    requests: int
    days: int
    complete: bool
    by_model: Mapping[str, int] = field(default_factory=dict)
    by_key: Mapping[str, int] = field(default_factory=dict)

    @property
    def daily_average_nanos(self) -> int:
        return _div_round(self.cost_nanos, self.days) if self.days else 0


@dataclass(frozen=True, slots=True)
class DayTotal:
    """One UTC day: spend, requests (all), failing requests."""

    day: date
    cost_nanos: int
    requests: int
    failed: int


@dataclass(frozen=True, slots=True)
class MonthTotal:
    """One calendar month (UTC) of the whole log: spend and requests."""

    period: Period
    cost_nanos: int
    requests: int


@dataclass(frozen=True, slots=True)
class UsageReport:
    """What the usage log says at ``as_of``.

    ``findings`` ranked by impact × confidence; ``months`` every calendar month in the
    log; ``current``/``previous`` the compared periods and ``change_nanos`` between them
    (None without a previous period); ``decomposition`` of current against ``against``
    (the previous period cut to as many days); ``daily`` spend from the previous period's
    start to ``as_of``; ``avg_daily_30d_nanos`` the average daily spend over the 30 days
    before ``as_of`` (over ``avg_daily_30d_days`` days when the log is younger);
    ``month_to_date_nanos`` spend since the 1st of ``as_of``'s month; ``first_seen_*``
    when each model, key and IP first appears; ``detector_errors`` detectors that failed.
    """

    as_of: datetime
    source: str
    findings: tuple[Finding, ...] = ()
    months: tuple[MonthTotal, ...] = ()
    current: PeriodTotals | None = None
    previous: PeriodTotals | None = None
    against: Period | None = None
    change_nanos: int | None = None
    decomposition: Decomposition | None = None
    daily: tuple[DayTotal, ...] = ()
    avg_daily_30d_nanos: int = 0
    avg_daily_30d_days: int = 0
    month_to_date_nanos: int = 0
    total_nanos: int = 0
    first_seen_models: Mapping[str, datetime] = field(default_factory=dict)
    first_seen_keys: Mapping[str, datetime] = field(default_factory=dict)
    first_seen_ips: Mapping[str, datetime] = field(default_factory=dict)
    detector_errors: tuple[str, ...] = ()

    @property
    def max_daily_nanos(self) -> int:
        return max((d.cost_nanos for d in self.daily), default=0)

    @property
    def recharge_threshold_nanos(self) -> int:
        """The runbook's auto-recharge threshold: 2 × average daily spend, up to a whole dollar."""
        twice = 2 * self.avg_daily_30d_nanos
        return -(-twice // 1_000_000_000) * 1_000_000_000

    def top(self, causes: Iterable[RootCause | str] | None = None) -> Finding | None:
        """The best-ranked finding, among ``causes`` when given."""
        found = self.select(causes)
        return found[0] if found else None

    def select(self, causes: Iterable[RootCause | str] | None = None) -> tuple[Finding, ...]:
        if causes is None:
            return self.findings
        wanted = {RootCause(c) for c in causes}
        return tuple(f for f in self.findings if f.root_cause in wanted)

    def high_bill(self) -> tuple[Finding, ...]:
        """Findings for an unexpected-high-bill ticket (contract incident 2)."""
        return self.select(HIGH_BILL_CAUSES)

    def refund(self) -> tuple[Finding, ...]:
        """Findings for a refund request (contract incident 5)."""
        return self.select(REFUND_CAUSES)


def analyse(
    data: UsageData,
    *,
    as_of: datetime,
    keys: Sequence[Any] = (),
    invoices: Sequence[Any] = (),
    incidents: Sequence[Any] = (),
    customer_log_text: str | None = None,
    stopped_at: datetime | None = None,
    min_impact_nanos: int = DEFAULT_MIN_IMPACT_NANOS,
) -> UsageReport:
    """Analyse ``data`` as of ``as_of`` (nothing after it is read).

    ``keys``: ApiKey-like objects or mappings (``id``, ``name``, ``environment``) in bundle
    order; ``invoices``: Invoice-like (``id``, ``period_start``, ``period_end``, ``amount``
    in nano-dollars, ``status``); ``incidents``: ``(name, start, end_or_None)`` tuples or
    Statuspage-like objects (``name``, ``created_at``, ``resolved_at``);
    ``customer_log_text``: log excerpts the customer attached (for code bugs);
    ``stopped_at``: when the customer says they stopped using the API (forgot to stop).
    """
    if as_of.tzinfo is None:
        raise InputError("as_of must carry a UTC offset", "as_of")
    as_of = as_of.astimezone(UTC)
    profile = build_profile(data, as_of) if not data.is_empty else None
    if profile is None:
        return UsageReport(as_of=as_of, source=data.source)
    current, previous = choose_periods(as_of, data)
    ctx = _context(
        profile,
        as_of,
        current,
        previous,
        keys,
        invoices,
        incidents,
        customer_log_text,
        stopped_at,
        min_impact_nanos,
    )
    findings, errors = _detect(ctx)
    top = next((f for f in findings if f.root_cause in ANOMALIES), None)
    month_of_as_of = Period.month_of(as_of)
    if current != month_of_as_of and (top is None or month_of_as_of.contains(top.window.start)):
        # Early in a month the bill in question is last month's, unless the trouble began
        # this month: then this month to date (against as many days of the last) is the
        # period. A cause read by comparing periods (a dev key's new traffic) only shows in
        # that comparison, so with nothing found in last month it is run as well.
        month_ctx = replace(
            ctx,
            current=month_of_as_of,
            previous=month_of_as_of.previous_month(),
            against=_against(month_of_as_of, month_of_as_of.previous_month(), as_of),
        )
        if top is None:
            month_findings, month_errors = _detect(month_ctx)
            month_top = next((f for f in month_findings if f.root_cause in ANOMALIES), None)
            if month_top is not None and month_of_as_of.contains(month_top.window.start):
                ctx, findings, errors = month_ctx, month_findings, month_errors
        else:
            ctx = month_ctx
    return _report(ctx, findings, errors)


def choose_periods(as_of: datetime, data: UsageData) -> tuple[Period, Period]:
    """(current, previous): see the module docstring."""
    anchor = as_of
    if data.end is not None and data.end < Period.month_of(as_of).previous_month().start:
        anchor = data.end  # an old export: look at its last month, not at an empty one
    month = Period.month_of(anchor)
    early = anchor - month.start < timedelta(days=7)
    has_before = data.start is not None and data.start < month.start
    if anchor is as_of and early and has_before:
        month = month.previous_month()
    return month, month.previous_month()


def _against(current: Period, previous: Period, as_of: datetime) -> Period:
    if as_of >= current.end:
        return previous
    elapsed = as_of - current.start
    return Period(
        previous.start,
        min(previous.end, previous.start + elapsed + timedelta(microseconds=1)),
        previous.label,
    )


def _context(
    profile: Profile,
    as_of: datetime,
    current: Period,
    previous: Period,
    keys: Sequence[Any],
    invoices: Sequence[Any],
    incidents: Sequence[Any],
    log_text: str | None,
    stopped_at: datetime | None,
    min_impact: int,
) -> Context:
    scope_start = Period.month_of(min(as_of, current.end)).previous_month().start
    scope_start = min(scope_start, current.start)
    return Context(
        profile=profile,
        as_of=as_of,
        scope=Period(scope_start, max(as_of, scope_start + timedelta(days=1)), "scope"),
        current=current,
        previous=previous,
        against=_against(current, previous, as_of),
        keys=_with_unlisted(normalize_keys(keys), profile),
        invoices=normalize_invoices(invoices),
        incidents=normalize_incidents(incidents),
        log_text=log_text,
        stopped_at=stopped_at,
        min_impact_nanos=min_impact,
        source=profile.data.source,
    )


def _with_unlisted(keys: tuple[KeyInfo, ...], profile: Profile) -> tuple[KeyInfo, ...]:
    """Keys in the log that the books do not list, with an environment guessed from the id."""
    listed = {k.id for k in keys}
    extra = normalize_keys([{"id": k} for k in sorted(profile.by_key) if k and k not in listed])
    return keys + tuple(KeyInfo(k.id, k.name, k.environment, -1, True) for k in extra)


def _run(errors: list[str], name: str, fn: Callable[[], list[Finding]]) -> list[Finding]:
    try:
        return fn()
    except Exception as exc:  # a detector that fails must not stop the others
        errors.append(f"{name}: {type(exc).__name__}: {exc}")
        return []


def _detect(ctx: Context) -> tuple[list[Finding], list[str]]:
    errors: list[str] = []
    found: list[Finding] = []
    compromised = _run(errors, "account_compromise", lambda: account.compromise(ctx))
    found += compromised
    bursts: list[spikes.Burst] = []

    def find() -> list[Finding]:
        bursts.extend(spikes.find_bursts(ctx))
        return []

    _run(errors, "bursts", find)
    novel = [f.window for f in compromised]
    found += _run(errors, "runaway_loop/retry_storm", lambda: spikes.burst_findings(ctx, bursts, novel))
    found += _run(errors, "provider_outage_retries", lambda: spikes.outage_findings(ctx, bursts))
    sig: list[shifts.Signals] = []

    def make_signals() -> list[Finding]:
        sig.append(shifts.signals(ctx.profile))
        return []

    _run(errors, "signals", make_signals)
    if sig:
        s = sig[0]
        swaps = _run(errors, "model_swap", lambda: shifts.model_swap(ctx, s))
        found += swaps or _run(errors, "model_swap (per key)", lambda: shifts.key_swaps(ctx))
        found += _run(errors, "context_bloat", lambda: shifts.context_bloat(ctx, s))
        cmp = shifts.compare(ctx, s)
        found += _run(errors, "dev_key_in_production", lambda: shifts.dev_key(ctx, cmp))
        growth = _run(errors, "traffic_growth", lambda: shifts.traffic_growth(ctx, s, cmp))
        explained = sum(
            f.impact_nanos for f in found if f.root_cause in HIGH_BILL_CAUSES and _in(f.window, ctx.current)
        )
        found += [g for g in growth if explained < 0.5 * g.impact_nanos]
    found += _run(errors, "billing_discrepancy", lambda: account.discrepancy(ctx))
    if not any(f.root_cause in ANOMALIES for f in found):
        found += _run(errors, "expensive_model", lambda: account.expensive_model(ctx))
    found += _run(errors, "forgot_to_stop", lambda: account.forgot_to_stop(ctx))
    in_scope = [f for f in found if f.window.end > ctx.scope.start]
    return list(rank(in_scope)), errors


def _in(w: Window, p: Period) -> bool:
    return w.start < p.end and p.start < w.end


def _report(ctx: Context, findings: list[Finding], errors: list[str]) -> UsageReport:

    p = ctx.profile
    data = p.data
    as_of = ctx.as_of
    month = Period.month_of(as_of)
    last30 = max(as_of - timedelta(days=30), data.start or as_of)
    end = as_of + timedelta(microseconds=1)
    spans = [(month.start, end), (as_of - timedelta(days=30), end)]
    (mtd, _), (sum30, _) = period_sums(data, spans)
    days30 = max(1, min(30, -(-int((as_of - last30).total_seconds()) // 86400)))
    current = _totals(p, ctx.current, as_of)
    previous = _totals(p, ctx.previous, as_of)
    change = current.cost_nanos - previous.cost_nanos
    decomposition = None
    if previous.requests or current.requests:
        cur = Period(ctx.current.start, min(ctx.current.end, end), ctx.current.label)
        decomposition = decompose(data, cur, ctx.against)
    if change > 0:
        findings = [_with_share(f, change, ctx.current) for f in findings]
    months = _months(p, as_of)
    total = p.day_total()
    d0 = max(0, p.day_index(ctx.previous.start))
    daily = tuple(
        DayTotal(
            at_day(p.day0 + i).date(),
            int(total.cost[i]),
            int(total.requests[i] + total.failed[i]),
            int(total.failed[i]),
        )
        for i in range(d0, p.n_days)
    )
    return UsageReport(
        as_of=as_of,
        source=data.source,
        findings=tuple(findings),
        months=months,
        current=current,
        previous=previous,
        against=ctx.against,
        change_nanos=change,
        decomposition=decomposition,
        daily=daily,
        avg_daily_30d_nanos=_div_round(sum30, days30),
        avg_daily_30d_days=days30,
        month_to_date_nanos=mtd,
        total_nanos=sum(m.cost_nanos for m in months),
        first_seen_models=dict(p.model_first),
        first_seen_keys=dict(p.key_first),
        first_seen_ips=dict(sorted(((ip, s.first) for ip, s in p.ips.items()), key=lambda x: x[1])[-1000:]),
        detector_errors=tuple(errors),
    )


def _months(p: Profile, as_of: datetime) -> tuple[MonthTotal, ...]:
    """Calendar-month totals of the whole log up to ``as_of``.

    From the profile's daily arrays when they hold the whole log (no extra pass over the
    rows); with a log older than the profile's lookback, from the rows.
    """
    data = p.data
    if data.start is not None and data.start < at_day(p.day0):
        import ibis

        t = data.table
        rows = data.fetch(
            t.filter(t.ts <= as_of)
            .group_by(m=t.ts.truncate("M"))
            .aggregate(cost=ibis._.cost_nanos.sum(), requests=ibis._.requests.sum())
            .order_by("m")
        ).dicts()
        return tuple(
            MonthTotal(Period.month_of(r["m"].astimezone(UTC)), int(r["cost"]), int(r["requests"])) for r in rows
        )
    total = p.day_total()
    out: dict[str, MonthTotal] = {}
    for i in range(p.n_days):
        requests = int(total.requests[i] + total.failed[i])
        cost = int(total.cost[i])
        if not requests and not cost:
            continue
        period = Period.month_of(at_day(p.day0 + i))
        m = out.get(period.label, MonthTotal(period, 0, 0))
        out[period.label] = MonthTotal(period, m.cost_nanos + cost, m.requests + requests)
    return tuple(out[k] for k in sorted(out))


def _with_share(f: Finding, change: int, current: Period) -> Finding:
    if f.root_cause not in HIGH_BILL_CAUSES or not _in(f.window, current) or f.impact_nanos <= 0:
        return f
    share = min(100, round(100 * f.impact_nanos / change))
    return replace(f, figures={**f.figures, "share_of_increase": f"{share}%"})


def _totals(p: Profile, period: Period, as_of: datetime) -> PeriodTotals:
    a = max(0, p.day_index(period.start))
    b = min(p.n_days, p.day_index(min(as_of, period.end - timedelta(microseconds=1))) + 1)
    by_model = {
        m: int(d.cost[a:b].sum()) for m, d in p.models.items() if d.cost[a:b].any() or d.requests[a:b].any()
    }
    by_key = {
        k: int(d.cost[a:b].sum()) for k, d in p.keys.items() if d.cost[a:b].any() or d.requests[a:b].any()
    }
    total = p.day_total()
    begun = as_of >= period.start
    days = 0 if not begun else max(1, min(int(period.days), (min(as_of, period.end) - period.start).days + 1))
    if as_of >= period.end:
        days = round(period.days)
    return PeriodTotals(
        period=period,
        cost_nanos=int(total.cost[a:b].sum()) if b > a else 0,
        requests=int((total.requests[a:b] + total.failed[a:b]).sum()) if b > a else 0,
        days=days,
        complete=as_of >= period.end,
        by_model=dict(sorted(by_model.items(), key=lambda x: -x[1])),
        by_key=dict(sorted(by_key.items(), key=lambda x: -x[1])),
    )


def _div_round(a: int, b: int) -> int:
    """a / b rounded half-even, in integers."""
    q, r = divmod(a, b)
    if 2 * r > b or (2 * r == b and q % 2):
        q += 1
    return q
