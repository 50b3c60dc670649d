"""Budget leases never let holders together spend past the balance or the hard limit.

A model of the gateway's side (``gateway.budget.OrgBudget``: a reserve, what settled since the
grant was applied, worst-case holds in flight) drives the real ``take_lease`` and
``settle_events`` on the books, with each holder's database work in a FIFO queue of its own (its
writer thread) whose steps interleave with admissions at random. That is the gateway's real
concurrency: a holder keeps admitting against its current grant while a renewal is on its way,
and applies the new grant only when the transaction is back. Whatever the interleaving, the
spend posted to the books may never pass the credit or the hard limit.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from quotadesk.billing.pricing import DEFAULT_TABLE
from quotadesk.store import leases, ledger
from quotadesk.store.access import SYSTEM
from quotadesk.store.books import Books
from quotadesk.store.db import transaction
from quotadesk.store.metering import UsageEvent

MODEL = "gpt-4o-mini"
PROMPT = 60
NOW = datetime(2026, 11, 14, 9, 0, tzinfo=UTC)


def _cost(output: int) -> int:
    return DEFAULT_TABLE.cost_nanos(MODEL, PROMPT, output)


@dataclass
class Holder:
    """One gateway process as ``gateway.budget`` keeps it, and its writer's queue."""

    name: str
    lease_id: str | None = None
    reserve: int = 0
    settled_total: int = 0
    settled_base: int = 0
    inflight: dict[int, int] = field(default_factory=dict)  # request -> worst case held
    queue: deque[tuple[str, object]] = field(default_factory=deque)
    renewing: bool = False
    grant: tuple[leases.LeaseGrant, int] | None = None  # back from the writer, not applied yet

    @property
    def left(self) -> int:
        return self.reserve - (self.settled_total - self.settled_base) - sum(self.inflight.values())


def _org(engine: Engine, credit: str, hard: str | None) -> str:
    books = Books(engine)
    org = books.create_org(SYSTEM, NOW, name="leases", trial_days=None)
    books.grant_credit(SYSTEM, NOW, org, credit, kind="goodwill", reason="lease model")
    if hard is not None:
        books.set_limits(SYSTEM, NOW, org, soft=None, hard=hard)
    return org


def _spent(engine: Engine, org: str) -> int:
    with transaction(engine) as conn:
        return ledger.balance(conn, ledger.spend_account(org, NOW.replace(day=1)))


def run_model(engine: Engine, seed: int, steps: int = 400) -> tuple[int, int]:
    """Random interleavings of admissions, finishes, renewals and writer steps; returns
    (the most ever posted as spend, the bound it must stay under)."""
    rng = random.Random(seed)
    per = _cost(20)
    credit = per * rng.randint(20, 60) + rng.randint(0, per)
    hard = per * rng.randint(10, 40) + rng.randint(0, per) if rng.random() < 0.4 else None
    org = _org(engine, f"{credit / 10**9:.9f}", None if hard is None else f"{hard / 10**9:.9f}")
    bound = credit if hard is None else min(credit, hard)
    holders = [Holder("gw-a"), Holder("gw-b")]
    extra = per * rng.choice([1, 4, 16, 1000])
    clock = NOW
    next_request = 0
    worst = 0

    def queue_take(h: Holder, need: int) -> None:
        h.renewing = True
        h.queue.append(("take", (h.settled_total, sum(h.inflight.values()) + need)))

    # Each holder's writer runs at its own pace (a slow commit, a lock wait on the other side),
    # so renewals stay out for a while and admissions pile up against the old grant.
    pace = {h.name: rng.choice([0.02, 0.1, 0.3]) for h in holders}
    for _ in range(steps):
        clock += timedelta(milliseconds=rng.randint(0, 3))
        h = rng.choice(holders)
        op = rng.random()
        if rng.random() < pace[h.name] and h.queue:
            op = 0.8  # the writer's turn
        elif op >= 0.7 and op < 0.92:
            op = 0.95 if h.grant is not None else rng.random() * 0.7
        if op < 0.35:  # a request arrives
            hold = _cost(rng.randint(20, 64))
            if h.lease_id is None and not h.renewing:
                queue_take(h, hold)
            elif h.lease_id is not None and h.left >= hold:
                next_request += 1
                h.inflight[next_request] = hold
            elif not h.renewing:
                queue_take(h, hold)
        elif op < 0.6 and h.inflight:  # a request finishes: settled at or below its hold
            rid = rng.choice(sorted(h.inflight))
            hold = h.inflight.pop(rid)
            out = rng.randint(0, 20)
            cost = min(hold, _cost(out))
            h.settled_total += cost
            h.queue.append(("settle", (rid, out, cost, h.lease_id)))
        elif op < 0.7 and h.lease_id is not None and not h.renewing:  # periodic upkeep renewal
            queue_take(h, _cost(rng.randint(20, 64)))
        elif op < 0.92 and h.queue:  # the writer commits the next queued operation
            kind, arg = h.queue.popleft()
            with transaction(engine) as conn:
                if kind == "take":
                    mark, need = arg  # type: ignore[misc]
                    g = leases.take_lease(conn, clock, org, h.name, need, extra=extra, lease_id=h.lease_id)
                    h.grant = (g, mark)
                else:
                    rid, out, cost, lid = arg  # type: ignore[misc]
                    event = UsageEvent(f"{org}-r{rid}", org, MODEL, clock, PROMPT, out, hold_id=lid)
                    leases.settle_events(conn, clock, [event], {lid: cost} if lid else {})
            worst = max(worst, _spent(engine, org))
        elif h.grant is not None:  # the loop applies the grant that came back
            g, mark = h.grant
            h.lease_id, h.reserve, h.settled_base = g.lease_id, g.reserve, mark
            h.grant, h.renewing = None, False
    # drain: every request finishes, every queued operation commits
    for h in holders:
        for rid in sorted(h.inflight):
            cost = h.inflight.pop(rid)
            h.queue.append(("settle", (rid, 20, min(cost, _cost(20)), h.lease_id)))
        while h.queue:
            kind, arg = h.queue.popleft()
            if kind != "settle":
                continue
            rid, out, cost, lid = arg  # type: ignore[misc]
            with transaction(engine) as conn:
                event = UsageEvent(f"{org}-r{rid}", org, MODEL, clock, PROMPT, out, hold_id=lid)
                leases.settle_events(conn, clock, [event], {lid: cost} if lid else {})
    return max(worst, _spent(engine, org)), bound


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32))
def test_no_interleaving_of_renewals_and_admissions_overspends(sqlite_engine: Engine, seed: int) -> None:
    spent, bound = run_model(sqlite_engine, seed)
    assert spent <= bound, f"seed {seed}: {spent} posted past the bound {bound}"


@pytest.mark.parametrize("seed", range(6))
def test_leases_on_both_databases(engine: Engine, seed: int) -> None:
    spent, bound = run_model(engine, 1000 + seed, steps=250)
    assert spent <= bound


def test_a_renewal_never_shrinks_what_the_lease_still_reserves(sqlite_engine: Engine) -> None:
    """The holder may have admitted up to its old reserve before the renewal's answer is back."""
    org = _org(sqlite_engine, "1.00", None)
    with transaction(sqlite_engine) as conn:
        first = leases.take_lease(conn, NOW, org, "gw-a", 1_000, extra=400_000_000)
    assert first.reserve == 1_000 + (10**9 - 1_000) // 4
    with transaction(sqlite_engine) as conn:
        again = leases.take_lease(conn, NOW, org, "gw-a", 10, extra=0, lease_id=first.lease_id)
        other = leases.take_lease(conn, NOW, org, "gw-b", 10**9, extra=0)
    assert again.lease_id == first.lease_id and again.reserve == first.reserve
    assert other.reserve == 10**9 - first.reserve  # only what the first holder does not reserve
