"""Usage-driven test bundles (incidents 2 and 5): a steady account history with one event
injected, built with a seeded generator so each variant differs in figures, dates and shape
(bucketed hourly rows, per-request rows, or both).
"""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from triage_cases import base

PRICES = {
    "gpt-4o-mini": {"input_per_mtok": "0.15", "output_per_mtok": "0.60", "cached_input_per_mtok": "0.075"},
    "gpt-4o": {"input_per_mtok": "2.50", "output_per_mtok": "10.00", "cached_input_per_mtok": "1.25"},
    "o1": {"input_per_mtok": "15.00", "output_per_mtok": "60.00", "cached_input_per_mtok": "7.50"},
    "claude-haiku": {"input_per_mtok": "0.80", "output_per_mtok": "4.00", "cached_input_per_mtok": "0.08"},
    "claude-sonnet": {"input_per_mtok": "3.00", "output_per_mtok": "15.00", "cached_input_per_mtok": "0.30"},
}
START = datetime(2026, 9, 1, tzinfo=UTC)


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Gen:
    """Hourly buckets of a steady business-hours history, plus injected events."""

    def __init__(self, seed: int, *, model: str = "gpt-4o-mini", end: datetime | None = None) -> None:
        self.rng = random.Random(seed)
        self.model = model
        self.end = end or datetime(2026, 11, 1, tzinfo=UTC)
        self.rows: list[dict[str, Any]] = []
        self.n = 0

    def row(
        self,
        ts: datetime,
        *,
        requests: int,
        model: str | None = None,
        tin: int = 900,
        tout: int = 220,
        key: str = "key_a",
        status: int = 200,
        fp: str = "",
        ip: str = "203.0.113.10",
    ) -> None:
        self.n += 1
        self.rows.append(
            {
                "ts": _ts(ts),
                "request_id": f"r{self.n:07d}",
                "key_id": key,
                "model": model or self.model,
                "input_tokens": tin * requests,
                "output_tokens": tout * requests,
                "cached_tokens": 0,
                "requests": requests,
                "status": status,
                "fingerprint": fp,
                "ip": ip,
            }
        )

    def baseline(
        self,
        *,
        until: datetime | None = None,
        scale: float = 1.0,
        model_from: tuple[datetime, str] | None = None,
        tin_from: tuple[datetime, int] | None = None,
        growth: float = 0.0,
    ) -> None:
        t = START
        stop = until or self.end
        while t < stop:
            days = (t - START).days
            level = scale * (1 + growth * days / 60)
            busy = 8 <= t.hour < 20 and t.weekday() < 5
            if busy or self.rng.random() < 0.5:
                req = max(1, int(self.rng.gauss(30 * level, 3))) if busy else self.rng.randint(1, 3)
                model = model_from[1] if model_from and t >= model_from[0] else None
                tin = tin_from[1] if tin_from and t >= tin_from[0] else 900
                self.row(t, requests=req, model=model, tin=tin)
            t += timedelta(hours=1)


def _high_bill(body: str, rows: list[dict[str, Any]], *, invoiced: bool = False) -> dict[str, Any]:
    b = base(body)
    b["as_of"] = b["ticket"]["received_at"] = "2026-11-03T10:00:00Z"
    b["prices"] = copy.deepcopy(PRICES)
    b["usage"] = {"records": rows}
    if invoiced:
        a = b["account"]
        a["billing_mode"] = "invoiced"
        a["credit_grants"] = []
    return b


HIGH_BILL_TEXT = [
    "Our October bill is way higher than September and nothing changed on our side.",
    "why did my invoice jump?? we didnt ship anything new",
    "Costs went up a lot last month, can you explain the charges?",
]


def retry_storm(v: int) -> dict[str, Any]:
    g = Gen(100 + v, model="gpt-4o")
    g.baseline()
    day = datetime(2026, 10, [8, 14, 21][v], 15, tzinfo=UTC)
    for i in range([3000, 4500, 6000][v]):
        ts = day + timedelta(seconds=(i // 20) * 2)
        g.row(ts, requests=1, tin=3000, status=[429, 500, 503][i % 3] if i % 4 else 200, fp=f"fp{i % 20}")
    return _high_bill(HIGH_BILL_TEXT[v], g.rows)


def runaway_loop(v: int) -> dict[str, Any]:
    g = Gen(200 + v)
    g.baseline()
    day = datetime(2026, 10, [9, 16, 23][v], 1, tzinfo=UTC)
    for h in range(8):
        g.row(day + timedelta(hours=h), requests=[900, 1200, 1500][v], key="key_a", fp="")
    return _high_bill(HIGH_BILL_TEXT[v], g.rows)


def model_swap(v: int) -> dict[str, Any]:
    g = Gen(300 + v, model=["gpt-4o-mini", "claude-haiku", "gpt-4o-mini"][v])
    change = datetime(2026, 10, [5, 12, 19][v], tzinfo=UTC)
    g.baseline(model_from=(change, ["gpt-4o", "claude-sonnet", "o1"][v]))
    return _high_bill(HIGH_BILL_TEXT[v], g.rows)


def context_bloat(v: int) -> dict[str, Any]:
    g = Gen(400 + v)
    change = datetime(2026, 10, [3, 10, 17][v], tzinfo=UTC)
    g.baseline(tin_from=(change, [9000, 12000, 7000][v]))
    return _high_bill(HIGH_BILL_TEXT[v], g.rows)


def dev_key(v: int) -> dict[str, Any]:
    g = Gen(500 + v)
    g.baseline()
    t = datetime(2026, 10, [6, 12, 15][v], tzinfo=UTC)
    while t < g.end:
        if 8 <= t.hour < 20 and t.weekday() < 5:
            g.row(t, requests=[90, 120, 70][v], key="key_dev", ip="198.51.100.7")
        t += timedelta(hours=1)
    b = _high_bill(HIGH_BILL_TEXT[v], g.rows)
    b["account"]["api_keys"].append(
        {
            "id": "key_dev",
            "name": "dev-laptop",
            "redacted": "sk-...Dv01",
            "scope": "organization",
            "owner": None,
            "owner_active": True,
            "environment": ["development", "ci", "development"][v],
            "status": "active",
            "created_at": "2026-06-01T00:00:00Z",
            "last_used_at": "2026-10-31T18:00:00Z",
        }
    )
    return b


def traffic_growth(v: int) -> dict[str, Any]:
    g = Gen(600 + v)
    g.baseline(growth=[1.5, 2.0, 1.2][v])
    return _high_bill(HIGH_BILL_TEXT[v], g.rows)


def billing_discrepancy(v: int) -> dict[str, Any]:
    g = Gen(700 + v)
    g.baseline()
    b = _high_bill(
        [
            "The October invoice doesn't match our usage dashboard.",
            "I think I'm being charged incorrectly, the invoice is higher than my usage",
            "invoice amount looks wrong vs usage",
        ][v],
        g.rows,
        invoiced=True,
    )
    b["account"]["invoices"] = [
        {
            "id": "in_2610",
            "period_start": "2026-10-01T00:00:00Z",
            "period_end": "2026-11-01T00:00:00Z",
            "amount": ["250.00", "180.00", "320.00"][v],
            "status": "open",
            "due_at": "2026-11-16T00:00:00Z",
        }
    ]
    return b


def _refund(body: str, rows: list[dict[str, Any]], as_of: str = "2026-11-12T09:00:00Z") -> dict[str, Any]:
    b = base(body)
    b["as_of"] = b["ticket"]["received_at"] = as_of
    b["prices"] = copy.deepcopy(PRICES)
    b["usage"] = {"records": rows}
    return b


def compromise(v: int) -> dict[str, Any]:
    g = Gen(800 + v, end=datetime(2026, 11, 12, tzinfo=UTC))
    g.baseline()
    t = datetime(2026, 11, [9, 10, 8][v], 1, tzinfo=UTC)
    for i in range([1500, 2000, 2500][v]):
        g.row(
            t + timedelta(seconds=4 * i),
            requests=1,
            model="o1",
            tin=2000,
            tout=1500,
            ip=f"192.0.2.{i % 200 + 2}",
        )
    return _refund(
        [
            "Someone used my key without permission! Refund these charges please.",
            "Unauthorized usage on my account last night, I did not make these calls. I want my money back",
            "my api key was leaked on github and someone ran up a huge bill. please refund",
        ][v],
        g.rows,
    )


def outage_retries(v: int) -> dict[str, Any]:
    g = Gen(900 + v, end=datetime(2026, 11, 12, tzinfo=UTC))
    g.baseline()
    start = datetime(2026, 11, [4, 5, 6][v], 14, tzinfo=UTC)
    for i in range(3000):
        g.row(start + timedelta(seconds=i), requests=1, status=503 if i % 5 else 200, fp=f"f{i % 40}")
    b = _refund(
        [
            "During your outage our retries were charged. Can we get those back?",
            "We were billed for failed calls while your API was down, requesting a credit",
            "refund for the outage on the 6th please, our client kept retrying",
        ][v],
        g.rows,
    )
    b["status_page"]["incidents"] = [
        {
            "id": f"inc_9{v}",
            "name": "Elevated API error rates",
            "status": "resolved",
            "impact": "major",
            "created_at": _ts(start - timedelta(minutes=10)),
            "resolved_at": _ts(start + timedelta(hours=1)),
            "components": [{"name": "API"}],
        }
    ]
    return b


def code_bug(v: int) -> dict[str, Any]:
    g = Gen(1000 + v, end=datetime(2026, 11, 12, tzinfo=UTC))
    g.baseline()
    start = datetime(2026, 11, [3, 5, 7][v], 9, tzinfo=UTC)
    for h in range(6):
        g.row(start + timedelta(hours=h), requests=[800, 1000, 1200][v])
    b = _refund(
        [
            "We had a bug in our code that called the API in a loop for hours. Could the charges be reviewed?",
            "a deploy introduced an infinite loop, it burned through our credits. refund possible?",
            "Our worker got stuck re-processing the same queue due to a bug; please reimburse",
        ][v],
        g.rows,
    )
    b["ticket"]["attachments"] = [
        {
            "kind": "log_excerpt",
            "text": f"{_ts(start)} worker: retrying job 4411 (attempt 1)\n"
            f"{_ts(start + timedelta(hours=2))} worker: retrying job 4411 (attempt 9000)\n"
            "ERROR loop detected, job never acknowledged",
        }
    ]
    return b


def expensive_model(v: int) -> dict[str, Any]:
    g = Gen(1100 + v, model="o1", end=datetime(2026, 11, 12, tzinfo=UTC))
    g.baseline()
    return _refund(
        [
            "I used o1 by mistake instead of gpt-4o-mini and got a big bill. Refund?",
            "I chose the most expensive model without realising the price, can I get a refund",
            "switched to o1 and the costs are insane, i want a refund",
        ][v],
        g.rows,
    )


def forgot_to_stop(v: int) -> dict[str, Any]:
    g = Gen(1200 + v, end=datetime(2026, 11, 12, tzinfo=UTC))
    g.baseline(until=datetime(2026, 10, 25, tzinfo=UTC))
    t = datetime(2026, 10, 25, tzinfo=UTC)
    while t < g.end:
        g.row(t, requests=[40, 60, 50][v])
        t += timedelta(hours=1)
    return _refund(
        [
            "I forgot to turn off a test script and it ran for two weeks. Can I get a refund?",
            "left a job running over the holidays by accident, please refund",
            "Forgot to stop our batch job, charged for days of usage we didnt need. refund pls",
        ][v],
        g.rows,
    )


CASES: list[tuple[str, Any, str, str, str]] = [
    ("retry_storm", retry_storm, "unexpected_high_bill", "retry_storm", "none"),
    ("runaway_loop", runaway_loop, "unexpected_high_bill", "runaway_loop", "none"),
    ("model_swap", model_swap, "unexpected_high_bill", "model_swap", "none"),
    ("context_bloat", context_bloat, "unexpected_high_bill", "context_bloat", "none"),
    ("dev_key", dev_key, "unexpected_high_bill", "dev_key_in_production", "none"),
    ("traffic_growth", traffic_growth, "unexpected_high_bill", "traffic_growth", "none"),
    (
        "billing_discrepancy",
        billing_discrepancy,
        "unexpected_high_bill",
        "billing_discrepancy",
        "billing_team",
    ),
    ("compromise", compromise, "refund_request", "account_compromise", "security"),
    ("outage_retries", outage_retries, "refund_request", "provider_outage_retries", "billing_team"),
    ("code_bug", code_bug, "refund_request", "code_bug", "billing_team"),
    ("expensive_model", expensive_model, "refund_request", "expensive_model", "none"),
    ("forgot_to_stop", forgot_to_stop, "refund_request", "forgot_to_stop", "none"),
]


def all_usage_cases() -> list[tuple[str, dict[str, Any], str, str, str]]:
    out = []
    for name, fn, inc, root, route in CASES:
        for v in range(3):
            doc = fn(v)
            doc["ticket"]["id"] = f"{name}-{v}"
            out.append((f"{name}-{v}", doc, inc, root, route))
    return out
