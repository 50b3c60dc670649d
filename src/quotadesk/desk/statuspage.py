"""Where the desk reads the provider's status page: a file or a URL, as a setting says.

A case records what the status page said when it was triaged, or that it could not be read:
an unreachable page is never read as "no incident" (the triage result then says the case holds
no status page, and the case says why). Reads are cached for a few seconds so a burst of
tickets does not hammer the page; the connectors add polling with ETags on top of this.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_BYTES = 5_000_000
TIMEOUT_S = 3.0
CACHE_S = 15.0


@dataclass(frozen=True, slots=True)
class StatusRead:
    """The document (None when there is none), where it came from, and why it is missing."""

    document: dict[str, Any] | None
    source: str
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        state = "read" if self.document is not None else ("unavailable" if self.problem else "not_configured")
        return {"source": self.source or None, "state": state, "problem": self.problem}


class StatusSource:
    """Reads the configured status page (``""``: none configured)."""

    def __init__(self, where: str = "") -> None:
        self.where = where.strip()
        self._lock = threading.Lock()
        self._cached: tuple[float, StatusRead] | None = None

    def read(self) -> StatusRead:
        if not self.where:
            return StatusRead(None, "")
        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < CACHE_S:
                return self._cached[1]
        result = self._fetch()
        with self._lock:
            self._cached = (time.monotonic(), result)
        return result

    def _fetch(self) -> StatusRead:
        try:
            if self.where.startswith(("http://", "https://")):
                req = urllib.request.Request(self.where, headers={"Accept": "application/json"})
                with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                    raw = resp.read(MAX_BYTES + 1)
            else:
                raw = Path(self.where).read_bytes()[: MAX_BYTES + 1]
        except (OSError, urllib.error.URLError, ValueError) as exc:
            return StatusRead(None, self.where, f"could not read the status page: {exc}")
        if len(raw) > MAX_BYTES:
            return StatusRead(None, self.where, f"status page larger than {MAX_BYTES} bytes")
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return StatusRead(None, self.where, f"status page is not JSON: {exc}")
        if not isinstance(doc, dict) or not isinstance(doc.get("incidents", []), list):
            return StatusRead(None, self.where, "status page has no 'incidents' list (Statuspage v2 shape)")
        doc.setdefault("incidents", [])
        return StatusRead(doc, self.where)
