"""Admission in memory: the rulebook's ``decide`` on a cached organization, paid from a lease.

Each organization this process serves has an ``OrgBudget``: the organization as the books last
showed it (``org``, refreshed with every lease renewal, about once a second while in use), the
lease's ``reserve`` (``store.leases``), what other holders reserve (``others``), this month's
settled spend (``mtd``), and since that snapshot: ``settled`` (cost of requests finished here)
and ``inflight`` (worst-case holds of requests still running here).

``decide`` is called with the figures that make it refuse exactly what could overspend:

* ``held = others + settled + inflight``: the snapshot's balance minus ``held`` is what is
  left for this request, so the balance rule refuses a request whose worst case does not fit;
* ``month_to_date = mtd`` (settled spend at the snapshot): the rulebook's hard-limit rule counts
  ``held`` and this request's worst case against the limit itself, as it does for the balance,
  so a request that *could* carry spend past the limit is refused whatever the concurrency.

An Allow is then paid from the lease: ``reserve - settled - inflight`` must cover the worst
case; if it does not, the lease is renewed first (one transaction, the only database wait on
the request path, and only when a slice runs out) and ``decide`` runs again on the fresh snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Connection

from quotadesk.billing.decision import Allow, Decision, Deny
from quotadesk.billing.model import BillingMode, Organization
from quotadesk.billing.policy import AdmissionRequest, decide
from quotadesk.billing.pricing import DEFAULT_TABLE, PriceTable
from quotadesk.billing.tiers import DEFAULT_TIERS, TierTable
from quotadesk.gateway.settlement import SettlementWriter
from quotadesk.store import leases
from quotadesk.store.admission import deny_notice
from quotadesk.store.values import add_notice

log = logging.getLogger("quotadesk.gateway")


class OrgBudget:
    """One organization's lease and snapshot in this process (see the module docstring)."""

    __slots__ = (
        "balance",
        "expires",
        "inflight",
        "last_cost",
        "last_used",
        "lease_id",
        "mtd",
        "org",
        "org_id",
        "others",
        "renewed",
        "renewing",
        "reserve",
        "settled_base",
        "settled_total",
    )

    def __init__(self, org_id: str) -> None:
        self.org_id = org_id
        self.org = Organization(id=org_id)
        self.lease_id: str | None = None
        self.reserve = 0
        self.others = 0
        self.mtd = 0
        self.balance: int | None = None
        self.settled_total = 0  # cost of every request settled here, ever
        self.settled_base = 0  # ... of which the last applied lease snapshot already counts
        self.inflight = 0
        self.renewing: asyncio.Future[None] | None = None
        self.renewed = 0.0
        self.expires = 0.0
        self.last_used = time.monotonic()
        self.last_cost = 0

    @property
    def settled(self) -> int:
        """Cost settled here since the snapshot (the snapshot's figures do not include it)."""
        return self.settled_total - self.settled_base

    @property
    def left(self) -> int:
        return self.reserve - self.settled - self.inflight

    def remaining_balance(self) -> int | None:
        """Spendable balance after what settled here since the snapshot (prepaid), else None."""
        return None if self.balance is None else max(0, self.balance - self.settled)


class Budgets:
    """Every ``OrgBudget`` of this process, the key cache, and the lease upkeep."""

    def __init__(
        self,
        writer: SettlementWriter,
        holder: str,
        *,
        prices: PriceTable = DEFAULT_TABLE,
        tiers: TierTable = DEFAULT_TIERS,
        slice_nanos: int = 1_000_000_000,
        key_ttl: float = 2.0,
        refresh_s: float = 1.0,
        lease_ttl_s: float = 15.0,
        idle_s: float = 2.0,
    ) -> None:
        self.writer = writer
        self.holder = holder
        self.prices = prices
        self.tiers = tiers
        self.slice = slice_nanos
        self.key_ttl = key_ttl
        self.refresh_s = refresh_s
        self.lease_ttl = lease_ttl_s
        self.idle_s = idle_s
        self.orgs: dict[str, OrgBudget] = {}
        self._keys: dict[str, tuple[str | None, float]] = {}
        self._key_lookups: dict[str, asyncio.Future[Any]] = {}
        self._notified: set[tuple[str, str, str]] = set()

    # ------------------------------------------------------------------ keys

    async def org_of(self, secret_hash: str) -> str | None:
        """The organization of a key, cached ``key_ttl`` seconds (unknown keys too)."""
        hit = self._keys.get(secret_hash)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        pending = self._key_lookups.get(secret_hash)
        if pending is None:
            pending = self.writer.call(lambda conn: leases.key_org(conn, secret_hash))
            self._key_lookups[secret_hash] = pending
        try:
            org_id: str | None = await asyncio.shield(pending)
        finally:
            self._key_lookups.pop(secret_hash, None)
        if len(self._keys) > 100_000:
            self._keys.clear()
        self._keys[secret_hash] = (org_id, time.monotonic() + self.key_ttl)
        return org_id

    # ------------------------------------------------------------------ leases

    def _take(self, b: OrgBudget, need: int) -> asyncio.Future[Any]:
        # Every settle queued before this renewal is committed before it (one FIFO writer), so
        # the grant's figures include exactly the settles counted up to now.
        mark = b.settled_total
        holder, lease_id, ttl, extra = self.holder, b.lease_id, self.lease_ttl, self.slice
        def run(conn: Connection) -> leases.LeaseGrant:
            return leases.take_lease(
                conn, datetime.now(UTC), b.org_id, holder, need, extra=extra, lease_id=lease_id,
                ttl=timedelta(seconds=ttl),
            )

        fut = self.writer.call(run)
        # ``applied`` resolves only once the grant is in ``b``: a waiter that sees it done may
        # rely on ``b.lease_id`` (else a second take would open a second lease for this org).
        applied: asyncio.Future[Any] = fut.get_loop().create_future()

        def apply(f: asyncio.Future[Any]) -> None:
            if f.cancelled():
                applied.cancel()
                return
            error = f.exception()
            if error is not None:
                applied.set_exception(error)
                return
            g: leases.LeaseGrant = f.result()
            b.lease_id, b.org, b.reserve, b.others = g.lease_id, g.org, g.reserve, g.others
            b.mtd, b.balance = g.month_to_date, g.balance
            b.settled_base = mark  # what settled before the renewal is in its figures now
            b.renewed = time.monotonic()
            b.expires = b.renewed + ttl
            applied.set_result(g)

        fut.add_done_callback(apply)
        return applied

    async def renew(self, b: OrgBudget, need: int) -> None:
        """Renew (or take) the lease so that ``need`` more fits if the books allow; one at a time."""
        while b.renewing is not None:
            pending = b.renewing
            if pending.done():  # applied; its clean-up callback just has not run yet
                b.renewing = None
                if b.lease_id is not None and b.left >= need:
                    return
                break
            with contextlib.suppress(Exception):
                await asyncio.shield(pending)
            if b.lease_id is not None and b.left >= need:
                return
        fut = self._take(b, b.inflight + need)
        b.renewing = fut
        try:
            await asyncio.shield(fut)
        finally:
            if b.renewing is fut:
                b.renewing = None

    async def budget(self, org_id: str) -> OrgBudget:
        b = self.orgs.get(org_id)
        if b is None:
            b = self.orgs[org_id] = OrgBudget(org_id)
        if b.lease_id is None:
            await self.renew(b, 0)
        return b

    async def upkeep(self) -> None:
        """Renew leases in use (fresh snapshot, expiry pushed back); give idle ones back."""
        now = time.monotonic()
        for org_id, b in list(self.orgs.items()):
            if b.renewing is not None:
                continue
            if b.inflight == 0 and now - b.last_used > self.idle_s:
                del self.orgs[org_id]
                if b.lease_id is not None:
                    self.writer.call(partial(_return, lease_id=b.lease_id, reason="idle: returned by its holder"))
                continue
            if now - b.renewed >= self.refresh_s or b.expires - now < self.lease_ttl / 2:
                b.renewing = self._take(b, b.inflight + b.last_cost)
                b.renewing.add_done_callback(partial(_renewed, b))

    def return_all(self) -> None:
        """Stopping: give back every lease this holder has open in the books, queued behind the
        last settles. By holder, not by what ``orgs`` knows: a take still in the writer's queue
        (its grant never applied here, the loop no longer runs) opens a lease this process
        never heard of."""
        holder = self.holder
        self.writer.call(
            lambda conn: leases.close_holder(conn, _now(), holder, "holder stopped", status="returned")
        )
        self.orgs.clear()

    # ------------------------------------------------------------------ deciding

    def decide_for(
        self, b: OrgBudget | None, request: AdmissionRequest, cost: int, now: datetime
    ) -> Decision:
        """``decide`` on the snapshot with the in-flight figures of the module docstring."""
        if b is None:
            return decide(Organization(id=""), request, now, self.prices, self.tiers)
        reserved = b.others + b.settled + b.inflight
        request = replace(request, held=reserved, month_to_date=b.mtd)
        return decide(b.org, request, now, self.prices, self.tiers)

    def over_lease(self, b: OrgBudget, request: AdmissionRequest, cost: int, now: datetime) -> Decision:
        """The lease cannot cover an Allow even after renewing: refuse by the rule that binds."""
        left = max(0, b.left)
        if b.org.billing_mode == BillingMode.PREPAID and b.balance is not None:
            request = replace(request, held=max(0, b.balance - left), month_to_date=b.mtd)
        else:
            hard = b.org.spend_limits.hard or 0
            request = replace(request, held=0, month_to_date=max(hard, b.mtd))
        return decide(b.org, request, now, self.prices, self.tiers)

    def notices(self, b: OrgBudget, decision: Decision, now: datetime) -> None:
        """Queue the notices a decision is due (each once per org, kind and month here;
        the books dedupe across processes)."""
        month = f"{now:%Y-%m}"
        if isinstance(decision, Deny):
            tag = (b.org_id, str(decision.rule), month if decision.rule != "credits_exhausted" else f"{now:%F}")
            if tag in self._notified or decision.rule not in ("hard_limit", "credits_exhausted"):
                return
            self._notified.add(tag)
            org_id = b.org_id
            self.writer.call(lambda conn: deny_notice(conn, org_id, decision, now))
        elif isinstance(decision, Allow):
            for kind in decision.notices:
                tag = (b.org_id, kind, month)
                if tag in self._notified:
                    continue
                self._notified.add(tag)
                self.writer.call(
                    partial(_notice, org_id=b.org_id, kind=kind, now=now, key=f"{kind}:{b.org_id}:{month}")
                )


def _now() -> datetime:
    return datetime.now(UTC)


def _return(conn: Connection, *, lease_id: str, reason: str) -> None:
    leases.return_lease(conn, _now(), lease_id, reason)


def _notice(conn: Connection, *, org_id: str, kind: str, now: datetime, key: str) -> None:
    add_notice(conn, org_id, kind, now, dedupe_key=key)


def _renewed(b: OrgBudget, f: asyncio.Future[Any]) -> None:
    if b.renewing is f:
        b.renewing = None
    if not f.cancelled() and f.exception() is not None:  # retrieved: the next upkeep tries again
        log.warning("lease renewal of %s failed: %s", b.org_id, f.exception())
