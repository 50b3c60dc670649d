"""Concurrency cannot overspend: 32 workers race for the last $1.00, as threads and as processes.

Each worker admits a request estimated at $0.15 (1M gpt-4o-mini input tokens) and settles it
at that cost. Exactly six fit in $1.00; the other 26 must be refused, the settled spend must
be $0.90, every admitted request must be posted exactly once and the books must verify.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from quotadesk.billing.decision import Deny, Rule
from quotadesk.store import ledger, migrations
from quotadesk.store.access import SYSTEM
from quotadesk.store.admission import Admitted
from quotadesk.store.books import Books
from quotadesk.store.db import make_engine
from quotadesk.store.schema import usage_events

NOW = datetime(2026, 11, 14, 9, 0, tzinfo=UTC)
WORKERS = 32
FAST = {"gpt-4o-mini": {"rpm": 100_000, "tpm": 100_000_000}}


def _worker(url: str, secret: str, n: int, barrier: Callable[[], object] | None = None) -> str:
    books = Books(make_engine(url))
    try:
        if barrier is not None:
            barrier()
        result = books.admit(NOW, secret=secret, model="gpt-4o-mini", input_tokens=1_000_000)
        if isinstance(result, Deny):
            return f"deny:{result.rule}"
        assert isinstance(result, Admitted)
        books.settle(NOW, result.hold.id, input_tokens=1_000_000, output_tokens=0, request_id=f"race-{n}")
        return "ok"
    finally:
        books.close()


def _process_worker(args: tuple[str, str, int]) -> str:
    return _worker(*args)


def _setup(url: str) -> tuple[str, str]:
    engine = make_engine(url)
    migrations.upgrade(engine)
    books = Books(engine)
    org = books.create_org(SYSTEM, NOW, free_trial="1.00", trial_days=None, rate_limits=FAST)
    key = books.create_key(SYSTEM, NOW, org)
    books.close()
    return org, key.secret


def _check(url: str, org: str, outcomes: list[str]) -> None:
    assert outcomes.count("ok") == 6, outcomes
    assert outcomes.count(f"deny:{Rule.CREDITS_EXHAUSTED}") == WORKERS - 6, outcomes
    books = Books(make_engine(url))
    try:
        with books.engine.connect() as conn:
            assert ledger.balance(conn, f"spend:{org}:2026-11") == 900_000_000
            assert conn.execute(select(func.count()).select_from(usage_events)).scalar() == 6
        assert sum(g.remaining for g in books.organization(org).credit_grants) == 100_000_000
        assert books.verify().ok
    finally:
        books.close()


@pytest.mark.slow
def test_threads_race_for_the_last_dollar(db_url: str) -> None:
    org, secret = _setup(db_url)
    barrier = threading.Barrier(WORKERS)
    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(lambda n: _worker(db_url, secret, n, barrier.wait), range(WORKERS)))
    _check(db_url, org, outcomes)


@pytest.mark.slow
def test_processes_race_for_the_last_dollar(db_url: str) -> None:
    org, secret = _setup(db_url)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(WORKERS) as pool:
        outcomes = pool.map(_process_worker, [(db_url, secret, n) for n in range(WORKERS)], chunksize=1)
    _check(db_url, org, outcomes)
