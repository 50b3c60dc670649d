"""The writer thread: every database write of a gateway process, in order, settles group-committed.

Why one thread: the event loop must never wait on the database, and the order of writes
matters. A lease renewal queued after some settles must see them committed (its reserve is
``amount - settled``), which a FIFO queue served by one thread gives for free.

Group commit: the thread takes everything queued since its last transaction; consecutive
settles go into ONE transaction (``leases.settle_events``: usage events, ledger postings and
lease accounting together), so under load a commit carries tens of requests and the cost of a
commit is shared. Other operations (lease renewals, key look-ups, sweeps) run each in their own
transaction, in queue order, with their result handed back to the loop.

A batch that fails is retried event by event; an event that still fails stays in ``failed``
and is retried by ``retry_failed`` (it is also in the journal, which replays it if the process
dies first).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from quotadesk.billing.pricing import DEFAULT_TABLE, PriceTable
from quotadesk.gateway.journal import Entry
from quotadesk.store.db import transaction
from quotadesk.store.leases import settle_events

log = logging.getLogger("quotadesk.gateway")

_STOP = object()


class _Call:
    __slots__ = ("fn", "future")

    def __init__(self, fn: Callable[[Connection], Any], future: asyncio.Future[Any]) -> None:
        self.fn = fn
        self.future = future


def _resolve(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


class SettlementWriter:
    """One thread, one queue: ``settle`` (fire and forget) and ``call`` (awaitable)."""

    def __init__(
        self,
        engine: Engine,
        loop: asyncio.AbstractEventLoop,
        prices: PriceTable = DEFAULT_TABLE,
        on_commit: Callable[[int], None] | None = None,
        gather_s: float = 0.005,
    ) -> None:
        self.engine = engine
        self.loop = loop
        self.prices = prices
        self.on_commit = on_commit
        self.gather_s = gather_s
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.committed = 0  # settles committed, ever
        self.batches = 0
        self.failed: list[Entry] = []
        self.queued = 0
        self._thread = threading.Thread(target=self._run, name="quotadesk-settle", daemon=True)
        self._thread.start()

    def settle(self, entry: Entry) -> None:
        self.queued += 1
        self._q.put(entry)

    def call(self, fn: Callable[[Connection], Any]) -> asyncio.Future[Any]:
        """Run ``fn(conn)`` in its own transaction, after everything queued before it."""
        future: asyncio.Future[Any] = self.loop.create_future()
        self._q.put(_Call(fn, future))
        return future

    def stop(self) -> None:
        """Commit what is queued, then end the thread."""
        self._q.put(_STOP)
        self._thread.join(timeout=30)

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        while True:
            ops = [self._q.get()]
            if isinstance(ops[0], Entry) and self.gather_s:
                time.sleep(self.gather_s)  # let a few more settles join this commit
            while True:
                try:
                    ops.append(self._q.get_nowait())
                except queue.Empty:
                    break
            settles: list[Entry] = []
            for op in ops:
                if op is _STOP:
                    self._flush(settles)
                    return
                if isinstance(op, Entry):
                    settles.append(op)
                    continue
                self._flush(settles)
                settles = []
                self._call(op)
            self._flush(settles)

    def _call(self, op: _Call) -> None:
        try:
            with transaction(self.engine) as conn:
                value = op.fn(conn)
        except BaseException as exc:
            self.loop.call_soon_threadsafe(_resolve, op.future, None, exc)
            return
        self.loop.call_soon_threadsafe(_resolve, op.future, value, None)

    def _commit(self, entries: list[Entry]) -> None:
        by_lease: dict[str, int] = defaultdict(int)
        for e in entries:
            if e.lease_id:
                by_lease[e.lease_id] += e.cost
        with transaction(self.engine) as conn:
            settle_events(conn, datetime.now(UTC), [e.event for e in entries], by_lease, self.prices)

    def _flush(self, entries: list[Entry]) -> None:
        if not entries:
            return
        ok = len(entries)
        try:
            self._commit(entries)
        except Exception:
            log.exception("settle batch of %d failed; retrying one by one", len(entries))
            for e in entries:
                try:
                    self._commit([e])
                except Exception:
                    log.exception("settle of %s failed; kept for retry", e.event.request_id)
                    self.failed.append(e)
                    ok -= 1
        self.committed += ok
        self.batches += 1
        if self.on_commit is not None:
            self.loop.call_soon_threadsafe(self.on_commit, self.committed)

    def retry_failed(self) -> None:
        """Queue the failed settles again (called periodically from the loop)."""
        failed, self.failed = self.failed, []
        for e in failed:
            self._q.put(e)
