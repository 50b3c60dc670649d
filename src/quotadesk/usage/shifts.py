"""Lasting shifts in how the account uses the API: model swap, context bloat, growth, a dev key.

These are step changes, not bursts: from some day on, each request costs more (a pricier
model: **model swap**; more tokens: **context bloat**), or there are more requests
(**traffic growth**), or a development/CI key starts carrying production traffic
(**dev key in production**).

A step is found on a daily signal defined per successful request, so weekly seasonality
in volume does not move it: the mix index (what a token costs given which models carry
the tokens, at each model's own average price) for a swap, tokens per request for bloat.
The change day is the split that best fits two flat levels (least squares on the log),
and it must be a clean step: the levels differ by a set ratio, most days after sit above
the midpoint and most days before below it, and the request count stayed roughly level.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from quotadesk.money import plain
from quotadesk.usage.context import DEV_ENVIRONMENTS, Context, day, money, pct, ratio_text
from quotadesk.usage.findings import Evidence, Finding, RootCause, Window
from quotadesk.usage.profile import Daily, Profile, at_day

SWAP_RATIO = 1.3
BLOAT_RATIO = 1.5
MIN_SEGMENT_DAYS = 3
LOOKBACK_DAYS = 28
PERSISTENCE = 0.7


@dataclass(frozen=True, slots=True)
class Step:
    """A step in a daily signal: first day of the new level, medians before and after."""

    day: int
    before: float
    after: float
    before_days: int
    after_days: int

    @property
    def ratio(self) -> float:
        return self.after / self.before if self.before > 0 else math.inf


def find_step(x: Any, lo: int, hi: int, *, earliest: int) -> Step | None:
    """The best single upward step of ``x`` (NaN = no data) within days ``[lo, hi)``.

    The new level must start on or after day ``earliest``.
    """
    import numpy as np

    idx = np.flatnonzero(~np.isnan(x[lo:hi]) & (x[lo:hi] > 0)) + lo
    n = len(idx)
    if n < 2 * MIN_SEGMENT_DAYS:
        return None
    y = np.log(x[idx])
    c1 = np.cumsum(y)
    c2 = np.cumsum(y * y)
    best: tuple[float, int] | None = None
    for j in range(MIN_SEGMENT_DAYS, n - MIN_SEGMENT_DAYS + 1):
        if idx[j] < earliest:
            continue
        nb, na = j, n - j
        sb, sa = c1[j - 1], c1[-1] - c1[j - 1]
        qb, qa = c2[j - 1], c2[-1] - c2[j - 1]
        sse = (qb - sb * sb / nb) + (qa - sa * sa / na)
        if sa / na <= sb / nb:
            continue
        if best is None or sse < best[0] - 1e-12:
            best = (sse, j)
    if best is None:
        return None
    j = best[1]
    change = int(idx[j])
    before_idx = idx[(idx < change) & (idx >= change - LOOKBACK_DAYS)]
    after_idx = idx[idx >= change]
    before = float(np.median(x[before_idx]))
    after = float(np.median(x[after_idx]))
    mid = math.sqrt(before * after) if before > 0 else after / 2
    if np.mean(x[after_idx] >= mid) < PERSISTENCE or np.mean(x[before_idx] < mid) < PERSISTENCE:
        return None
    return Step(change, before, after, len(before_idx), len(after_idx))


def _ratio(a: Any, b: Any) -> Any:
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


@dataclass(frozen=True, eq=False)
class Signals:
    """Daily signals over successful requests: requests, tokens, cost, mix index, unit prices."""

    total: Daily
    requests: Any
    tokens: Any
    cost: Any
    per_request: Any  # tokens per request
    per_token: Any  # cost per token
    mix: Any  # cost per token at each model's own average price
    unit: Mapping[str, float]  # each model's average cost per token
    models: Mapping[str, Daily]  # the per-model arrays these signals sum
    key_id: str | None = None  # one key's signals, or None for the whole account


def signals(p: Profile, key_id: str | None = None) -> Signals:
    """The account's daily signals, or one key's (from that key's own per-model arrays)."""
    import numpy as np

    from quotadesk.usage.profile import _sum_daily

    models = p.models if key_id is None else p.models_of_key(key_id)
    total = p.day_total() if key_id is None else _sum_daily(list(models.values()), p.n_days)
    unit: dict[str, float] = {}
    weighted = np.zeros(p.n_days)
    for model, d in models.items():
        tok = int(d.tokens.sum())
        unit[model] = int(d.cost.sum()) / tok if tok else 0.0
        weighted += d.tokens * unit[model]
    tokens = total.tokens.astype(np.float64)
    return Signals(
        total=total,
        requests=total.requests.astype(np.float64),
        tokens=tokens,
        cost=total.cost.astype(np.float64),
        per_request=_ratio(tokens, total.requests.astype(np.float64)),
        per_token=_ratio(total.cost.astype(np.float64), tokens),
        mix=_ratio(weighted, tokens),
        unit=unit,
        models=models,
        key_id=key_id,
    )


def _volume_ratio(sig: Signals, step: Step) -> float:
    import numpy as np

    r = sig.requests
    before = r[max(0, step.day - LOOKBACK_DAYS) : step.day]
    after = r[step.day :]
    b = float(np.median(before[before > 0])) if (before > 0).any() else 0.0
    a = float(np.median(after[after > 0])) if (after > 0).any() else 0.0
    return a / b if b else math.inf


def _earliest(ctx: Context) -> int:
    """A step may start up to a month before the scope: last month's change shows in this bill."""
    return max(MIN_SEGMENT_DAYS, ctx.profile.day_index(ctx.scope.start) - 31)


def model_swap(ctx: Context, sig: Signals) -> list[Finding]:
    import numpy as np

    p = ctx.profile
    models = sig.models
    step = find_step(sig.mix, 0, p.n_days, earliest=_earliest(ctx))
    if step is None or step.ratio < SWAP_RATIO:
        return []
    volume = _volume_ratio(sig, step)
    if not 0.67 <= volume <= 1.5:
        return []
    lo = max(0, step.day - LOOKBACK_DAYS)
    tok_before = {m: float(d.tokens[lo : step.day].sum()) for m, d in models.items()}
    tok_after = {m: float(d.tokens[step.day :].sum()) for m, d in models.items()}
    tb, ta = sum(tok_before.values()) or 1.0, sum(tok_after.values()) or 1.0
    delta = {m: tok_after[m] / ta - tok_before[m] / tb for m in models}
    pricier = [m for m in models if sig.unit[m] > step.before]
    if not pricier:
        return []
    to_model = max(pricier, key=lambda m: (delta[m], m))
    from_model = min(models, key=lambda m: (delta[m], m))
    if delta[to_model] <= 0.05:
        return []
    # A swap replaces: the cheaper model's own traffic fell. A pricier stream added beside
    # unchanged traffic is new work (growth, a new key), not a swap.
    old = models[from_model].requests
    old_before = float(np.median(old[lo : step.day])) if step.day > lo else 0.0
    old_after = float(np.median(old[step.day :]))
    if from_model == to_model or old_after > 0.7 * old_before:
        return []
    # The day the new model took over: first day near the step where it had half its new share.
    share_to = _ratio(models[to_model].tokens.astype(np.float64), sig.tokens)
    after_share = float(np.nanmedian(share_to[step.day :])) if step.after_days else 0.0
    change = step.day
    for d in range(max(0, step.day - 3), min(p.n_days, step.day + 4)):
        if not np.isnan(share_to[d]) and share_to[d] >= after_share / 2:
            change = d
            break
    first_seen = p.model_first.get(to_model)
    if first_seen is not None and p.day_index(first_seen) in range(change - 3, change + 1):
        change = p.day_index(first_seen)
    t = sig.total
    # Integer arithmetic: the after-tokens at the before-price, floored to the nano-dollar.
    cost_b, tok_b = int(t.cost[lo:change].sum()), int(t.tokens[lo:change].sum())
    cost_a, tok_a = int(t.cost[change:].sum()), int(t.tokens[change:].sum())
    impact = max(0, cost_a - (tok_a * cost_b) // tok_b) if tok_b else 0
    if impact < ctx.min_impact_nanos:
        return []
    start = at_day(p.day0 + change)
    if first_seen is not None and first_seen.date() == start.date():
        start = first_seen
    end = ctx.as_of
    last_used = np.flatnonzero(models[to_model].requests > 0)
    if len(last_used):
        end = min(ctx.as_of, at_day(p.day0 + int(last_used[-1]) + 1))
    per_m = 1e6 / 1e9  # nano-dollars per token → dollars per 1M tokens
    on_key = f"On key {sig.key_id}: " if sig.key_id else ""
    was = "new" if first_seen is not None and p.day_index(first_seen) >= change - 3 else "already in use"
    facts = (
        Evidence(
            f"From {day(start)} {to_model} carried {pct(tok_after[to_model], ta)} of the tokens "
            f"(before: {pct(tok_before[to_model], tb)}); {from_model} fell from {pct(tok_before[from_model], tb)} "
            f"to {pct(tok_after[from_model], ta)}.",
            ctx.source,
        ),
        Evidence(
            f"The average price per 1M tokens rose from ${step.before * per_m:,.2f} to "
            f"${step.after * per_m:,.2f} ({ratio_text(step.after, step.before)}) while requests per day stayed "
            f"level ({ratio_text(volume, 1.0)}).",
            ctx.source,
        ),
        Evidence(
            f"At the earlier price the same tokens would have cost {money(impact)} less since {day(start)}.",
            ctx.source,
        ),
    )
    return [
        Finding(
            root_cause=RootCause.MODEL_SWAP,
            window=Window(start, end),
            impact_nanos=impact,
            confidence=round(min(0.95, 0.7 + 0.1 * min(2.0, math.log(step.ratio) / math.log(2))), 2),
            summary=(
                f"{on_key}Usage moved from {from_model} to {to_model} ({was}) on {day(start)}; the pricier "
                f"model added {money(impact)}."
            ),
            evidence=facts,
            figures={
                "impact": plain(impact),
                "date": day(start),
                "change_date": day(start),
                "to_model": to_model,
                "from_model": from_model,
                "price_per_mtok_before": f"{step.before * per_m:.2f}",
                "price_per_mtok_after": f"{step.after * per_m:.2f}",
                "volume_ratio": f"{volume:.2f}",
            },
            models=(to_model, from_model) if from_model != to_model else (to_model,),
            key_ids=(sig.key_id,) if sig.key_id else (),
        )
    ]


def key_swaps(ctx: Context) -> list[Finding]:
    """Model swaps on single keys, for when the account's mix hides them.

    Another key's new traffic on a cheap model can pull the account's average price back
    down (a swap on the backend key, then a dev key carrying thousands of requests of the
    small model), and then no account-wide step exists. Each key with more than one model
    and spend in scope is read on its own.
    """
    p = ctx.profile
    s0 = max(0, p.day_index(ctx.scope.start))
    out: list[Finding] = []
    for key_id in sorted(p.keys, key=lambda k: (-int(p.keys[k].cost[s0:].sum()), k)):
        if int(p.keys[key_id].cost[s0:].sum()) < ctx.min_impact_nanos or len(p.models_of_key(key_id)) < 2:
            continue
        out += model_swap(ctx, signals(p, key_id))
    return out


def context_bloat(ctx: Context, sig: Signals) -> list[Finding]:
    import numpy as np

    p = ctx.profile
    step = find_step(sig.per_request, 0, p.n_days, earliest=_earliest(ctx))
    if step is None or step.ratio < BLOAT_RATIO:
        return []
    volume = _volume_ratio(sig, step)
    if not 0.6 <= volume <= 1.6:
        return []
    lo = max(0, step.day - LOOKBACK_DAYS)
    mix_before = float(np.nanmedian(sig.mix[lo : step.day]))
    mix_after = float(np.nanmedian(sig.mix[step.day :]))
    if not mix_before or not 0.8 <= mix_after / mix_before <= 1.25:
        return []
    t = sig.total
    impact = _bloat_impact(t, lo, step.day, p.n_days)
    if impact < ctx.min_impact_nanos:
        return []

    def per_req(arr: Any, a: int, b: int) -> float:
        r = float(t.requests[a:b].sum())
        return float(arr[a:b].sum()) / r if r else 0.0

    inp_b, inp_a = per_req(t.input + t.cached, lo, step.day), per_req(t.input + t.cached, step.day, p.n_days)
    out_b, out_a = per_req(t.output, lo, step.day), per_req(t.output, step.day, p.n_days)
    start = at_day(p.day0 + step.day)
    grew = "input (prompt)" if inp_a - inp_b >= out_a - out_b else "output"
    facts = (
        Evidence(
            f"From {day(start)} requests averaged {step.after:,.0f} tokens, up from {step.before:,.0f} "
            f"({ratio_text(step.after, step.before)}): prompt {inp_b:,.0f} → {inp_a:,.0f}, output "
            f"{out_b:,.0f} → {out_a:,.0f} tokens per request.",
            ctx.source,
        ),
        Evidence(
            f"Requests per day stayed level ({ratio_text(volume, 1.0)}) and the model mix did not change.",
            ctx.source,
        ),
        Evidence(f"The extra tokens cost {money(impact)} since {day(start)}.", ctx.source),
    )
    return [
        Finding(
            root_cause=RootCause.CONTEXT_BLOAT,
            window=Window(start, ctx.as_of),
            impact_nanos=impact,
            confidence=round(min(0.9, 0.65 + 0.1 * min(2.5, math.log(step.ratio) / math.log(2))), 2),
            summary=(
                f"Requests grew from about {step.before:,.0f} to {step.after:,.0f} tokens each on {day(start)} "
                f"({grew} tokens), with the same number of requests; that added {money(impact)}."
            ),
            evidence=facts,
            figures={
                "impact": plain(impact),
                "date": day(start),
                "change_date": day(start),
                "tokens_per_request_before": f"{step.before:.0f}",
                "tokens_per_request_after": f"{step.after:.0f}",
                "input_tokens_per_request_before": f"{inp_b:.0f}",
                "input_tokens_per_request_after": f"{inp_a:.0f}",
                "output_tokens_per_request_before": f"{out_b:.0f}",
                "output_tokens_per_request_after": f"{out_a:.0f}",
            },
            models=tuple(sorted(p.models)),
        )
    ]


def _bloat_impact(t: Daily, lo: int, change: int, end: int) -> int:
    """Cost since ``change`` minus what each day would cost at the earlier tokens per request.

    Exact in fractions: day d would have cost ``cost_d · (req_d · T₀) / tokens_d`` with
    ``T₀`` the earlier tokens per request; only days with more tokens than that count.
    """
    req_b, tok_b = int(t.requests[lo:change].sum()), int(t.tokens[lo:change].sum())
    if not req_b:
        return 0
    extra = Fraction(0)
    for d in range(change, end):
        cost, req, tok = int(t.cost[d]), int(t.requests[d]), int(t.tokens[d])
        if tok and req and tok * req_b > req * tok_b:
            extra += cost - Fraction(cost * req * tok_b, tok * req_b)
    return max(0, math.floor(extra))


@dataclass(frozen=True, slots=True)
class Comparison:
    """Current vs the like-for-like previous stretch, per day: requests, cost, tokens/request, mix."""

    days_now: int
    days_before: int
    requests_now: float
    requests_before: float
    cost_now: int
    cost_before: int
    per_request_now: float
    per_request_before: float
    mix_now: float
    mix_before: float

    @property
    def extra_nanos(self) -> int:
        """Cost now above the earlier daily rate carried over the same number of days."""
        if not self.days_before:
            return 0
        return self.cost_now - (self.cost_before * self.days_now) // self.days_before


def compare(ctx: Context, sig: Signals) -> Comparison | None:
    import numpy as np

    a0, a1 = ctx.days(ctx.against)
    c0, c1 = ctx.days(ctx.current)
    if a1 <= a0 or c1 <= c0:
        return None
    # Only days when the account existed count for the earlier stretch.
    first_day = int(np.flatnonzero(sig.requests + sig.total.failed > 0)[0]) if (sig.requests > 0).any() else 0
    a0 = max(a0, first_day)
    if a1 <= a0:
        return None

    def mix(a: int, b: int) -> float:
        tok = float(np.nansum(sig.tokens[a:b]))
        return float(np.nansum(sig.mix[a:b] * sig.tokens[a:b])) / tok if tok else 0.0

    def per_req(a: int, b: int) -> float:
        r = float(sig.requests[a:b].sum())
        return float(sig.tokens[a:b].sum()) / r if r else 0.0

    return Comparison(
        days_now=c1 - c0,
        days_before=a1 - a0,
        requests_now=float(sig.requests[c0:c1].sum()),
        requests_before=float(sig.requests[a0:a1].sum()),
        cost_now=int(sig.total.cost[c0:c1].sum()),
        cost_before=int(sig.total.cost[a0:a1].sum()),
        per_request_now=per_req(c0, c1),
        per_request_before=per_req(a0, a1),
        mix_now=mix(c0, c1),
        mix_before=mix(a0, a1),
    )


def traffic_growth(ctx: Context, sig: Signals, cmp: Comparison | None) -> list[Finding]:
    """Volume up with the same tokens per request and mix: real growth (the fallback cause)."""
    import numpy as np

    if cmp is None or not cmp.requests_before or not cmp.cost_before:
        return []
    if cmp.days_before < 7:
        # Less than a week to compare with: two weekend days in five make any weekday month
        # look like growth. A rate needs every day of the week on both sides.
        return []
    rate_now = cmp.requests_now / cmp.days_now
    rate_before = cmp.requests_before / cmp.days_before
    cost_ratio = (cmp.cost_now / cmp.days_now) / (cmp.cost_before / cmp.days_before)
    volume = rate_now / rate_before if rate_before else math.inf
    tpr = cmp.per_request_now / cmp.per_request_before if cmp.per_request_before else math.inf
    mix = cmp.mix_now / cmp.mix_before if cmp.mix_before else math.inf
    impact = cmp.extra_nanos
    if volume < 1.25 or cost_ratio < 1.25 or not 0.8 <= tpr <= 1.25 or not 0.8 <= mix <= 1.25:
        return []
    if impact < ctx.min_impact_nanos:
        return []
    c0, c1 = ctx.days(ctx.current)
    daily_extra = sig.total.cost[c0:c1] - cmp.cost_before / cmp.days_before
    if daily_extra.max(initial=0) > 0.5 * impact and cmp.days_now > 3:
        return []  # one day carries the increase: a burst, not growth
    thirds = np.array_split(sig.requests[c0:c1], 3) if c1 - c0 >= 6 else []
    steady = bool(len(thirds) == 3 and thirds[0].mean() <= thirds[1].mean() <= thirds[2].mean())
    period = ctx.current.label
    facts = (
        Evidence(
            f"Requests per day rose from {rate_before:,.0f} ({ctx.against.label}) to {rate_now:,.0f} ({period}), "
            f"{ratio_text(volume, 1.0)}; spend per day {ratio_text(cost_ratio, 1.0)}.",
            ctx.source,
        ),
        Evidence(
            f"Tokens per request ({cmp.per_request_before:,.0f} → {cmp.per_request_now:,.0f}) and the model mix "
            "stayed the same.",
            ctx.source,
        ),
        Evidence(f"At the earlier daily rate {period} would have cost {money(impact)} less.", ctx.source),
    )
    return [
        Finding(
            root_cause=RootCause.TRAFFIC_GROWTH,
            window=Window(ctx.current.start, min(ctx.as_of, ctx.current.end)),
            impact_nanos=impact,
            confidence=0.7 if steady else 0.6,
            summary=(
                f"More requests: {rate_now:,.0f} a day in {period} against {rate_before:,.0f} before "
                f"({ratio_text(volume, 1.0)}), same size and models, adding {money(impact)}."
            ),
            evidence=facts,
            figures={
                "impact": plain(impact),
                "date": day(ctx.current.start),
                "requests_per_day_before": f"{rate_before:.0f}",
                "requests_per_day_after": f"{rate_now:.0f}",
                "volume_ratio": f"{volume:.2f}",
                "tokens_per_request_ratio": f"{tpr:.2f}",
                "mix_ratio": f"{mix:.2f}",
            },
        )
    ]


def dev_key(ctx: Context, cmp: Comparison | None) -> list[Finding]:
    """A development/CI key whose new, production-like traffic explains the increase."""
    import numpy as np

    if cmp is None or not cmp.days_before:
        return []
    account_extra = cmp.extra_nanos
    p = ctx.profile
    c0, c1 = ctx.days(ctx.current)
    a0, a1 = ctx.days(ctx.against)
    prod = [k.id for k in ctx.keys if k.environment == "production" and k.id in p.by_key]
    out: list[Finding] = []
    for info in ctx.keys:
        if info.environment not in DEV_ENVIRONMENTS or info.id not in p.keys:
            continue
        d = p.keys[info.id]
        now = int(d.cost[c0:c1].sum())
        before = int(d.cost[a0:a1].sum())
        extra = now - (before * cmp.days_now) // cmp.days_before
        if extra < ctx.min_impact_nanos or account_extra <= 0:
            continue
        # A minor share of the increase still counts when the key's own traffic jumped: beside
        # a costly model swap, a dev key on a cheap model explains little but is a cause. Its
        # requests, not its spend: a swap that reaches every key multiplies the dev key's
        # spend too without putting any new traffic on it.
        req_now, req_before = int(d.requests[c0:c1].sum()), int(d.requests[a0:a1].sum())
        jumped = req_now * cmp.days_before >= 3 * req_before * cmp.days_now
        if extra < 0.3 * account_extra and not (jumped and extra >= 0.05 * account_extra):
            continue
        # A change on the key, not in the calendar: a few days into a month the stretch compared
        # with may hold a weekend fewer, so its rate must also beat the key's usual of the four
        # weeks before (all weekdays in them).
        usual_days = d.requests[max(0, c0 - LOOKBACK_DAYS) : c0]
        if len(usual_days) and req_now * len(usual_days) < 2 * int(usual_days.sum()) * (c1 - c0):
            continue
        hourly = p.by_key[info.id].requests[c0 * 24 : c1 * 24].astype(np.float64)
        total = float(hourly.sum())
        if not total:
            continue
        by_hod = hourly.reshape(-1, 24).sum(axis=0)
        days = hourly.reshape(-1, 24).sum(axis=1)
        weekdays = np.array([(p.day0 + c0 + i + 3) % 7 < 5 for i in range(len(days))])
        weekday_share = float(days[weekdays].sum()) / total
        business = float(hourly.reshape(-1, 24)[weekdays][:, 8:19].sum()) / total
        top4 = float(np.sort(by_hod)[-4:].sum()) / total
        active_days = int((days > 0).sum())
        similar = 0.0
        if prod:
            ref = sum(p.by_key[k].requests[c0 * 24 : c1 * 24].astype(np.float64) for k in prod)
            ref_hod = np.asarray(ref).reshape(-1, 24).sum(axis=0)
            denom = float(np.linalg.norm(ref_hod) * np.linalg.norm(by_hod))
            similar = float(ref_hod @ by_hod) / denom if denom else 0.0
        ci_like = top4 >= 0.7 and active_days >= 5
        office = business >= 0.6 and weekday_share >= 0.8
        like_prod = similar >= 0.85
        sustained = active_days >= 0.6 * len(days)
        patterns = [
            name
            for name, ok in (
                ("business hours", office),
                ("a fixed daily schedule like a CI job", ci_like and not office),
                ("the same hours as the production keys", like_prod),
                ("steady traffic every day", sustained),
            )
            if ok
        ]
        if not patterns:
            continue
        prior = d.requests[max(0, c0 - LOOKBACK_DAYS) : c0]
        usual = float(np.median(prior)) if len(prior) else 0.0
        started = c0
        for i in range(max(0, c0 - LOOKBACK_DAYS), c1):
            if d.requests[i] > max(3 * usual, 1):
                started = i
                break
        start = at_day(p.day0 + started)
        # more than the whole increase when other keys spent less: say so, not "115%"
        share = pct(extra, account_extra) if extra <= account_extra else "more than all"
        env = info.environment + (" (guessed from its name)" if info.environment_guessed else "")
        facts = (
            Evidence(f"Key {info.id} ({info.name or 'unnamed'}) is a {env} key.", ctx.key_source(info.id)),
            Evidence(
                f"It cost {money(now)} in {ctx.current.label} against {money(before)} in {ctx.against.label}; "
                f"{money(extra)} more, {share} of the account's increase.",
                ctx.source,
            ),
            Evidence(
                f"Its traffic since {day(start)} looks like production: {', '.join(patterns)} "
                f"({pct(business * total, total)} in weekday business hours, active {active_days} of {len(days)} days).",
                ctx.source,
            ),
        )
        confidence = 0.85 if (office or like_prod or ci_like) else 0.65
        if info.environment_guessed:
            confidence -= 0.15
        out.append(
            Finding(
                root_cause=RootCause.DEV_KEY_IN_PRODUCTION,
                window=Window(start, ctx.as_of),
                impact_nanos=extra,
                confidence=round(confidence, 2),
                summary=(
                    f"The {info.environment} key {info.id} has carried production-like traffic since {day(start)}, "
                    f"adding {money(extra)} ({share} of the increase)."
                ),
                evidence=facts,
                figures={
                    "impact": plain(extra),
                    "date": day(start),
                    "key_id": info.id,
                    "environment": info.environment or "",
                    "key_cost_now": plain(now),
                    "key_cost_before": plain(before),
                    "business_hours_share": f"{business:.2f}",
                    "active_days": str(active_days),
                },
                key_ids=(info.id,),
            )
        )
    return out
