"""A live case bundle: the ticket, the account as the books hold it now, its usage, the status page.

This is ``quotadesk bundle export`` done at the moment a ticket arrives (the same library call,
``store.export.bundle_export``), with two additions a live desk needs:

- usage from both places it lives: the books' own usage events (what the gateway metered)
  and the usage log of provider exports (``quotadesk usage import``), one row per request id;
- the status page from the configured source, or, when it cannot be read, no status page at
  all and a note saying why, so triage says "no status page in the case", never "no incident".

A ticket with no organization is triaged from its text alone (a forwarded email).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from quotadesk.errors import InputError
from quotadesk.store.books import Books
from quotadesk.store.db import transaction
from quotadesk.store.export import (
    BUNDLE_VERSION,
    bundle_export,
    check_bundle,
    default_usage_since,
    exact,
    price_section,
    rfc3339,
    ticket_section,
    usage_rows,
)

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Sources:
    """What went into a bundle: whether the account and usage were looked up, and the status page."""

    account: bool
    usage_rows: int
    usage_log_rows: int
    status_page: JSON

    def to_json(self) -> JSON:
        return {
            "account": self.account,
            "usage_rows": self.usage_rows,
            "usage_log_rows": self.usage_log_rows,
            "status_page": self.status_page,
        }


def _log_rows(usage_dir: str | None, org_id: str, since: datetime, until: datetime) -> list[JSON]:
    """The org's rows in the usage log (imported provider exports) as contract rows."""
    if not usage_dir or not (Path(usage_dir) / f"org={org_id}").is_dir():
        return []
    from quotadesk.usage.log import UsageLog, check_org

    try:
        check_org(org_id)
    except InputError:
        return []
    table = UsageLog(usage_dir).read_arrow(org_id, start=since, end=until)
    out = []
    for r in table.to_pylist():
        out.append(
            {
                "ts": rfc3339(r["ts"]),
                "request_id": r["request_id"],
                "key_id": r["key_id"] or "",
                "model": r["model"],
                "input_tokens": int(r["input_tokens"]),
                "output_tokens": int(r["output_tokens"]),
                "cached_tokens": int(r["cached_tokens"]),
                "requests": int(r["requests"]),
                "status": int(r["status"]),
                "cost": exact(int(r["cost_nanos"])),
                "fingerprint": r["fingerprint"] or "",
                "ip": r["ip"] or "",
            }
        )
    return out


def live_bundle(
    books: Books,
    ticket: Mapping[str, Any],
    now: datetime,
    *,
    org_id: str | None,
    provider: str,
    status: JSON | None,
    status_info: JSON,
    usage_dir: str | None = None,
    with_usage: bool = True,
) -> tuple[JSON, Sources]:
    """The case bundle for ``ticket`` at ``now`` and a record of its sources.

    ``status`` is the status page document when one was read; a document the contract's
    schema refuses is left out (and said so in the sources) rather than refusing the ticket.
    ``with_usage`` False leaves the usage out (``attach_usage`` adds it later, when needed).
    """
    if org_id is None:
        doc: JSON = {
            "bundle_version": BUNDLE_VERSION,
            "as_of": rfc3339(now),
            "provider": provider,
            "ticket": ticket_section(ticket, now),
        }
        if status is not None:
            doc["status_page"] = status
        doc, status_info = _checked(doc, status_info)
        return doc, Sources(False, 0, 0, status_info)
    try:
        doc = bundle_export(
            books, org_id, ticket, now, provider=provider, status_page=status, with_usage=False
        )
    except InputError as exc:
        if status is None or not (exc.field or "").startswith("$.status_page"):
            raise
        doc = bundle_export(books, org_id, ticket, now, provider=provider, with_usage=False)
        status_info = {**status_info, "state": "unreadable", "problem": f"{exc.field}: {exc.message}"}
    if not with_usage:
        return doc, Sources(True, 0, 0, status_info)
    books_rows, log_count = attach_usage(books, doc, org_id, now, usage_dir)
    return doc, Sources(True, books_rows, log_count, status_info)


def attach_usage(
    books: Books, doc: JSON, org_id: str, now: datetime, usage_dir: str | None
) -> tuple[int, int]:
    """Add the org's usage (the books' events and the usage log's rows, one per request id) and
    their prices to ``doc``; returns the row counts from each."""
    since = default_usage_since(now)
    with transaction(books.engine) as conn:
        books_rows = usage_rows(conn, org_id, since, now)
    log_rows = _log_rows(usage_dir, org_id, since, now)
    seen = {r["request_id"] for r in books_rows}
    extra = [r for r in log_rows if r["request_id"] not in seen]
    records = sorted([*books_rows, *extra], key=lambda r: (r["ts"], r["request_id"])) if extra else books_rows
    doc["usage"] = {"records": records}
    doc["prices"] = price_section({r["model"] for r in records}, books.prices)
    return len(books_rows), len(extra)


def _checked(doc: JSON, status_info: JSON) -> tuple[JSON, JSON]:
    try:
        check_bundle(doc)
    except InputError as exc:
        if "status_page" not in doc or not (exc.field or "").startswith("$.status_page"):
            raise
        doc = {k: v for k, v in doc.items() if k != "status_page"}
        status_info = {**status_info, "state": "unreadable", "problem": f"{exc.field}: {exc.message}"}
        check_bundle(doc)
    return doc, status_info


def usage_records(
    books: Books, org_id: str, since: datetime, until: datetime, usage_dir: str | None = None
) -> list[JSON]:
    """The org's usage in ``[since, until]`` as contract rows, from both places it lives: the
    books' metered events, then what the usage log adds (one row per request id)."""
    from quotadesk.store.db import transaction
    from quotadesk.store.export import usage_rows

    with transaction(books.engine) as conn:
        rows = usage_rows(conn, org_id, since, until)
    log_rows = _log_rows(usage_dir, org_id, since, until)
    if not log_rows:
        return rows
    seen = {r["request_id"] for r in rows}
    extra = [r for r in log_rows if r["request_id"] not in seen]
    return sorted([*rows, *extra], key=lambda r: (r["ts"], r["request_id"]))
