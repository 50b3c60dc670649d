"""What the connectors share: a background loop that stops cleanly, and small named state rows.

``Loop`` runs one function every ``interval`` seconds on a daemon thread until ``stop``, which
waits for the pass in progress to end (each pass is a few short transactions and calls with
timeouts), so shutting the desk down never leaves a pass half-done. ``get_state`` /
``put_state`` keep a JSON value per name in ``connector_state`` (a status page's ETag, the
alerts' cursor, a card's last event time).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from quotadesk.store.schema import connector_state

log = logging.getLogger("quotadesk.connectors")


class Loop:
    def __init__(self, name: str, work: Callable[[], object], interval: float) -> None:
        self.name = name
        self.work = work
        self.interval = interval
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.work()
            except Exception:
                log.exception("%s: a pass failed", self.name)
            self.stopping.wait(self.interval)

    def start(self) -> None:
        if self._thread is not None:
            return
        self.stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def get_state(conn: Connection, name: str) -> dict[str, Any]:
    value = conn.execute(select(connector_state.c.value).where(connector_state.c.name == name)).scalar()
    return dict(json.loads(value)) if value else {}


def put_state(conn: Connection, name: str, value: dict[str, Any], at: datetime) -> None:
    text = json.dumps(value)
    done = conn.execute(
        update(connector_state).where(connector_state.c.name == name).values(value=text, updated_at=at)
    )
    if not done.rowcount:
        conn.execute(insert(connector_state).values(name=name, value=text, updated_at=at))
