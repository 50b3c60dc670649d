"""Desk service speed, against a baseline measured in the same run (the machine is shared and noisy).

A real ``quotadesk serve`` on a free port, driven by one keep-alive HTTP client, on books holding:
- an org with a month of usage (``--usage-rows``, 10k by default): ``POST /api/v1/cases`` for it,
  each with a different ticket, process warm (targets: p50 <= 50 ms, p99 <= 200 ms); the first,
  cold request is reported apart;
- a queue of ``--cases`` cases (10k): ``GET /api/v1/cases`` pages (target p50 <= 20 ms);
- an org with ``--events`` timeline events (100k): ``GET /api/v1/orgs/{org}/timeline`` (p50 <= 20 ms).

Each figure is printed with its ratio to ``GET /healthz`` on the same server and connection (the
cost of an HTTP round trip here). Run: ``.venv/bin/python bench/desk.py [--db URL] [--requests N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
from sqlalchemy import insert

from quotadesk.store.access import SYSTEM
from quotadesk.store.books import Books
from quotadesk.store.db import transaction
from quotadesk.store.metering import UsageEvent
from quotadesk.store.schema import cases, credit_grants, notices, payments
from quotadesk.store.staff import add_staff

NOW = datetime.now(UTC).replace(microsecond=0)
TICKETS = [
    "Why is our bill so much higher this month? Nothing changed on our side.",
    "Our API calls started failing with 402 this morning.",
    "I think someone is using our key, there are requests from countries we are not in.",
    "We hit a limit and everything stopped, can you raise it?",
    "Please refund the charges from last week, they were a mistake in our code.",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def seed(url: str, usage_rows: int, n_cases: int, n_events: int) -> dict[str, Any]:
    books = Books.open(url)
    rng = random.Random(7)
    busy = books.create_org(SYSTEM, NOW - timedelta(days=120), name="Busy")
    books.grant_credit(SYSTEM, NOW - timedelta(days=100), busy, "100000.00", kind="promotional")
    key = books.create_key(SYSTEM, NOW - timedelta(days=100), busy, name="prod", environment="production")
    step = timedelta(days=30) / max(1, usage_rows)
    batch = []
    for i in range(usage_rows):
        ts = NOW - timedelta(days=30) + step * i
        batch.append(
            UsageEvent(
                f"u{i}",
                busy,
                rng.choice(("gpt-4o-mini", "gpt-4o")),
                ts,
                rng.randint(200, 3000),
                rng.randint(20, 600),
                key_id=key.id,
                fingerprint=f"f{rng.randint(0, 9999)}",
            )
        )
        if len(batch) == 5000:
            books.record_usage_batch(NOW, batch, recharge=False)
            batch = []
    if batch:
        books.record_usage_batch(NOW, batch, recharge=False)
    long = books.create_org(SYSTEM, NOW - timedelta(days=3000), name="Long history")
    triage = json.dumps(
        {
            "incident": "payment_failure",
            "root_cause": "credits_exhausted",
            "route": "none",
            "evidence": [],
            "reply": "Hi",
            "fix": [],
            "recommendations": [],
        }
    )
    with transaction(books.engine) as conn:
        conn.execute(
            insert(cases),
            [
                {
                    "id": f"case_b{i:06d}",
                    "org_id": None,
                    "provider": "generic",
                    "status": ("open", "escalated")[i % 2],
                    "team": ("support", "billing_team", "finance")[i % 3],
                    "incident": "payment_failure",
                    "root_cause": "credits_exhausted",
                    "route": "none",
                    "ticket": json.dumps({"id": f"T{i}", "body": "x"}),
                    "triage": triage,
                    "created_at": NOW - timedelta(minutes=n_cases - i),
                    "updated_at": NOW - timedelta(minutes=n_cases - i),
                }
                for i in range(n_cases)
            ],
        )
        third = n_events // 3
        conn.execute(
            insert(notices),
            [
                {"org_id": long, "kind": "credits_low", "at": NOW - timedelta(minutes=3 * i), "detail": "{}"}
                for i in range(third)
            ],
        )
        conn.execute(
            insert(payments),
            [
                {
                    "id": f"pay_b{i:07d}",
                    "org_id": long,
                    "at": NOW - timedelta(minutes=3 * i + 1),
                    "amount": 10**10,
                    "purpose": "top_up",
                    "status": ("succeeded", "failed")[i % 2],
                    "failure_code": None if i % 2 == 0 else "card_declined",
                }
                for i in range(third)
            ],
        )
        conn.execute(
            insert(credit_grants),
            [
                {
                    "id": f"cg_b{i:07d}",
                    "org_id": long,
                    "kind": "purchased",
                    "amount": 10**10,
                    "remaining": 0,
                    "granted_at": NOW - timedelta(minutes=3 * i + 2),
                }
                for i in range(n_events - 2 * third)
            ],
        )
    token = add_staff(books.engine, SYSTEM, NOW, "bench admin", "admin").token
    books.close()
    return {"busy": busy, "long": long, "token": token}


def timed(client: httpx.Client, method: str, path: str, n: int, body: Any = None) -> list[float]:
    out = []
    for i in range(n):
        payload = body(i) if callable(body) else body
        t0 = time.perf_counter()
        r = client.request(method, path, json=payload)
        out.append(time.perf_counter() - t0)
        if r.status_code >= 300:
            raise SystemExit(f"{method} {path}: {r.status_code} {r.text[:300]}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", help="Books URL (default: a fresh SQLite file)")
    ap.add_argument("--usage-rows", type=int, default=10_000)
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="quotadesk-bench-desk-")
    url = args.db or f"sqlite:///{Path(tmp.name) / 'books.db'}"
    t0 = time.perf_counter()
    data = seed(url, args.usage_rows, args.cases, args.events)
    print(
        f"seeded in {time.perf_counter() - t0:.1f} s: {args.usage_rows} usage rows, {args.cases} cases, "
        f"{args.events} timeline events ({url.split(':')[0]})"
    )
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "quotadesk.cli", "serve", "--db", url, "--port", str(port)],
        env={**os.environ, "QUOTADESK_USAGE_DIR": str(Path(tmp.name) / "usage")},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {data['token']}"}, timeout=60
        ) as c:
            for _ in range(300):
                try:
                    if c.get("/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            n = args.requests
            health = timed(c, "GET", "/healthz", n)
            base_p50 = statistics.median(health)

            def case_body(i: int) -> dict[str, Any]:
                return {
                    "ticket": {"subject": f"#{i}", "body": TICKETS[i % len(TICKETS)] + f" (ticket {i})"},
                    "org_id": data["busy"],
                }

            cold = timed(c, "POST", "/api/v1/cases", 1, case_body)[0]
            warm = timed(c, "POST", "/api/v1/cases", n, case_body)
            queue = timed(c, "GET", "/api/v1/cases?status=open&team=support&limit=50", n)
            deep = timed(c, "GET", "/api/v1/cases?limit=50&sort=newest", n)
            tl = timed(c, "GET", f"/api/v1/orgs/{data['long']}/timeline?limit=200", n)
        rows = [
            ("GET /healthz (baseline)", health, None, None),
            (f"POST /cases, org of {args.usage_rows} usage rows (warm)", warm, 0.050, 0.200),
            ("GET /cases?status=open&team=support (10k queue)", queue, 0.020, None),
            ("GET /cases?sort=newest", deep, 0.020, None),
            (f"GET /orgs/{{org}}/timeline ({args.events} events)", tl, 0.020, None),
        ]
        print(f"{'figure':<58} {'p50':>9} {'p99':>9} {'x base':>8}  target")
        for name, values, t50, t99 in rows:
            p50, p99 = statistics.median(values), _pct(values, 0.99)
            verdict = ""
            if t50 is not None:
                ok = p50 <= t50 and (t99 is None or p99 <= t99)
                verdict = f"p50 <= {t50 * 1000:.0f} ms" + (f", p99 <= {t99 * 1000:.0f} ms" if t99 else "")
                verdict += ": PASS" if ok else ": FAIL"
            print(f"{name:<58} {p50 * 1000:7.1f}ms {p99 * 1000:7.1f}ms {p50 / base_p50:8.1f}  {verdict}")
        print(f"first POST /cases for the org (cold: the usage analysed): {cold * 1000:.0f} ms")
        print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        tmp.cleanup()


if __name__ == "__main__":
    main()
