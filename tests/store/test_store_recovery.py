"""Recovery is part of the books: ``books tick`` killed with SIGKILL during an auto-recharge.

A real ``python -m quotadesk.cli books tick`` runs as a child with the test hook
``QUOTADESK_TEST_PAUSE_AFTER`` (``store.testhook``): it stops after the pending charge is
committed (``charge_pending``) or after the processor charged (``charge_made``), says so on
stderr, and is killed there with SIGKILL (the line is the clock: no sleeps). Then, on SQLite
files and on PostgreSQL:

- before recovery, ``books verify`` reports the charge left pending (exit 1);
- the next tick, whatever its ``--now`` (the same, an earlier or a later one), finishes it:
  credited exactly once (one payment, one grant), or failed with no credit for a declining card;
- ``books verify`` is then clean, and the same tick again changes no row of any table.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import MetaData, select

from quotadesk.billing.model import GrantKind, PaymentStatus
from quotadesk.store.access import SYSTEM
from quotadesk.store.books import Books
from quotadesk.store.testhook import ENV

NOW = datetime(2026, 11, 14, 9, 0, tzinfo=UTC)
CRASH = NOW + timedelta(days=3)
AT = {"same": CRASH, "earlier": CRASH - timedelta(days=1), "later": CRASH + timedelta(hours=2)}
CARDS = {"ok": "4242424242424242", "declines": "4000000000000341"}

pytestmark = pytest.mark.slow


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quotadesk.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def _tick_killed_at(url: str, point: str, now: datetime) -> None:
    """Run ``books tick`` until the hook stops it at ``point``, then SIGKILL it."""
    env = {**os.environ, ENV: point}
    proc = subprocess.Popen(
        [sys.executable, "-m", "quotadesk.cli", "books", "tick", "--now", now.isoformat(), "--db", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stderr is not None
    seen = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stderr, selectors.EVENT_READ)
        while f"paused after {point}".encode() not in seen:
            if not sel.select(timeout=120):  # a guard against a hung child, not a timing assertion
                proc.kill()
                pytest.fail(f"the child never paused: {seen!r}")
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                proc.wait()
                pytest.fail(f"the child ended before pausing (rc {proc.returncode}): {seen!r}")
            seen += chunk
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    proc.stderr.close()


def _dump(books: Books) -> dict[str, list[str]]:
    """Every row of every table of the books, as text, sorted: to compare two states."""
    meta = MetaData()
    meta.reflect(books.engine)
    with books.engine.connect() as conn:
        return {t.name: sorted(repr(tuple(r)) for r in conn.execute(select(t))) for t in meta.sorted_tables}


def _setup(url: str, card: str) -> tuple[Books, str]:
    books = Books.open(url)
    org = books.create_org(SYSTEM, NOW, free_trial="5.00")
    books.add_payment_method(SYSTEM, NOW, org, card, 12, 2030)
    books.set_auto_recharge(SYSTEM, NOW, org, enabled=True, threshold="10.00", amount="20.00")
    return books, org


def _recharges(books: Books, org: str) -> tuple[list[Any], list[Any]]:
    o = books.organization(org)
    pays = [p for p in o.payments if p.purpose == "auto_recharge"]
    grants = [g for g in o.credit_grants if g.kind == GrantKind.AUTO_RECHARGE]
    return pays, grants


@pytest.mark.parametrize("card", sorted(CARDS))
@pytest.mark.parametrize("point", ["charge_pending", "charge_made"])
@pytest.mark.parametrize("when", sorted(AT))
def test_a_killed_recharge_is_finished_by_the_next_tick(
    db_url: str, point: str, when: str, card: str
) -> None:
    books, org = _setup(db_url, CARDS[card])
    _tick_killed_at(db_url, point, CRASH)

    pays, grants = _recharges(books, org)
    assert [p.status for p in pays] == [PaymentStatus.PENDING] and grants == []
    later = (CRASH + timedelta(hours=1)).isoformat()
    stale = _cli("books", "verify", "--now", later, "--db", db_url, "--json")
    assert stale.returncode == 1, stale.stderr
    codes = [f["code"] for f in json.loads(stale.stdout)["findings"]]
    assert codes == ["stale_pending_payment"]

    tick = _cli("books", "tick", "--now", AT[when].isoformat(), "--db", db_url, "--json")
    assert tick.returncode == 0, tick.stderr
    assert json.loads(tick.stdout)["counts"].get("charges_resumed") == 1

    pays, grants = _recharges(books, org)
    assert len(pays) == 1, "the crashed charge was finished, not charged anew"
    if card == "ok":
        assert pays[0].status == PaymentStatus.SUCCEEDED
        assert [g.amount for g in grants] == [20_000_000_000]
        assert grants[0].granted_at >= pays[0].at  # never dated before its charge
    else:
        assert pays[0].status == PaymentStatus.FAILED and pays[0].failure_code == "card_declined"
        assert grants == []
    clean = _cli("books", "verify", "--now", later, "--db", db_url)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert books.verify(CRASH + timedelta(days=1)).ok

    before = _dump(books)
    again = _cli("books", "tick", "--now", AT[when].isoformat(), "--db", db_url, "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["counts"] == {}, again.stdout
    assert _dump(books) == before
    books.close()


def test_recover_is_what_a_service_calls_on_start_up(db_url: str) -> None:
    books, _ = _setup(db_url, CARDS["ok"])
    _tick_killed_at(db_url, "charge_pending", CRASH)
    finished = books.recover(CRASH)
    assert [p.status for p in finished] == [PaymentStatus.SUCCEEDED]
    assert books.recover(CRASH) == []
    assert books.verify(CRASH + timedelta(days=1)).ok
    books.close()


def test_tick_twice_at_the_same_now_changes_nothing(db_url: str) -> None:
    """Without a crash: the first tick recharges and so qualifies the org for a tier; a second
    tick at the same ``--now`` must not then find that upgrade (or another recharge) to do."""
    books = Books.open(db_url)
    org = books.create_org(SYSTEM, NOW, free_trial="1.00")
    books.add_payment_method(SYSTEM, NOW, org, CARDS["ok"], 12, 2030)
    # the recharge does not lift the balance over the threshold: only the instant guard stops a second
    books.set_auto_recharge(SYSTEM, NOW, org, enabled=True, threshold="50.00", amount="20.00")
    at = NOW + timedelta(days=20)
    first = books.tick(at)
    assert first.counts.get("auto_recharges") == 1
    before = _dump(books)
    assert books.tick(at).counts == {}
    assert _dump(books) == before
    assert books.tick(at + timedelta(minutes=1)).counts.get("auto_recharges") == 1  # time moved on
    books.close()
