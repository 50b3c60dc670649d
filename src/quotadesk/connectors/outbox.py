"""The outbox: every call out (a note to a help desk, an alert by email or webhook) is a row first.

A row is written in the transaction that decided it should be sent, under a dedupe key
(``note:<case>:<n>``, ``alert:<notice>:email``), so deciding twice queues it once. A worker
then claims due rows one at a time (``pending`` → ``sending`` with a lease, so two worker
processes never send the same row and a crashed one's row is taken again when its lease
runs out), calls the sender, and marks the row ``sent`` (with the other side's id of it) or
schedules a retry with exponential backoff: 30 s, 1 min, 2 min, … capped at an hour, up to
``outbound_max_attempts``; a failure that retrying cannot fix (a 4xx) or the last attempt
leaves it ``failed`` with the reason, listed by ``quotadesk connectors outbox``.

A retry of a note first asks the desk whether the note is there already (its marker line):
an answer lost on the way back must not become a second note.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, insert, or_, select, update

from quotadesk.connectors.background import Loop
from quotadesk.connectors.outbound import OutboundError
from quotadesk.store.db import transaction
from quotadesk.store.errors import ConflictError
from quotadesk.store.schema import outbox

log = logging.getLogger("quotadesk.connectors")

LEASE = timedelta(minutes=5)
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Item:
    """A claimed row: what to send, and which attempt this is (1 is the first)."""

    id: int
    channel: str
    payload: dict[str, Any]
    attempt: int
    case_id: str | None


Sender = Callable[[Item], str]
"""Sends one item; returns the other side's reference; raises ``OutboundError`` on failure."""


def backoff(attempt: int) -> timedelta:
    """The wait after failed attempt ``attempt`` (1-based): 30 s doubling, at most an hour."""
    return min(FIRST_RETRY * (1 << max(attempt - 1, 0)), MAX_RETRY)


def enqueue(
    conn: Any,
    channel: str,
    dedupe_key: str,
    payload: Mapping[str, Any],
    now: datetime,
    *,
    case_id: str | None = None,
    org_id: str | None = None,
) -> bool:
    """Queue a call (inside the caller's transaction) unless its key is queued already."""
    exists = conn.execute(select(outbox.c.id).where(outbox.c.dedupe_key == dedupe_key)).first()
    if exists is not None:
        return False
    conn.execute(
        insert(outbox).values(
            channel=channel,
            dedupe_key=dedupe_key[:200],
            payload=json.dumps(dict(payload), sort_keys=True, default=str),
            status="pending",
            attempts=0,
            next_at=now,
            created_at=now,
            case_id=case_id,
            org_id=org_id,
        )
    )
    return True


def enqueue_once(engine: Engine, *args: Any, **kwargs: Any) -> bool:
    """``enqueue`` in its own transaction; a key queued by a racing process counts as queued."""
    try:
        with transaction(engine) as conn:
            return enqueue(conn, *args, **kwargs)
    except ConflictError:
        return False


class Outbox:
    """Claims and sends due rows through the sender registered for each channel."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime], *, max_attempts: int = 8) -> None:
        self.engine = engine
        self.clock = clock
        self.max_attempts = max_attempts
        self.senders: dict[str, Sender] = {}
        self._loop = Loop("quotadesk-outbox", self.run_due, 2.0)

    def register(self, channel: str, sender: Sender) -> None:
        self.senders[channel] = sender

    def _claim(self, now: datetime) -> Item | None:
        due = or_(
            and_(outbox.c.status == "pending", outbox.c.next_at <= now),
            and_(outbox.c.status == "sending", outbox.c.next_at <= now),  # a lease that ran out
        )
        channels = sorted(self.senders)
        with transaction(self.engine) as conn:
            row = conn.execute(
                select(outbox)
                .where(due, outbox.c.channel.in_(channels))
                .order_by(outbox.c.next_at, outbox.c.id)
                .limit(1)
            ).first()
            if row is None:
                return None
            claimed = conn.execute(
                update(outbox)
                .where(
                    outbox.c.id == row.id, outbox.c.status == row.status, outbox.c.attempts == row.attempts
                )
                .values(status="sending", attempts=row.attempts + 1, next_at=now + LEASE)
            )
            if claimed.rowcount != 1:
                return None
        return Item(int(row.id), row.channel, json.loads(row.payload), int(row.attempts) + 1, row.case_id)

    def run_due(self, limit: int = 100) -> int:
        """Send what is due now (at most ``limit`` rows); returns how many were attempted."""
        done = 0
        while done < limit and not self._loop.stopping.is_set():
            now = self.clock()
            item = self._claim(now)
            if item is None:
                break
            done += 1
            self._send(item)
        return done

    def _send(self, item: Item) -> None:
        sender = self.senders[item.channel]
        try:
            ref = sender(item)
        except OutboundError as exc:
            self._failed(item, str(exc), retry=exc.retry)
        except Exception as exc:  # a bug in a sender must not kill the worker; the row keeps why
            log.exception("outbox %s row %s failed unexpectedly", item.channel, item.id)
            self._failed(item, f"{type(exc).__name__}: {exc}", retry=True)
        else:
            with transaction(self.engine) as conn:
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id == item.id)
                    .values(
                        status="sent", sent_at=self.clock(), remote_ref=(ref or "")[:200], last_error=None
                    )
                )

    def _failed(self, item: Item, why: str, *, retry: bool) -> None:
        final = not retry or item.attempt >= self.max_attempts
        now = self.clock()
        values: dict[str, Any] = {"last_error": why[:2000]}
        if final:
            values["status"] = "failed"
            log.warning(
                "outbox %s row %s failed for good after %d attempts: %s",
                item.channel,
                item.id,
                item.attempt,
                why,
            )
        else:
            values |= {"status": "pending", "next_at": now + backoff(item.attempt)}
            log.info(
                "outbox %s row %s attempt %d failed, retrying: %s", item.channel, item.id, item.attempt, why
            )
        with transaction(self.engine) as conn:
            conn.execute(update(outbox).where(outbox.c.id == item.id).values(**values))

    # -------------------------------------------------------------- the background worker

    def start(self, interval: float = 2.0) -> None:
        self._loop.interval = interval
        self._loop.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the call in flight (a claimed row not finished is retried after its lease)."""
        self._loop.stop(timeout)


def rows(engine: Engine, *, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The outbox, newest first (for the CLI and the desk)."""
    stmt = select(outbox).order_by(outbox.c.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(outbox.c.status == status)
    with transaction(engine) as conn:
        out = []
        for r in conn.execute(stmt):
            m = dict(r._mapping)
            m.pop("payload", None)
            for k in ("next_at", "created_at", "sent_at"):
                if m.get(k) is not None:
                    m[k] = m[k].isoformat().replace("+00:00", "Z")
            out.append(m)
        return out
