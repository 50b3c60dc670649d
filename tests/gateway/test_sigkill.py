"""SIGKILL one gateway process under load, restart it: no admitted request without its settle, none
settled twice, ledger postings sum to zero, holds and leases resolved (issue #14; the full size,
100 kills, is ``bench/gateway_race.py --kill 100``).

CI size: 5 kills on SQLite and 5 on PostgreSQL. Each kill is one racing trial (a fresh org whose
credit pays for a few hundred requests, 16 clients over two gateway processes); the victim is
killed with SIGKILL once a seeded share of the budget was admitted, restarted on the same port, and
its clients retry past the gap. A client's 200 counts as admitted only with its full body and a
request id. Nothing here asserts a time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("quotadesk.gateway")

from gateway.harness import FakeUpstream, Gateway, open_holds, open_leases
from gateway.racing import Trial, run_trial
from quotadesk.store.books import Books

pytestmark = pytest.mark.slow

KILLS = (11, 12, 13, 14, 15)
CLIENTS = 16



def test_sigkill_under_load_loses_no_settle(db_url: str, tmp_path: Path) -> None:
    books = Books.open(db_url)
    try:
        with (
            FakeUpstream(latency_s=0.003) as up,
            Gateway(db_url, {"openai": up.url}, log=tmp_path / "victim.log", journal_dir=tmp_path) as victim,
            Gateway(db_url, {"openai": up.url}, log=tmp_path / "survivor.log", journal_dir=tmp_path) as survivor,
        ):
            results = [
                run_trial(books, [victim.url, survivor.url], Trial.draw(seed), clients=CLIENTS, victim=victim)
                for seed in KILLS
            ]
        # Both stopped with SIGTERM now: what a graceful stop leaves must be resolved too.
        leases, held = open_leases(books.engine), open_holds(books.engine)
        report = books.verify()
    finally:
        books.close()
    broken = {r.trial.seed: r.broken for r in results if r.broken}
    assert not broken, f"broken invariants by seed: {broken}"
    assert all(r.outcome.admitted for r in results)
    assert held == 0
    assert report.ok, report.to_json()
    assert not leases, f"leases still open after every gateway stopped: {leases}"
