"""A small, deterministic usage log with known causes, in the contract's columns.

August to October 2026 for one org:

- ``key_prod`` (production): weekday business hours, ~6 requests an hour on gpt-4o-mini,
  moved to gpt-4o from 9 October (a model swap);
- ``key_dev`` (development): a trickle until 15 October, then production-like traffic
  every day from 08:00 to 18:00 (a dev key in production);
- a retry storm on 20 October 14:00–14:30 on ``key_prod``: three bodies sent again and
  again within the same minutes, mostly answered 500;
- a runaway loop on 25 October 02:00–06:00 on ``key_prod``: 2,000 distinct requests spread
  evenly over four quiet hours.

Rows are plain dicts (``ts`` as RFC 3339 text, no ``cost``: the price table costs them).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

START = datetime(2026, 8, 1, tzinfo=UTC)
END = datetime(2026, 11, 1, tzinfo=UTC)
SWAP = datetime(2026, 10, 9, tzinfo=UTC)
DEV_FROM = datetime(2026, 10, 15, tzinfo=UTC)
STORM = datetime(2026, 10, 20, 14, tzinfo=UTC)
LOOP = datetime(2026, 10, 25, 2, tzinfo=UTC)
KEYS = [
    {"id": "key_prod", "name": "backend", "environment": "production"},
    {"id": "key_dev", "name": "laptop", "environment": "development"},
]


def make_rows(seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    n = 0

    def add(
        ts: datetime,
        key: str,
        model: str,
        *,
        status: int = 200,
        fp: str | None = None,
        ip: str = "203.0.113.7",
    ) -> None:
        nonlocal n
        n += 1
        out.append(
            {
                "ts": ts.isoformat().replace("+00:00", "Z"),
                "request_id": f"req_{n:06d}",
                "key_id": key,
                "model": model,
                "input_tokens": rng.randint(9000, 11000),
                "output_tokens": rng.randint(1800, 2200),
                "cached_tokens": 0,
                "requests": 1,
                "status": status,
                "fingerprint": fp or f"fp_{n:06d}",
                "ip": ip,
            }
        )

    day = START
    while day < END:
        weekday = day.weekday() < 5
        for hour in range(24):
            at = day + timedelta(hours=hour)
            if weekday and 8 <= hour < 18:
                model = "gpt-4o" if at >= SWAP else "gpt-4o-mini"
                for _ in range(rng.randint(5, 7)):
                    add(at + timedelta(seconds=rng.randint(0, 3599)), "key_prod", model)
            if at >= DEV_FROM and 8 <= hour < 18:
                for _ in range(rng.randint(18, 22)):
                    add(
                        at + timedelta(seconds=rng.randint(0, 3599)),
                        "key_dev",
                        "gpt-4o-mini",
                        ip="198.51.100.4",
                    )
            elif weekday and 10 <= hour < 16 and rng.random() < 0.3:
                add(at + timedelta(seconds=rng.randint(0, 3599)), "key_dev", "gpt-4o-mini", ip="198.51.100.4")
        day += timedelta(days=1)
    for i in range(600):
        at = STORM + timedelta(seconds=(i * 3) % 1800)
        add(at, "key_prod", "gpt-4o", status=500 if rng.random() < 0.8 else 200, fp=f"storm_{i % 3}")
    for i in range(2000):
        add(LOOP + timedelta(seconds=i * 7.2), "key_prod", "gpt-4o")
    out.sort(key=lambda r: (r["ts"], r["request_id"]))
    return out


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
