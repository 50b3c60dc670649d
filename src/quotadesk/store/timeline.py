"""The account timeline: every event of an organization's books, in time order.

"Where did my credits go?" is the question customers ask most, and the answer is spread over
the books: payments (with their decline codes), grants and their expiry, auto-recharge
attempts and the notices saying why one did not fire, limit, tier and rate-limit changes,
flags raised and lifted, keys created and revoked, invoices, cut-offs and when access came
back. Each source is read newest first by its own ``(org_id, time)`` index, ``limit`` rows at
most, and the streams are merged: a page costs a few indexed reads however long the history.

Paging goes backwards in time: ``before`` is the opaque cursor of the oldest event of the
previous page (time, then a stable key, so events sharing a timestamp are neither lost nor
repeated). The page itself is returned oldest first, as a timeline is read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from quotadesk.errors import InputError
from quotadesk.money import fmt
from quotadesk.store import paging
from quotadesk.store.db import transaction
from quotadesk.store.schema import (
    api_keys,
    audit_log,
    credit_grants,
    flags,
    invoices,
    notices,
    payments,
    usage_events,
)
from quotadesk.store.snapshot import org_row

MAX_LIMIT = 1_000
SETTINGS_ACTIONS = {
    "set_limits": "limits_changed",
    "set_auto_recharge": "auto_recharge_changed",
    "set_tier": "tier_changed",
    "tier": "tier_changed",
    "set_rate_limits": "rate_limits_changed",
    "link_stripe": "stripe_linked",
    "waive_invoice": "invoice_waived",
    "create_org": "account_created",
}
CUT_OFF_NOTICES = ("credits_exhausted", "hard_limit_reached", "invoice_overdue")


@dataclass(frozen=True, slots=True, order=True)
class Event:
    """One line of the timeline; ``key`` breaks ties between events of the same instant."""

    at: datetime
    key: str
    kind: str = field(compare=False)
    summary: str = field(compare=False)
    detail: dict[str, Any] = field(compare=False, default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"at": _rfc3339(self.at), "kind": self.kind, "summary": self.summary, **self.detail}


@dataclass(frozen=True, slots=True)
class Page:
    """Events oldest first, and the cursor of the page before them (None: the start of history)."""

    events: list[Event]
    before: str | None


def _rfc3339(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


Source = Callable[[Connection, str, "datetime | None", int], Iterable[Event]]


def _newest(
    conn: Connection, table: Any, when: str, org_id: str, before: datetime | None, limit: int, *where: Any
) -> Any:
    """Rows of ``table`` for ``org_id`` newest first by column ``when`` (set, and not after
    ``before``), with any further ``where``: one read of the table's ``(org_id, when)`` index."""
    col = table.c[when]
    stmt = select(table).where(table.c.org_id == org_id, col.is_not(None), *where)
    if before is not None:
        stmt = stmt.where(col <= before)
    return conn.execute(stmt.order_by(col.desc(), table.c.id.desc()).limit(limit))


def _payments(conn: Connection, org_id: str, before: datetime | None, limit: int) -> Iterable[Event]:
    rows = _newest(conn, payments, "at", org_id, before, limit)
    for r in rows:
        what = {"top_up": "Top-up", "auto_recharge": "Auto-recharge", "invoice": "Invoice payment"}.get(
            r.purpose, r.purpose
        )
        status = r.status
        summary = f"{what} of {fmt(int(r.amount))} {status}"
        if r.failure_code:
            summary += f" ({r.failure_code.replace('_', ' ')})"
        yield Event(
            r.at,
            f"payment:{r.id}",
            f"payment_{status}",
            summary,
            {
                "payment": r.id,
                "purpose": r.purpose,
                "amount": _dollars(r.amount),
                "failure_code": r.failure_code,
            },
        )


def _dollars(nanos: int) -> str:
    from quotadesk.store.export import exact

    return exact(int(nanos))


def _grants(conn: Connection, org_id: str, before: datetime | None, limit: int) -> Iterable[Event]:
    rows = _newest(conn, credit_grants, "granted_at", org_id, before, limit)
    for r in rows:
        expiry = f", expires {r.expires_at:%Y-%m-%d}" if r.expires_at else ""
        yield Event(
            r.granted_at,
            f"grant:{r.id}",
            "grant_added",
            f"{r.kind.replace('_', ' ').capitalize()} credit of {fmt(int(r.amount))} added{expiry}",
            {
                "grant": r.id,
                "grant_kind": r.kind,
                "amount": _dollars(r.amount),
                "expires_at": _rfc3339(r.expires_at) if r.expires_at else None,
            },
        )
    expired = _newest(conn, credit_grants, "expired_at", org_id, before, limit)
    for r in expired:
        yield Event(
            r.expired_at,
            f"grant_expired:{r.id}",
            "grant_expired",
            f"{r.kind.replace('_', ' ').capitalize()} credit {r.id} expired; its remainder is no longer spendable",
            {"grant": r.id, "grant_kind": r.kind},
        )


def _notices(conn: Connection, org_id: str, before: datetime | None, limit: int) -> Iterable[Event]:
    return _notice_events(_newest(conn, notices, "at", org_id, before, limit))


def _notice_events(rows: Iterable[Any]) -> Iterable[Event]:
    for r in rows:
        detail = json.loads(r.detail or "{}")
        cut_off = r.kind in CUT_OFF_NOTICES
        words = r.kind.replace("_", " ")
        summary = f"Requests refused: {words}" if cut_off else f"Notice sent: {words}"
        if detail.get("reason"):
            summary += f" ({str(detail['reason']).replace('_', ' ')})"
        yield Event(
            r.at,
            f"notice:{r.id}",
            "cut_off" if cut_off else "notice",
            summary,
            {"notice": r.kind, **{k: v for k, v in detail.items() if k != "notice"}},
        )


def _flags(conn: Connection, org_id: str, before: datetime | None, limit: int) -> Iterable[Event]:
    raised = _newest(conn, flags, "at", org_id, before, limit)
    for r in raised:
        yield Event(
            r.at,
            f"flag:{r.id}",
            "flag_raised",
            f"Account suspended: {r.kind.replace('_', ' ')} flag raised ({r.source})",
            {"flag": r.id, "flag_kind": r.kind, "source": r.source},
        )
    lifted = _newest(conn, flags, "lifted_at", org_id, before, limit)
    for r in lifted:
        yield Event(
            r.lifted_at,
            f"flag_lifted:{r.id}",
            "flag_lifted",
            f"{r.kind.replace('_', ' ').capitalize()} flag lifted by {r.lifted_by}",
            {"flag": r.id, "flag_kind": r.kind, "lifted_by": r.lifted_by},
        )


def _keys(conn: Connection, org_id: str, before: datetime | None, limit: int) -> Iterable[Event]:
    made = _newest(conn, api_keys, "created_at", org_id, before, limit)
    for r in made:
        owner = f", owner {r.owner}" if r.owner else ""
        yield Event(
            r.created_at,
            f"key:{r.id}",
            "key_created",
            f"API key {r.redacted} created ({r.scope}{owner})",
            {"key": r.id, "redacted": r.redacted, "scope": r.scope},
        )
    revoked = _newest(conn, api_keys, "revoked_at", org_id, before, limit)
    for r in revoked:
        why = " (its owner left)" if not r.owner_active else ""
        yield Event(
            r.revoked_at,
            f"key_revoked:{r.id}",
            "key_revoked",
            f"API key {r.redacted} revoked{why}",
            {"key": r.id, "redacted": r.redacted},
        )


def _invoices(conn: Connection, org_id: str, before: datetime | None, limit: int) -> Iterable[Event]:
    issued = _newest(conn, invoices, "issued_at", org_id, before, limit)
    for r in issued:
        due = f", due {r.due_at:%Y-%m-%d}" if r.due_at else ""
        yield Event(
            r.issued_at,
            f"invoice:{r.id}",
            "invoice_issued",
            f"Invoice {r.id} for {r.period_start:%B %Y} issued: {fmt(int(r.amount))}{due}",
            {"invoice": r.id, "amount": _dollars(r.amount)},
        )
    paid = _newest(conn, invoices, "paid_at", org_id, before, limit)
    for r in paid:
        yield Event(
            r.paid_at,
            f"invoice_paid:{r.id}",
            "invoice_paid",
            f"Invoice {r.id} paid",
            {"invoice": r.id, "amount": _dollars(r.amount)},
        )


def _changes(conn: Connection, org_id: str, before: datetime | None, limit: int) -> Iterable[Event]:
    rows = _newest(
        conn,
        audit_log,
        "at",
        org_id,
        before,
        limit,
        audit_log.c.outcome == "ok",
        audit_log.c.action.in_(list(SETTINGS_ACTIONS)),
    )
    for r in rows:
        before_v = json.loads(r.before) if r.before else None
        after_v = json.loads(r.after) if r.after else None
        kind = SETTINGS_ACTIONS[r.action]
        yield Event(
            r.at,
            f"audit:{r.id}",
            kind,
            _change_summary(kind, before_v, after_v, r.actor),
            {"by": r.actor, "role": r.role, "before": before_v, "after": after_v},
        )


def _change_summary(kind: str, before: Any, after: Any, actor: str) -> str:
    label = kind.replace("_", " ").capitalize()
    if isinstance(after, dict) and kind == "limits_changed":
        parts = [
            f"{k.split('_')[0]} {fmt(int(v)) if isinstance(v, int) else 'none'}" for k, v in after.items()
        ]
        return f"Monthly limits set: {', '.join(parts)} (by {actor})"
    if isinstance(after, dict) and kind == "tier_changed":
        tier = after.get("tier") or after.get("tier_current") or after.get("tier_pending_target")
        return f"Tier changed to {tier} (by {actor})" if tier else f"{label} (by {actor})"
    return f"{label} (by {actor})"


SOURCES: tuple[Source, ...] = (_payments, _grants, _notices, _flags, _keys, _invoices, _changes)


def _restored(conn: Connection, org_id: str, cut_offs: list[Event], until: datetime | None) -> list[Event]:
    """For each cut-off, the first successful request after it (before the next cut-off)."""
    out = []
    ordered = sorted(cut_offs)
    for i, ev in enumerate(ordered):
        nxt = ordered[i + 1].at if i + 1 < len(ordered) else None
        conds = [usage_events.c.org_id == org_id, usage_events.c.ts > ev.at, usage_events.c.status < 400]
        if nxt is not None:
            conds.append(usage_events.c.ts < nxt)
        first = conn.execute(select(func.min(usage_events.c.ts)).where(*conds)).scalar()
        if first is not None and (until is None or first <= until):
            out.append(
                Event(
                    first,
                    f"restored:{ev.key}",
                    "access_restored",
                    "Requests succeed again (first successful request after the cut-off)",
                    {"after": ev.detail.get("notice")},
                )
            )
    return out


def timeline(engine: Engine, org_id: str, *, before: str | None = None, limit: int = 200) -> Page:
    """A page of ``org_id``'s timeline ending just before cursor ``before`` (None: now)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"expected a whole number from 1 to {MAX_LIMIT}", "limit")
    cursor = paging.decode(before, "before") if before else None
    until = cursor[0] if cursor else None
    with transaction(engine) as conn:
        org_row(conn, org_id)
        events: list[Event] = []
        for source in SOURCES:
            events.extend(source(conn, org_id, until, limit + 1))
        # A restoration lies between its cut-off and the next one, so the page can hold the
        # restoration of at most one cut-off older than the page: read one more than a page holds.
        cut_off_rows = _newest(
            conn, notices, "at", org_id, until, limit + 2, notices.c.kind.in_(sorted(CUT_OFF_NOTICES))
        )
        cut_offs = [e for e in _notice_events(cut_off_rows)]
        events.extend(_restored(conn, org_id, cut_offs, until))
    if cursor is not None:
        events = [e for e in events if (e.at, e.key) < cursor]
    events.sort(reverse=True)
    page = events[:limit]
    more = len(events) > limit
    page.reverse()
    return Page(page, paging.encode(page[0].at, page[0].key) if more and page else None)
