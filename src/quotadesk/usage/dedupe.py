"""One event per request id, the same rule for triage (records loader) and ``usage import``.

The rule: within one input (a bundle's records, a records file, the files of one import),
rows that share a non-empty ``request_id`` are one event. Duplicates with identical content
(a page fetched twice, a retried export) collapse into one row; duplicates whose content
differs are an error naming the second row and the first, since no rule can tell which one
is true. Rows without an id are never merged (two identical id-less rows are two requests).
Against the usage log already stored, an id it holds is skipped (an import is idempotent).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from quotadesk.errors import UsageFileError

CONFLICT = "duplicate request id with different content"


class Seen:
    """Remembers each request id's content (a hash) and where it was first read."""

    def __init__(self) -> None:
        self._first: dict[str, tuple[int, str]] = {}
        self.collapsed = 0

    def fresh(self, request_id: str, content: Hashable, where: str) -> bool:
        """True for a new event; False for an identical duplicate; raises for a conflicting one."""
        if not request_id:
            return True
        digest = hash(content)
        known = self._first.get(request_id)
        if known is None:
            self._first[request_id] = (digest, where)
            return True
        if known[0] != digest:
            raise UsageFileError(
                f"{CONFLICT}: {request_id[:80]!r} (first at {known[1]})", f"{where}.request_id"
            )
        self.collapsed += 1
        return False


def collapse(con: Any, stored: Any, columns: tuple[str, ...], source: Any) -> Any:
    """The engine's rows with identical duplicates collapsed; a conflicting duplicate raises.

    Cheap when there is nothing to do: one aggregate over the ids; only with duplicates is
    the table rebuilt, and only with a conflict is the source scanned to name the row.
    """
    import ibis

    from quotadesk.usage import engine

    with_id = stored.filter(stored.request_id != "")
    counts = engine.fetch_rows(con, with_id.aggregate(n=ibis._.count(), ids=with_id.request_id.nunique()))
    row = counts.dicts()[0]
    if int(row["n"] or 0) == int(row["ids"] or 0):
        return stored
    unique = with_id.select(*columns).distinct()
    clash = engine.fetch_rows(
        con, unique.group_by("request_id").aggregate(n=ibis._.count()).filter(ibis._.n > 1).limit(1)
    ).dicts()
    if clash:
        _locate(source)
        raise UsageFileError(f"{CONFLICT}: {str(clash[0]['request_id'])[:80]!r}", "request_id")
    rest = stored.filter(stored.request_id == "").select(*columns)
    return engine.materialize(con, unique.union(rest), "dedup")


def _locate(source: Any) -> None:
    seen = Seen()
    for where, row in source.scan():
        content = tuple(str(row.get(k)) for k in sorted(row))
        seen.fresh(str(row.get("request_id") or ""), content, where)
