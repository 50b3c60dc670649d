"""Scenarios for the detector tests: (rows, analyse kwargs) per cause, variant and row kind.

Each cause has three variants: ``clean`` (a strong signal on a steady baseline), ``noisy``
(a weaker signal, noisier baseline, extra keys and stray failures) and ``none`` (a look-
alike that must not be reported). ``bucketed`` makes hourly buckets instead of one row
per request. Dates: usage from 2026-09-01; the ticket looks at October (as_of 2026-11-03).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from usage_synth import START, Log, Traffic, always, business

AS_OF = datetime(2026, 11, 3, 10, tzinfo=UTC)
END = datetime(2026, 11, 1, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class Scenario:
    rows: list[dict[str, Any]]
    kwargs: dict[str, Any] = field(default_factory=dict)
    as_of: datetime = AS_OF
    date: str | None = None  # the date the finding must name
    figures: dict[str, str] = field(default_factory=dict)


Builder = Callable[[str, bool], Scenario]


def _log(seed: str, bucketed: bool) -> Log:
    return Log(random.Random(seed), bucketed)


def _base(log: Log, variant: str, *, rate: float | None = None, end: datetime = END, **kw: Any) -> Traffic:
    noisy = variant == "noisy"
    per_hour = rate if rate is not None else (40.0 if log.bucketed else 10.0)
    t = Traffic(rate=per_hour, noise=0.3 if noisy else 0.1, fail_share=0.02 if noisy else 0.0, **kw)
    log.traffic(t, START, end)
    if noisy:
        extra = Traffic(
            key="key_batch", model="gpt-4o", rate=per_hour / 4, shape=business, noise=0.4, ip="203.0.113.20"
        )
        log.traffic(extra, START, end)
    return t


def runaway_loop(variant: str, bucketed: bool) -> Scenario:
    log = _log(f"loop-{variant}-{bucketed}", bucketed)
    _base(log, variant)
    if variant == "none":
        # A one-off busy day: 2.5× the usual traffic on 2026-10-14, and nothing else.
        busy = Traffic(rate=(40.0 if bucketed else 10.0) * 1.5, noise=0.1)
        log.traffic(busy, at("2026-10-14"), at("2026-10-15"))
        return Scenario(log.rows)
    per_hour = (40 if bucketed else 10) * (60 if variant == "clean" else 12)
    log.loop(at("2026-10-14T02:00"), 5, per_hour, key="key_worker", model="gpt-4o", ip="203.0.113.10")
    return Scenario(log.rows, date="2026-10-14")


def retry_storm(variant: str, bucketed: bool) -> Scenario:
    log = _log(f"retry-{variant}-{bucketed}", bucketed)
    _base(log, variant)
    if variant == "none":
        # Weekly seasonality and a scattering of 429s, but no storm.
        log.traffic(Traffic(rate=3, fail_share=0.5, noise=0.2), at("2026-10-06"), at("2026-10-09"))
        return Scenario(log.rows)
    bodies, per_minute, fail = (20, 6, 0.7) if variant == "clean" else (8, 4, 0.55)
    log.retries(
        at("2026-10-08T16:00"), 45, bodies, per_minute, key="key_prod", model="gpt-4o", fail_share=fail
    )
    return Scenario(log.rows, date="2026-10-08")


def model_swap(variant: str, bucketed: bool) -> Scenario:
    log = _log(f"swap-{variant}-{bucketed}", bucketed)
    swap_at = at("2026-10-12")
    rng = random.Random(f"mix-{variant}-{bucketed}")
    if variant == "none":
        # Mix wobbles day to day (15–35% on the pricier model) but never steps.
        day_share: dict[str, float] = {}

        def wobble(h: datetime) -> str:
            key = h.strftime("%Y-%m-%d")
            share = day_share.setdefault(key, rng.uniform(0.15, 0.35))
            return "gpt-4o" if rng.random() < share else "gpt-4o-mini"

        t = Traffic(rate=40.0 if bucketed else 10.0, noise=0.15)
        log.traffic(t, START, END, model_at=wobble)
        return Scenario(log.rows)
    moved = 1.0 if variant == "clean" else 0.6

    def model_at(h: datetime) -> str:
        if h >= swap_at and rng.random() < moved:
            return "claude-sonnet"
        return "claude-haiku"

    t = Traffic(rate=40.0 if bucketed else 10.0, noise=0.3 if variant == "noisy" else 0.1)
    log.traffic(t, START, END, model_at=model_at)
    if variant == "noisy":
        log.traffic(Traffic(key="key_batch", model="claude-haiku", rate=5, shape=business), START, END)
    return Scenario(log.rows, date="2026-10-12", figures={"to_model": "claude-sonnet"})


def context_bloat(variant: str, bucketed: bool) -> Scenario:
    log = _log(f"bloat-{variant}-{bucketed}", bucketed)
    start = at("2026-10-05")
    rng = random.Random(f"tok-{variant}")
    if variant == "none":
        t = Traffic(rate=40.0 if bucketed else 10.0, noise=0.2)
        log.traffic(t, START, END, tokens_factor=lambda h: rng.uniform(0.8, 1.25))
        return Scenario(log.rows)
    factor = 4.0 if variant == "clean" else 2.2
    t = Traffic(model="gpt-4o", rate=40.0 if bucketed else 10.0, noise=0.3 if variant == "noisy" else 0.1)
    log.traffic(t, START, END, tokens_factor=lambda h: factor if h >= start else 1.0)
    return Scenario(log.rows, date="2026-10-05")


KEYS = [
    {"id": "key_prod", "name": "production", "environment": "production"},
    {"id": "key_dev", "name": "local development", "environment": "development"},
]


def dev_key(variant: str, bucketed: bool) -> Scenario:
    log = _log(f"dev-{variant}-{bucketed}", bucketed)
    base = 40.0 if bucketed else 10.0
    _base(log, variant, shape=business)
    log.traffic(Traffic(key="key_dev", rate=1, shape=business, ip="198.51.100.7"), START, END)
    if variant != "none":
        scale = 1.5 if variant == "clean" else 0.8
        dev = Traffic(key="key_dev", model="gpt-4o", rate=base * scale, shape=business, ip="198.51.100.7")
        log.traffic(dev, at("2026-10-06"), END)
        return Scenario(log.rows, kwargs={"keys": KEYS}, date="2026-10-06", figures={"key_id": "key_dev"})
    return Scenario(log.rows, kwargs={"keys": KEYS})


def traffic_growth(variant: str, bucketed: bool) -> Scenario:
    log = _log(f"growth-{variant}-{bucketed}", bucketed)
    growth = {"clean": 0.025, "noisy": 0.02, "none": 0.003}[variant]
    t = Traffic(
        model="gpt-4o",
        rate=30.0 if bucketed else 8.0,
        growth_per_day=growth,
        noise=0.3 if variant == "noisy" else 0.1,
    )
    log.traffic(t, START, END)
    if variant == "none":
        return Scenario(log.rows)
    return Scenario(log.rows)


def billing_discrepancy(variant: str, bucketed: bool) -> Scenario:
    from quotadesk.money import nanos

    log = _log(f"disc-{variant}-{bucketed}", bucketed)
    _base(log, variant, model="gpt-4o")
    total = sum(nanos(r["cost"]) for r in log.rows if r["ts"].startswith("2026-10"))
    cents = -(-total // 10_000_000) * 10_000_000  # the invoice rounds up to the cent
    extra = {"clean": 25_000_000_000, "noisy": 3_170_000_000, "none": 0}[variant]
    invoices = [
        {
            "id": "in_202610",
            "period_start": at("2026-10-01"),
            "period_end": at("2026-11-01"),
            "amount": cents + extra,
            "status": "open",
        },
    ]
    figures = {"invoice_total": _dollars(cents + extra)} if extra else {}
    return Scenario(
        log.rows, kwargs={"invoices": invoices}, date="2026-10-01" if extra else None, figures=figures
    )


def _dollars(n: int) -> str:
    from quotadesk.money import plain

    return plain(n)


def account_compromise(variant: str, bucketed: bool) -> Scenario:
    log = _log(f"comp-{variant}-{bucketed}", bucketed)
    end = at("2026-11-12")
    as_of = at("2026-11-12T09:00")
    if variant == "none":
        # A move to a new server: from 2026-11-02 the same traffic comes from a new IP.
        _base(log, variant, shape=business, end=at("2026-11-02"))
        t = Traffic(rate=40.0 if bucketed else 10.0, shape=business, ip="203.0.113.99")
        log.traffic(t, at("2026-11-02"), end)
        return Scenario(log.rows, as_of=as_of)
    _base(log, variant, shape=business, end=end)
    n_ips, per_hour = (60, 500) if variant == "clean" else (6, 80)
    rng = random.Random(f"ips-{variant}")
    ips = [f"192.0.2.{rng.randrange(1, 254)}" for _ in range(n_ips)]
    start = at("2026-11-09T00:30")
    for hh in range(3):
        h = start + timedelta(hours=hh)
        if bucketed:
            for ip in ips[: max(1, n_ips // 6)]:
                log.add(
                    h,
                    "key_prod",
                    "o1",
                    2000 * per_hour // max(1, n_ips // 6),
                    500 * per_hour // max(1, n_ips // 6),
                    requests=per_hour // max(1, n_ips // 6),
                    ip=ip,
                )
            continue
        for i in range(per_hour):
            log.add(
                h + timedelta(seconds=int(i * 3600 / per_hour)),
                "key_prod",
                "o1",
                2000,
                500,
                ip=rng.choice(ips),
            )
    return Scenario(log.rows, as_of=as_of, date="2026-11-09")


INCIDENT = ("Elevated error rates on the API", at("2026-10-20T12:50"), at("2026-10-20T14:10"))


def provider_outage_retries(variant: str, bucketed: bool) -> Scenario:
    log = _log(f"outage-{variant}-{bucketed}", bucketed)
    _base(log, variant)
    if variant == "none":
        return Scenario(log.rows, kwargs={"incidents": [INCIDENT]})
    bodies, per_minute = (15, 6) if variant == "clean" else (6, 4)
    log.retries(
        at("2026-10-20T13:00"),
        60,
        bodies,
        per_minute,
        key="key_prod",
        model="gpt-4o",
        fail_share=0.6,
        statuses=(500, 503),
    )
    return Scenario(log.rows, kwargs={"incidents": [INCIDENT]}, date="2026-10-20")


LOG_TEXT = (
    "2026-10-14T02:00:07Z worker[812] INFO start batch 8812\n"
    "2026-10-14T02:13:55Z worker[812] ERROR KeyError 'cursor' -- retrying job 8812\n"
    "2026-10-14T02:13:56Z worker[812] ERROR KeyError 'cursor' -- retrying job 8812 (attempt 2)\n"
)


def code_bug(variant: str, bucketed: bool) -> Scenario:
    log = _log(f"bug-{variant}-{bucketed}", bucketed)
    _base(log, variant)
    if variant == "none":
        return Scenario(log.rows, kwargs={"customer_log_text": LOG_TEXT})
    per_hour = (40 if bucketed else 10) * (60 if variant == "clean" else 12)
    log.loop(at("2026-10-14T02:00"), 4, per_hour, key="key_prod", model="gpt-4o", ip="203.0.113.10")
    text = LOG_TEXT if variant == "clean" else "ERROR: job keeps retrying, stack trace attached\n"
    return Scenario(log.rows, kwargs={"customer_log_text": text}, date="2026-10-14")


def expensive_model(variant: str, bucketed: bool) -> Scenario:
    log = _log(f"exp-{variant}-{bucketed}", bucketed)
    rate = 20.0 if bucketed else 6.0
    if variant == "none":
        _base(log, variant, rate=rate, model="gpt-4o-mini")
        return Scenario(log.rows)
    _base(log, variant, rate=rate, model="o1" if variant == "clean" else "claude-opus")
    return Scenario(log.rows, date="2026-09-01")


def forgot_to_stop(variant: str, bucketed: bool) -> Scenario:
    log = _log(f"forgot-{variant}-{bucketed}", bucketed)
    _base(log, variant, shape=business)
    if variant == "none":
        return Scenario(log.rows)
    rate = (30.0 if bucketed else 8.0) * (1.0 if variant == "clean" else 0.5)
    script = Traffic(key="key_script", model="gpt-4o", rate=rate, shape=always, noise=0.05, ip="203.0.113.10")
    log.traffic(script, at("2026-10-23T15:00"), at("2026-11-03T09:00"))
    return Scenario(log.rows, date="2026-10-23", figures={"key_id": "key_script"})


CAUSES: dict[str, Builder] = {
    "runaway_loop": runaway_loop,
    "retry_storm": retry_storm,
    "model_swap": model_swap,
    "context_bloat": context_bloat,
    "dev_key_in_production": dev_key,
    "traffic_growth": traffic_growth,
    "billing_discrepancy": billing_discrepancy,
    "account_compromise": account_compromise,
    "provider_outage_retries": provider_outage_retries,
    "code_bug": code_bug,
    "expensive_model": expensive_model,
    "forgot_to_stop": forgot_to_stop,
}
