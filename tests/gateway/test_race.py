"""Racing clients across two gateway processes on one key never overspend, and every admitted
request is settled exactly once (issue #14; the full size is bench/gateway_race.py).

CI size: a few seeded trials of 16 clients over 2 gateway processes, on SQLite and PostgreSQL
(under CI=true a missing PostgreSQL fails). Each trial is a fresh org whose credit pays for a few
hundred requests, a third of them also under a hard limit below the credit. Nothing here asserts
a time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("quotadesk.gateway")

from gateway.harness import FakeUpstream, Gateway
from gateway.racing import Trial, run_trial
from quotadesk.store.books import Books

pytestmark = pytest.mark.slow

SEEDS = (1, 2, 3, 4)
CLIENTS = 16



def test_racing_clients_on_two_gateways_never_overspend(db_url: str, tmp_path: Path) -> None:
    books = Books.open(db_url)
    try:
        with (
            FakeUpstream(latency_s=0.002) as up,
            Gateway(db_url, {"openai": up.url}, log=tmp_path / "gw1.log", journal_dir=tmp_path) as gw1,
            Gateway(db_url, {"openai": up.url}, log=tmp_path / "gw2.log", journal_dir=tmp_path) as gw2,
        ):
            results = [
                run_trial(books, [gw1.url, gw2.url], Trial.draw(seed), clients=CLIENTS) for seed in SEEDS
            ]
    finally:
        books.close()
    broken = {r.trial.seed: r.broken for r in results if r.broken}
    assert not broken, f"broken invariants by seed: {broken}"
    # The races were real: every trial admitted requests on both sides of the budget.
    for r in results:
        assert r.outcome.admitted
        assert sum(n for s, n in r.outcome.statuses.items() if s != 200) > 0, r.outcome.statuses
    assert any(r.trial.hard is not None for r in results)  # a hard limit below the credit was raced too
