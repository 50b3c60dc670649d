"""Racing clients and seeded trials, shared by tests/gateway/test_race.py, test_sigkill.py and
bench/gateway_race.py.

A trial: a fresh org whose credit pays for a few hundred requests (some trials also under a hard
limit below the credit), ``clients`` concurrent clients spread over the gateways, each sending
requests (seeded: max_tokens, streaming or not) until the gateway refuses it for money. Then the
books are read back and every invariant checked (``harness.check_exactly_once``).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gateway.harness import (
    COMPLETION_TOKENS,
    MODEL,
    PROMPT_TOKENS,
    Answer,
    Conn,
    Gateway,
    OrgFacts,
    check_exactly_once,
    open_leases,
    org_facts,
    request_id,
    seed_org,
    wait_quiet,
    wait_settled,
)
from quotadesk.billing.pricing import DEFAULT_TABLE
from quotadesk.store.books import Books

NANOS = 10**9


def request_cost(input_tokens: int, output_tokens: int) -> int:
    """Nano-dollars of one request of MODEL at the default price table."""
    return DEFAULT_TABLE.cost_nanos(MODEL, input_tokens, output_tokens)


def dollars(nanos: int) -> str:
    return str(Decimal(nanos) / NANOS)


@dataclass
class Outcome:
    """What the clients saw: request ids of 200 answers with a full body, and counts by status."""

    admitted: list[str] = field(default_factory=list)
    no_id: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    incomplete: int = 0  # 200 with a cut body (the gateway died mid-answer)
    told: dict[str, Decimal] = field(default_factory=dict)  # request id -> cost the answer stated
    kill_at: int | None = None  # set ``reached`` once this many requests were admitted
    reached: threading.Event = field(default_factory=threading.Event)

    def count(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


def is_billing_refusal(r: Answer) -> bool:
    if r.status == 402:
        return True
    return r.status == 429 and r.headers.get("x-should-retry", "").lower() == "false"


def body(max_tokens: int, stream: bool) -> dict[str, object]:
    out: dict[str, object] = {
        "model": MODEL,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": "Say hello."}],
    }
    if stream:
        out["stream"] = True
    return out


async def one_request(conn: Conn, secret: str, max_tokens: int, stream: bool, out: Outcome) -> Answer | None:
    """Send one chat completion; a 200 counts as admitted only with its full body."""
    try:
        r = await conn.post(
            "/v1/chat/completions", body(max_tokens, stream), {"Authorization": f"Bearer {secret}"}
        )
    except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        out.errors.append(f"{type(exc).__name__}: {exc}")
        return None
    out.count(r.status)
    if r.status != 200:
        return r
    complete = b"data: [DONE]" in r.body if stream else _json_ok(r.body)
    if not complete:
        out.incomplete += 1
        return r
    rid = request_id(r.headers)
    if rid is None:
        out.no_id += 1
    else:
        out.admitted.append(rid)
        cost = _stated_cost(r, stream)
        if cost is not None:
            out.told[rid] = cost
        if out.kill_at is not None and len(out.admitted) >= out.kill_at:
            out.reached.set()
    return r


_STREAM_COST = re.compile(rb"^: quotadesk .*?\bcost=([0-9.]+)", re.M)


def _stated_cost(r: Answer, stream: bool) -> Decimal | None:
    """The cost the answer states: the ``x-quotadesk-cost`` header, or for a stream (whose headers
    left before the cost was known) its closing ``: quotadesk ... cost=...`` comment."""
    if stream:
        m = _STREAM_COST.search(r.body)
        return Decimal(m.group(1).decode()) if m else None
    value = r.headers.get("x-quotadesk-cost")
    return Decimal(value) if value else None


def _json_ok(raw: bytes) -> bool:
    try:
        return bool(json.loads(raw).get("choices"))
    except (ValueError, AttributeError):
        return False


async def race(
    urls: Sequence[str],
    secret: str,
    *,
    clients: int,
    seed: int,
    max_requests: int,
    stream_share: float = 0.25,
    max_tokens: tuple[int, int] = (20, 64),
    give_up_after: int = 3,
    tolerate_errors: int = 0,
    out: Outcome | None = None,
) -> Outcome:
    """``clients`` clients over ``urls``, each until refused for money ``give_up_after`` times in a
    row (holds in flight can refuse a request the remainder pays for once they settle); at most
    ``max_requests`` requests in all. ``max_tokens`` never goes below what the upstream answers, so
    the worst case held always covers the real cost. ``tolerate_errors``: connection errors (a
    gateway being killed and restarted) each client retries past, 20 ms apart, before it stops."""
    out = out if out is not None else Outcome()
    budget = [max_requests]

    async def client_loop(i: int) -> None:
        rng = random.Random(seed * 1_000_003 + i)
        conn = Conn(urls[i % len(urls)])
        try:
            await _loop(rng, conn)
        finally:
            await conn.close()

    async def _loop(rng: random.Random, conn: Conn) -> None:
        refused = errors = 0
        while budget[0] > 0 and refused < give_up_after:
            budget[0] -= 1
            r = await one_request(conn, secret, rng.randint(*max_tokens), rng.random() < stream_share, out)
            if r is None:
                errors += 1
                if errors > tolerate_errors:
                    return
                await asyncio.sleep(0.02)
                continue
            if is_billing_refusal(r):
                refused += 1
                await asyncio.sleep(rng.random() * 0.002)
                continue
            refused = 0
            if r.status != 200:
                out.errors.append(f"status {r.status}: {r.text[:200]}")
                errors += 1
                if errors > tolerate_errors:
                    return

    await asyncio.gather(*(client_loop(i) for i in range(clients)))
    return out


@dataclass(frozen=True)
class Trial:
    """The seeded shape of one trial."""

    seed: int
    credit: int  # nano-dollars
    hard: int | None  # nano-dollars

    @classmethod
    def draw(cls, seed: int) -> Trial:
        rng = random.Random(seed)
        per = request_cost(PROMPT_TOKENS, COMPLETION_TOKENS)
        credit = per * rng.randint(150, 400) + rng.randint(0, per - 1)
        hard = per * rng.randint(60, 140) + rng.randint(0, per - 1) if rng.random() < 0.3 else None
        return cls(seed, credit, hard)


@dataclass
class TrialResult:
    trial: Trial
    outcome: Outcome
    facts: OrgFacts
    broken: list[str]

    @property
    def ok(self) -> bool:
        return not self.broken


def run_trial(
    books: Books,
    urls: Sequence[str],
    trial: Trial,
    *,
    clients: int,
    settle_timeout: float = 20.0,
    victim: Gateway | None = None,
    audit: bool = True,
) -> TrialResult:
    """One seeded trial; with ``victim``, that gateway is SIGKILLed at a seeded moment of the race
    and restarted on the same port (its clients retry past the gap), and the dead process's
    leases must be closed once the new one is ready. ``audit``: run ``verify`` on the whole books
    after this trial (a finding breaks this trial, though an earlier one may have caused it)."""
    org, secret = seed_org(
        books,
        credit=dollars(trial.credit),
        hard=None if trial.hard is None else dollars(trial.hard),
        name=f"race-{trial.seed}",
    )
    per = request_cost(PROMPT_TOKENS, COMPLETION_TOKENS)
    cap = 4 * (trial.credit // per) + 4 * clients
    broken: list[str] = []
    killer = None
    outcome = Outcome()
    if victim is not None:
        # SIGKILL once a seeded share (10-70 %) of what the credit pays for was admitted: mid-race.
        expected = min(trial.credit, trial.hard or trial.credit) // per
        outcome.kill_at = max(1, int(expected * random.Random(trial.seed ^ 0x5EED).uniform(0.1, 0.7)))
        killer = threading.Thread(
            target=_kill_and_restart, args=(victim, books, org, outcome.reached, broken), daemon=True
        )
        killer.start()
    outcome = _run_apart(
        race(
            urls,
            secret,
            clients=clients,
            seed=trial.seed,
            max_requests=cap,
            tolerate_errors=2000 if victim is not None else 0,
            out=outcome,
        )
    )
    if killer is not None:
        outcome.reached.set()  # the race ended first (the trial then kills after it)
        killer.join()
    wait_settled(books.engine, org, settle_timeout)
    quiet = wait_quiet(books.engine, org, outcome.admitted, settle_timeout)
    facts = org_facts(books.engine, org, audit=audit)
    broken += check_exactly_once(facts, outcome.admitted, trial.hard, unanswered_ok=victim is not None)
    if victim is None:
        told = sum(outcome.told.values(), Decimal(0)) * NANOS
        if len(outcome.told) != len(outcome.admitted):
            broken.append(f"{len(outcome.admitted) - len(outcome.told)} admitted answers stated no cost")
        elif told != facts.event_cost:
            broken.append(f"the answers stated ${told / NANOS} in all but ${dollars(facts.event_cost)} was settled")
    if not quiet:
        broken.append(f"the books were still missing admitted settles or moving {settle_timeout:g} s after the race")
    if outcome.no_id:
        broken.append(f"{outcome.no_id} answers 200 without a request id header")
    if outcome.errors and victim is None:
        broken.append(f"{len(outcome.errors)} client errors, e.g. {outcome.errors[:2]}")
    if not outcome.admitted:
        broken.append("no request was admitted at all")
    return TrialResult(trial, outcome, facts, broken)


def _kill_and_restart(
    victim: Gateway, books: Books, org: str, reached: threading.Event, broken: list[str]
) -> None:
    reached.wait(60)
    dead = victim.pids()
    victim.kill()
    try:
        victim.start()
    except RuntimeError as exc:
        broken.append(f"the killed gateway did not come back: {exc}")
        return
    stale = [
        lease
        for lease in open_leases(books.engine, org)
        if any(f":{pid}:" in str(lease.get("holder", "")) for pid in dead)
    ]
    if stale:
        broken.append(f"{len(stale)} leases of the killed process still open after its restart was ready")


def _run_apart(coro: Any) -> Any:
    """``asyncio.run`` in a thread of its own: a test earlier in the session (the browser tests)
    may leave an event loop running in the main thread, where ``asyncio.run`` is refused."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
