"""Status pages, live: polled with ETags, their incidents kept, read as of each case's time.

The poller fetches each configured page (setting ``status_page``: Statuspage v2 or an
incident.io-compatible ``summary.json`` or ``incidents.json``; several separated by spaces)
every ``status_poll_seconds``, sending ``If-None-Match`` / ``If-Modified-Since`` from the last
answer, so an unchanged page costs a 304. It reads a document only as far as polling needs
(the incidents' ids, statuses and ``updated_at``; incidents without ``created_at`` are kept
as they are, the triage's status-page parser reads them) and keeps every incident it has
seen in ``status_incidents``, the version last shown: ``summary.json`` lists only unresolved
incidents, so one that leaves it is read once more from the sibling ``incidents.json``.

``read`` (the desk's status source) gives each triage the incidents seen up to its time, as
one Statuspage-shaped document. A page not read successfully for ``status_stale_seconds``
(unreachable, or answering errors) gives no document and says why, so the case says the page
is stale, never "no incident". A new incident re-triages the open cases it may explain: those
of the last hours before it began (``RETRIAGE_WINDOW``).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert, or_, select, update

from quotadesk.connectors.background import Loop, get_state, put_state
from quotadesk.desk.service import Desk
from quotadesk.desk.statuspage import MAX_BYTES, StatusRead, StatusSource
from quotadesk.store.access import SYSTEM
from quotadesk.store.db import transaction
from quotadesk.store.schema import cases, status_incidents

log = logging.getLogger("quotadesk.connectors")

RETRIAGE_WINDOW = timedelta(hours=6)
RETRIAGE_MAX = 200
HISTORY = timedelta(days=30)
RESOLVED = ("resolved", "postmortem", "completed", "closed")


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def incident_start(incident: dict[str, Any]) -> datetime | None:
    """When an incident began: its created_at/started_at, else its earliest update."""
    for key in ("created_at", "started_at", "published_at"):
        when = _parse_time(incident.get(key))
        if when:
            return when
    updates = [
        u for u in incident.get("incident_updates") or incident.get("updates") or [] if isinstance(u, dict)
    ]
    times = [
        t for u in updates for t in (_parse_time(u.get("created_at")), _parse_time(u.get("display_at"))) if t
    ]
    return min(times) if times else None


def incident_key(incident: dict[str, Any]) -> str | None:
    ident = incident.get("id")
    if isinstance(ident, str | int) and str(ident):
        return str(ident)[:200]
    name, start = incident.get("name"), incident_start(incident)
    return f"{name}@{start.isoformat()}"[:200] if isinstance(name, str) and start else None


def _updated(incident: dict[str, Any]) -> str | None:
    value = incident.get("updated_at")
    return value[:64] if isinstance(value, str) else None


class LiveStatus(StatusSource):
    """The desk's status source when pages are polled (see the module docstring)."""

    def __init__(
        self,
        desk: Desk,
        urls: list[str],
        *,
        interval: float,
        stale_after: float,
        timeout: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(" ".join(urls))
        self.desk = desk
        self.urls = urls
        self.interval = interval
        self.stale_after = timedelta(seconds=stale_after)
        self.http = httpx.Client(timeout=timeout, transport=transport, follow_redirects=True)
        self._loop = Loop("quotadesk-status", self.poll, interval)

    @classmethod
    def from_config(
        cls, desk: Desk, config: Any, *, transport: httpx.BaseTransport | None = None
    ) -> LiveStatus | None:
        urls = [u for u in config.get("status_page").split() if u.startswith(("http://", "https://"))]
        interval = config.number("status_poll_seconds")
        if not urls or interval <= 0:
            return None
        return cls(
            desk,
            urls,
            interval=interval,
            stale_after=config.number("status_stale_seconds"),
            timeout=config.number("outbound_timeout_seconds"),
            transport=transport,
        )

    # ------------------------------------------------------------------ state

    def _state(self, url: str) -> dict[str, Any]:
        with transaction(self.desk.engine) as conn:
            return get_state(conn, f"status:{url}")

    def _save(self, url: str, state: dict[str, Any]) -> None:
        with transaction(self.desk.engine) as conn:
            put_state(conn, f"status:{url}", state, self.desk.now())

    # ------------------------------------------------------------------ polling

    def _get(self, url: str, state: dict[str, Any]) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        headers = {"Accept": "application/json"}
        if state.get("etag"):
            headers["If-None-Match"] = state["etag"]
        if state.get("last_modified"):
            headers["If-Modified-Since"] = state["last_modified"]
        response = self.http.get(url, headers=headers)
        if response.status_code == 304:
            return 304, None, dict(response.headers)
        if response.status_code != 200:
            raise ValueError(f"HTTP {response.status_code}")
        if len(response.content) > MAX_BYTES:
            raise ValueError(f"larger than {MAX_BYTES} bytes")
        doc = response.json()
        if not isinstance(doc, dict) or not isinstance(doc.get("incidents", []), list):
            raise ValueError("no 'incidents' list (Statuspage v2 shape)")
        return 200, doc, dict(response.headers)

    def poll(self) -> list[dict[str, Any]]:
        """Read every page once; returns the incidents seen for the first time."""
        new: list[dict[str, Any]] = []
        for url in self.urls:
            state = self._state(url)
            now = self.desk.now()
            state["last_attempt_at"] = now.isoformat()
            try:
                status, doc, headers = self._get(url, state)
            except (httpx.HTTPError, ValueError) as exc:
                state["problem"] = f"could not read {url}: {exc}"
                self._save(url, state)
                log.warning("status page %s: %s", url, exc)
                continue
            state |= {"last_ok_at": now.isoformat(), "problem": None}
            if status == 200 and doc is not None:
                state["etag"] = headers.get("etag") or None
                state["last_modified"] = headers.get("last-modified") or None
                state["page"] = {k: doc[k] for k in ("page", "status") if k in doc}
                new += self._keep(url, doc.get("incidents") or [], now)
                if url.endswith("summary.json"):
                    self._resolve_missing(url, doc.get("incidents") or [], now)
            self._save(url, state)
        for incident in new:
            self._retriage(incident)
        return new

    def _keep(self, url: str, incidents: list[Any], now: datetime) -> list[dict[str, Any]]:
        new = []
        with transaction(self.desk.engine) as conn:
            for inc in incidents:
                if not isinstance(inc, dict):
                    continue
                key = incident_key(inc)
                if key is None:
                    continue
                row = conn.execute(
                    select(status_incidents.c.id, status_incidents.c.updated_at).where(
                        status_incidents.c.source == url, status_incidents.c.incident_id == key
                    )
                ).first()
                values = {
                    "last_seen_at": now,
                    "updated_at": _updated(inc),
                    "status": str(inc.get("status") or "")[:32],
                }
                if row is None:
                    conn.execute(
                        insert(status_incidents).values(
                            source=url, incident_id=key, first_seen_at=now, document=json.dumps(inc), **values
                        )
                    )
                    new.append(inc)
                elif row.updated_at != values["updated_at"] or values["updated_at"] is None:
                    conn.execute(
                        update(status_incidents)
                        .where(status_incidents.c.id == row.id)
                        .values(document=json.dumps(inc), **values)
                    )
        return new

    def _resolve_missing(self, url: str, listed: list[Any], now: datetime) -> None:
        keys = {incident_key(i) for i in listed if isinstance(i, dict)}
        with transaction(self.desk.engine) as conn:
            open_keys = [
                k
                for k, s in conn.execute(
                    select(status_incidents.c.incident_id, status_incidents.c.status).where(
                        status_incidents.c.source == url
                    )
                )
                if s not in RESOLVED and k not in keys
            ]
        if not open_keys:
            return
        sibling = url[: -len("summary.json")] + "incidents.json"
        try:
            _, doc, _ = self._get(sibling, {})
        except (httpx.HTTPError, ValueError) as exc:
            log.info(
                "status page %s: %d incidents left the summary; %s unreadable: %s",
                url,
                len(open_keys),
                sibling,
                exc,
            )
            return
        wanted = [
            i
            for i in (doc or {}).get("incidents") or []
            if isinstance(i, dict) and incident_key(i) in open_keys
        ]
        self._keep(url, wanted, now)

    def _retriage(self, incident: dict[str, Any]) -> None:
        start = incident_start(incident) or self.desk.now()
        since = start - RETRIAGE_WINDOW
        with transaction(self.desk.engine) as conn:
            ids = list(
                conn.execute(
                    select(cases.c.id)
                    .where(
                        cases.c.status != "resolved",
                        or_(cases.c.updated_at >= since, cases.c.created_at >= since),
                    )
                    .order_by(cases.c.updated_at.desc())
                    .limit(RETRIAGE_MAX)
                ).scalars()
            )
        name = str(incident.get("name") or incident_key(incident))
        for case_id in ids:
            try:
                self.desk.retriage(SYSTEM, case_id, reason=f"status page: new incident {name}")
            except Exception:
                log.exception("re-triage of %s after incident %s failed", case_id, name)

    # ------------------------------------------------------------------ reading

    def read(self) -> StatusRead:
        now = self.desk.now()
        problems = []
        pages = []
        for url in self.urls:
            state = self._state(url)
            last_ok = _parse_time(state.get("last_ok_at"))
            if last_ok is None:
                problems.append(
                    f"{url} has not been read yet"
                    + (f" ({state['problem']})" if state.get("problem") else "")
                )
            elif now - last_ok > self.stale_after:
                age = int((now - last_ok).total_seconds())
                why = f"; {state['problem']}" if state.get("problem") else ""
                problems.append(f"{url} is stale: last read {age} s ago at {last_ok.isoformat()}{why}")
            pages.append(state.get("page") or {})
        if problems:
            return StatusRead(None, self.where, "; ".join(problems))
        with transaction(self.desk.engine) as conn:
            docs = [
                json.loads(d)
                for d, s, seen in conn.execute(
                    select(
                        status_incidents.c.document,
                        status_incidents.c.status,
                        status_incidents.c.last_seen_at,
                    )
                    .where(status_incidents.c.first_seen_at <= now, status_incidents.c.source.in_(self.urls))
                    .order_by(status_incidents.c.first_seen_at, status_incidents.c.id)
                )
                if s not in RESOLVED or seen >= now - HISTORY
            ]
        doc: dict[str, Any] = dict(pages[0]) if len(pages) == 1 else {}
        doc["incidents"] = docs
        return StatusRead(doc, self.where)

    # ------------------------------------------------------------------ the thread

    def start(self) -> None:
        self._loop.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._loop.stop(timeout)
