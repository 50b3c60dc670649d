"""The usage analysis of an account, kept between triages while the account's usage is unchanged.

Triage of a ticket is cheap; reading a month of an account's usage and running every detector
over it is not (about a second for 10k requests, most of it fixed engine cost). Tickets about one
account come in bursts (the first message, the customer's follow-ups, every change to the books
re-triaging its open cases), and each would analyse the same rows again.

The analysis depends on the usage rows, the account's keys and invoices (environment, billing
discrepancy), the status page's incidents (outage retries), the customer's log excerpts (code
bugs) and the time it is looked at. The key holds the first ones: the rows by a snapshot of the
books' usage events in the window (count, first and last time: events are append-only, so any
new event changes it) and of the usage log's files, the rest by digest, and the UTC month. An
entry serves for ``MAX_AGE`` after it was computed: with no new row in the window, a few
minutes move only the edges of the detectors' windows, and a new row is a new key at once. So a
cached analysis is never behind the data, at most ``MAX_AGE`` behind the clock.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Hashable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from quotadesk.store.db import transaction
from quotadesk.store.schema import usage_events
from quotadesk.triage.inputs import UsageView

ENTRIES = 256
MAX_AGE = timedelta(minutes=5)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:24]


def usage_token(
    engine: Engine, org_id: str, since: datetime, until: datetime, usage_dir: str | None
) -> Hashable:
    """A snapshot of the org's usage in ``[since, until]``: changes whenever a row is added or
    leaves the window (the books' events and the usage log's part files)."""
    with transaction(engine) as conn:
        n, first, last = conn.execute(
            select(func.count(), func.min(usage_events.c.ts), func.max(usage_events.c.ts)).where(
                usage_events.c.org_id == org_id, usage_events.c.ts >= since, usage_events.c.ts <= until
            )
        ).one()
    files: tuple[tuple[str, int], ...] = ()
    folder = Path(usage_dir) / f"org={org_id}" if usage_dir else None
    if folder is not None and folder.is_dir():
        files = tuple(sorted((str(p), p.stat().st_size) for p in folder.glob("month=*/part-*.parquet")))
    return (int(n), str(first), str(last), files)


def context_key(doc: dict[str, Any]) -> Hashable:
    """What besides the rows the analysis reads from a bundle: keys, invoices, incidents, logs."""
    account = doc.get("account") or {}
    logs = [a.get("text") for a in doc["ticket"].get("attachments") or [] if a.get("kind") == "log_excerpt"]
    return _digest([account.get("api_keys"), account.get("invoices"), doc.get("status_page"), logs])


class UsageCache:
    """A small LRU of usage analyses, shared by the desk's threads."""

    def __init__(self, entries: int = ENTRIES) -> None:
        self.entries = entries
        self._items: OrderedDict[Hashable, tuple[datetime, UsageView | None]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, now: datetime) -> tuple[bool, UsageView | None]:
        """(True, the analysis) when one for ``key`` was computed within ``MAX_AGE`` of ``now``."""
        with self._lock:
            entry = self._items.get(key)
            if entry is not None and timedelta(0) <= now - entry[0] <= MAX_AGE:
                self._items.move_to_end(key)
                self.hits += 1
                return True, entry[1]
            self.misses += 1
            return False, None

    def put(self, key: Hashable, view: UsageView | None, now: datetime) -> None:
        with self._lock:
            self._items[key] = (now, view)
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
