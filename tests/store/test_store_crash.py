"""Crash safety: a process SIGKILLed in the middle of a batch leaves every event fully posted
or absent, and replaying the batches posts exactly the missing ones.

The child posts batches of events for two organizations. During the third batch, after the
first organization's share is written and before the second's, it tells the parent and
blocks on a pipe; the parent kills it there with SIGKILL. No sleeps: the pipe is the clock.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from quotadesk.store import metering, migrations
from quotadesk.store.access import SYSTEM
from quotadesk.store.books import Books
from quotadesk.store.db import make_engine
from quotadesk.store.metering import UsageEvent
from quotadesk.store.schema import usage_events

NOW = datetime(2026, 11, 14, 9, 0, tzinfo=UTC)
BATCHES = 5
PER_ORG = 40
KILL_IN_BATCH = 2


def _batches(orgs: list[str]) -> list[list[UsageEvent]]:
    return [
        [
            UsageEvent(
                request_id=f"b{b}-{org}-{i}",
                org_id=org,
                model="gpt-4o-mini",
                ts=NOW + timedelta(seconds=b),
                input_tokens=1000 + i,
                output_tokens=10,
            )
            for org in orgs
            for i in range(PER_ORG)
        ]
        for b in range(BATCHES)
    ]


def _child(url: str, orgs: list[str], ready_w: int, block_r: int) -> None:
    original = metering._post_org
    calls = {"n": 0}

    def post_then_maybe_hang(*args: object, **kwargs: object) -> metering.OrgPosting:
        result = original(*args, **kwargs)  # type: ignore[arg-type]
        calls["n"] += 1
        if calls["n"] == KILL_IN_BATCH * len(orgs) + 1:  # first org of the batch written, not committed
            os.write(ready_w, b"x")
            os.read(block_r, 1)  # never written: the parent kills us here
        return result

    metering._post_org = post_then_maybe_hang  # type: ignore[assignment]
    books = Books(make_engine(url))
    for batch in _batches(orgs):
        books.record_usage_batch(NOW, batch)
    os._exit(3)  # pragma: no cover - only reached if the kill never came


@pytest.mark.slow
def test_sigkill_mid_batch_then_replay(db_url: str) -> None:
    engine = make_engine(db_url)
    migrations.upgrade(engine)
    books = Books(engine)
    orgs = sorted(books.create_org(SYSTEM, NOW, free_trial="100.00") for _ in range(2))
    engine.dispose()

    ready_r, ready_w = os.pipe()
    block_r, block_w = os.pipe()
    proc = multiprocessing.get_context("fork").Process(target=_child, args=(db_url, orgs, ready_w, block_r))
    proc.start()
    assert os.read(ready_r, 1) == b"x"
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    assert proc.exitcode == -signal.SIGKILL
    for fd in (ready_r, ready_w, block_r, block_w):
        os.close(fd)

    batches = _batches(orgs)
    with engine.connect() as conn:
        present = set(conn.execute(select(usage_events.c.request_id)).scalars())
    for b, batch in enumerate(batches):
        ids = {e.request_id for e in batch}
        assert (ids <= present) if b < KILL_IN_BATCH else not (ids & present), f"batch {b}"
    report = books.verify()
    assert report.ok, report.findings

    missing = sum(1 for batch in batches for e in batch if e.request_id not in present)
    replayed = [books.record_usage_batch(NOW, batch) for batch in batches]
    assert sum(r.posted for r in replayed) == missing == (BATCHES - KILL_IN_BATCH) * PER_ORG * len(orgs)
    assert sum(r.duplicates for r in replayed) == KILL_IN_BATCH * PER_ORG * len(orgs)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(usage_events)).scalar() == BATCHES * PER_ORG * 2
    assert books.verify().ok
    engine.dispose()
