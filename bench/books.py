"""Benchmark of the books: batched metering and admit+settle latency, on SQLite and PostgreSQL.

    .venv/bin/python bench/books.py [--events 100000] [--batch 10000] [--latency 300]
                                    [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test | --no-pg]

Each figure is printed with a baseline measured in the same run on the same database, so the
ratio means something on any machine:

* metering: ``Books.record_usage_batch`` (validation, exact cost, idempotency check, grant
  consumption, one balanced ledger transaction per org and batch, cached balances) against a
  plain ``executemany`` INSERT of the same rows into a table with no keys or constraints;
* latency: ``admit`` + ``settle`` of one request (each its own transaction, org locked) against
  a one-row INSERT + COMMIT.

Afterwards ``verify`` must find no drift. PostgreSQL runs in a fresh schema, dropped at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, text

from quotadesk.store import migrations
from quotadesk.store.access import SYSTEM
from quotadesk.store.admission import Admitted
from quotadesk.store.books import Books
from quotadesk.store.db import make_engine
from quotadesk.store.metering import UsageEvent

NOW = datetime(2026, 11, 14, 9, 0, tzinfo=UTC)
ORGS = 10
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BASELINE_DDL = (
    "CREATE TABLE bench_baseline (request_id VARCHAR(200), org_id VARCHAR(64), model VARCHAR(200), "
    "ts VARCHAR(40), input_tokens BIGINT, output_tokens BIGINT, cost BIGINT)"
)


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="qd-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'books.db'}"


@contextmanager
def pg_url(base: str) -> Iterator[str]:
    schema = f"qd_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def events(orgs: list[str], n: int) -> list[UsageEvent]:
    return [
        UsageEvent(
            request_id=f"req-{i:09d}",
            org_id=orgs[i % len(orgs)],
            model=("gpt-4o-mini", "claude-sonnet", "gemini-flash")[i % 3],
            ts=NOW + timedelta(microseconds=i),
            input_tokens=500 + i % 1000,
            output_tokens=50 + i % 200,
            cached_tokens=i % 7 * 10,
        )
        for i in range(n)
    ]


def baseline_insert(engine: Engine, evs: list[UsageEvent], batch: int) -> float:
    """rows/s of a plain driver executemany into a keyless table, one transaction per batch."""
    sqlite_db = engine.dialect.name == "sqlite"
    mark = "?" if sqlite_db else "%s"
    sql = f"INSERT INTO bench_baseline VALUES ({', '.join([mark] * 7)})"
    with engine.begin() as conn:
        conn.execute(text(BASELINE_DDL))
    start = time.perf_counter()
    for s in range(0, len(evs), batch):
        rows = [
            (e.request_id, e.org_id, e.model, e.ts.isoformat(), e.input_tokens, e.output_tokens, 0)
            for e in evs[s : s + batch]
        ]
        with engine.begin() as conn:
            conn.exec_driver_sql(sql, rows)
    return len(evs) / (time.perf_counter() - start)


def percentiles(samples: list[float]) -> tuple[float, float]:
    qs = statistics.quantiles(samples, n=100, method="inclusive")
    return qs[49], qs[98]


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def run(label: str, url: str, n: int, batch: int, latency_n: int) -> bool:
    engine = make_engine(url)
    migrations.upgrade(engine)
    books = Books(engine)
    orgs = [books.create_org(SYSTEM, NOW, free_trial="1000000", trial_days=None) for _ in range(ORGS)]
    evs = events(orgs, n)

    base = baseline_insert(engine, evs, batch)
    print(f"{label:10s} baseline: plain executemany insert       {base:>12,.0f} rows/s")

    start = time.perf_counter()
    posted = 0
    for s in range(0, n, batch):
        posted += books.record_usage_batch(NOW, evs[s : s + batch]).posted
    rate = n / (time.perf_counter() - start)
    assert posted == n, (posted, n)
    print(
        f"{label:10s} record_usage_batch ({batch}/batch)    {rate:>12,.0f} events/s  ({rate / base:.2f}x baseline)"
    )

    start = time.perf_counter()
    replay = books.record_usage_batch(NOW, evs[:batch])
    replay_rate = batch / (time.perf_counter() - start)
    assert replay.posted == 0 and replay.duplicates == batch
    print(f"{label:10s} replay of a posted batch (all skipped) {replay_rate:>12,.0f} events/s")

    fast = {"gpt-4o-mini": {"rpm": 10_000_000, "tpm": 10_000_000_000}}
    org = books.create_org(SYSTEM, NOW, free_trial="1000000", trial_days=None, rate_limits=fast)
    secret = books.create_key(SYSTEM, NOW, org).secret

    def admit_settle() -> None:
        result = books.admit(NOW, secret=secret, model="gpt-4o-mini", input_tokens=1000, output_tokens=100)
        assert isinstance(result, Admitted), result
        books.settle(NOW, result.hold.id, input_tokens=900, output_tokens=80)

    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_single (id VARCHAR(64), amount BIGINT)"))

    def single_insert() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO bench_single VALUES (:i, 1)"), {"i": uuid.uuid4().hex})

    timed(admit_settle, 10)  # warm-up: statement caches, connection pool
    pairs = timed(admit_settle, latency_n)
    singles = timed(single_insert, latency_n)
    p50, p99 = percentiles(pairs)
    b50, b99 = percentiles(singles)
    print(
        f"{label:10s} admit+settle latency                   p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
        f"  (baseline 1-row insert+commit p50 {b50:.2f} ms p99 {b99:.2f} ms; {p50 / b50:.1f}x at p50)"
    )

    start = time.perf_counter()
    report = books.verify()
    print(
        f"{label:10s} verify after the run: {'no drift' if report.ok else 'DRIFT'} "
        f"({report.counts['usage_events']:,} events, {report.counts['postings']:,} postings, "
        f"{time.perf_counter() - start:.2f} s)"
    )
    for f in report.findings:
        print(f"           [{f.code}] {f.message}")
    books.close()
    return report.ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--latency", type=int, default=300, help="admit+settle samples")
    parser.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL URL (a scratch schema is created in it)")
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args(argv)
    print(f"quotadesk books benchmark: {args.events:,} events, batches of {args.batch:,}, {ORGS} orgs")
    ok = True
    with sqlite_url() as url:
        ok &= run("sqlite", url, args.events, args.batch, args.latency)
    if not args.no_pg:
        try:
            with pg_url(args.pg) as url:
                ok &= run("postgresql", url, args.events, args.batch, args.latency)
        except Exception as exc:  # the server may simply be down: say so, do not hide it
            print(f"postgresql skipped or failed: {exc}")
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
