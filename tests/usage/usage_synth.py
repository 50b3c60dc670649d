"""Seeded synthetic usage logs: a steady baseline plus injected events, per request or bucketed.

Every generator takes a ``random.Random`` so a test's data is fixed by its seed. Rows
follow the case-bundle contract (``ts`` RFC 3339, ``cost`` decimal string of dollars
computed with the project's price table, or left out to exercise pricing).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from quotadesk.billing.pricing import DEFAULT_TABLE
from quotadesk.money import from_nanos

Row = dict[str, Any]
START = datetime(2026, 9, 1, tzinfo=UTC)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cost_text(model: str, inp: int, out: int, cached: int = 0, status: int = 200) -> str:
    if status >= 400:
        return "0"
    return str(from_nanos(DEFAULT_TABLE.cost_nanos(model, inp, out, cached)))


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1


def business(h: datetime) -> float:
    """Office traffic: weekdays 09:00–18:00 UTC."""
    return 1.0 if h.weekday() < 5 and 9 <= h.hour < 18 else 0.0


def daytime(h: datetime) -> float:
    """Every day 07:00–21:00 UTC, lighter at weekends (weekly seasonality)."""
    if not 7 <= h.hour < 21:
        return 0.0
    return 0.45 if h.weekday() >= 5 else 1.0


def always(h: datetime) -> float:
    return 1.0


@dataclass
class Traffic:
    """A stream of requests from one key: rate per active hour, shape, model and sizes."""

    key: str = "key_prod"
    model: str = "gpt-4o-mini"
    rate: float = 30.0
    shape: Callable[[datetime], float] = daytime
    tokens_in: int = 900
    tokens_out: int = 250
    ip: str = "203.0.113.10"
    noise: float = 0.1
    growth_per_day: float = 0.0
    fail_share: float = 0.0


@dataclass
class Log:
    """Rows being built; ``bucketed`` makes one row per hour and status instead of per request."""

    rng: random.Random
    bucketed: bool
    rows: list[Row] = field(default_factory=list)
    counter: int = 0
    priced: bool = True

    def _rid(self, prefix: str = "req") -> str:
        self.counter += 1
        return f"{prefix}_{self.counter:07d}"

    def add(
        self,
        ts: datetime,
        key: str,
        model: str,
        inp: int,
        out: int,
        *,
        requests: int = 1,
        status: int = 200,
        fingerprint: str | None = None,
        ip: str = "203.0.113.10",
        cached: int = 0,
    ) -> None:
        row: Row = {
            "ts": iso(ts),
            "request_id": self._rid("bkt" if requests > 1 else "req"),
            "key_id": key,
            "model": model,
            "input_tokens": inp,
            "output_tokens": out,
            "cached_tokens": cached,
            "requests": requests,
            "status": status,
            "fingerprint": fingerprint if fingerprint is not None else ("" if requests > 1 else self.body()),
            "ip": ip,
        }
        if self.priced:
            row["cost"] = cost_text(model, inp, out, cached, status)
        self.rows.append(row)

    def body(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"

    def traffic(
        self,
        t: Traffic,
        start: datetime,
        end: datetime,
        *,
        model_at: Callable[[datetime], str] | None = None,
        tokens_factor: Callable[[datetime], float] | None = None,
    ) -> None:
        """Baseline traffic hour by hour from ``start`` to ``end``."""
        h = start
        while h < end:
            days = (h - START).total_seconds() / 86400
            lam = t.rate * t.shape(h) * (1 + t.growth_per_day) ** days
            n = poisson(self.rng, lam * max(0.0, self.rng.gauss(1.0, t.noise)))
            model = model_at(h) if model_at else t.model
            factor = tokens_factor(h) if tokens_factor else 1.0
            if n:
                self._emit(h, t, n, model, factor)
            h += timedelta(hours=1)

    def _emit(self, h: datetime, t: Traffic, n: int, model: str, factor: float) -> None:
        failed = sum(1 for _ in range(n) if self.rng.random() < t.fail_share)
        ok = n - failed
        if self.bucketed:
            if ok:
                inp = int(ok * t.tokens_in * factor * self.rng.uniform(0.9, 1.1))
                out = int(ok * t.tokens_out * self.rng.uniform(0.9, 1.1))
                self.add(h, t.key, model, inp, out, requests=ok, ip=t.ip)
            if failed:
                self.add(h, t.key, model, 0, 0, requests=failed, status=429, ip=t.ip)
            return
        for i in range(n):
            ts = h + timedelta(seconds=self.rng.randrange(3600))
            inp = max(1, int(self.rng.gauss(t.tokens_in * factor, t.tokens_in * factor * 0.2)))
            out = max(1, int(self.rng.gauss(t.tokens_out, t.tokens_out * 0.2)))
            status = 429 if i < failed else 200
            self.add(
                ts,
                t.key,
                model,
                0 if status >= 400 else inp,
                0 if status >= 400 else out,
                status=status,
                ip=t.ip,
            )

    # --- injected events ---------------------------------------------------------------------------

    def loop(
        self,
        start: datetime,
        hours: int,
        per_hour: int,
        *,
        key: str,
        model: str,
        ip: str,
        inp: int = 1500,
        out: int = 300,
    ) -> None:
        """A runaway loop: distinct requests, spread evenly, all succeeding."""
        for hh in range(hours):
            h = start + timedelta(hours=hh)
            if self.bucketed:
                self.add(h, key, model, inp * per_hour, out * per_hour, requests=per_hour, ip=ip)
                continue
            for i in range(per_hour):
                ts = h + timedelta(seconds=int(i * 3600 / per_hour))
                self.add(ts, key, model, inp, out, ip=ip)

    def retries(
        self,
        start: datetime,
        minutes: int,
        bodies: int,
        per_minute: int,
        *,
        key: str,
        model: str,
        fail_share: float,
        ip: str = "203.0.113.10",
        statuses: tuple[int, ...] = (429, 500, 503),
    ) -> None:
        """A retry storm: the same bodies re-sent every few seconds, mostly failing."""
        fps = [self.body() for _ in range(bodies)]
        if self.bucketed:
            total = bodies * per_minute * minutes
            hours = max(1, math.ceil(minutes / 60))
            for hh in range(hours):
                n = total // hours
                bad = int(n * fail_share)
                h = start + timedelta(hours=hh)
                self.add(h, key, model, 0, 0, requests=bad, status=statuses[0], ip=ip, fingerprint="")
                self.add(
                    h, key, model, (n - bad) * 2500, (n - bad) * 300, requests=n - bad, ip=ip, fingerprint=""
                )
            return
        for m in range(minutes):
            for fp in fps:
                for r in range(per_minute):
                    ts = start + timedelta(minutes=m, seconds=r * (60 // max(1, per_minute)))
                    status = self.rng.choice(statuses) if self.rng.random() < fail_share else 200
                    ok = status < 400
                    self.add(
                        ts,
                        key,
                        model,
                        2500 if ok else 0,
                        300 if ok else 0,
                        status=status,
                        fingerprint=fp,
                        ip=ip,
                    )


def days(n: int) -> timedelta:
    return timedelta(days=n)
