"""Cases: a ticket, its live triage, and everything the desk did about it, with its history kept.

A case is opened from a ticket (the case bundle's ``ticket`` shape), with or without the
organization. Each triage runs on a live bundle (``intake``) and is kept in the case's history
(append-only ``case_events``), so "what did the engine say when the customer first wrote, and
what does it say now" is always answerable. A case is triaged again when the customer writes
again, when it is linked to an organization, when that organization's books change through the
desk, or on request.

New cases wait in the support queue; ``escalate`` hands one to another team with the
escalation package. ``resolve`` enforces the checklist's step 5: a case that stayed with support
resolves only when the customer's API works again (the admission decision, replayed now for
their key and model, admits) and the case note records incident, root cause, fix and
recommendation; a case routed to another team may be closed on support's side once it has the
note. Replies pass the safety guard: a draft the guard would cut is refused, with the sentences
and the rules they break.

Every change is written to the audit log in the same transaction as the change itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from quotadesk.errors import InputError, NotFoundError
from quotadesk.store.access import Actor, audit, check
from quotadesk.store.errors import ConflictError
from quotadesk.store.schema import case_events, cases, organizations
from quotadesk.store.values import new_id

JSON = dict[str, Any]

TEAMS = ("support", "billing_team", "trust_and_safety", "finance", "security", "engineering")
STATUSES = ("open", "escalated", "resolved")
MAX_TEXT = 100_000
MAX_PAGE = 500
RETRIAGE_OPEN_CASES = 50
"""At most this many open cases of one org are re-triaged when its books change."""


def team_of(route: str) -> str:
    """The queue a triage route belongs to (``none``: support handles it)."""
    return "support" if route in ("none", "", None) else route


def check_text(value: object, field: str, *, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError("expected non-empty text", field)
    if len(value) > limit:
        raise InputError(f"at most {limit} characters", field)
    return value.strip()


def check_team(value: object) -> str:
    if not isinstance(value, str) or value not in TEAMS:
        raise InputError(f"expected one of {', '.join(TEAMS)}", "team")
    return value


@dataclass(frozen=True, slots=True)
class CaseRow:
    """A case as stored: ``ticket`` and ``triage`` are decoded JSON."""

    id: str
    org_id: str | None
    provider: str
    status: str
    team: str
    ticket: JSON
    triage: JSON
    external_ref: str | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    version: int

    def summary(self) -> JSON:
        t = self.triage
        return {
            "id": self.id,
            "status": self.status,
            "team": self.team,
            "org_id": self.org_id,
            "ticket_id": self.ticket.get("id"),
            "subject": self.ticket.get("subject") or "",
            "incident": t.get("incident"),
            "root_cause": t.get("root_cause"),
            "route": t.get("route"),
            "confidence": t.get("confidence"),
            "external_ref": self.external_ref,
            "created_at": _ts(self.created_at),
            "updated_at": _ts(self.updated_at),
            "resolved_at": _ts(self.resolved_at) if self.resolved_at else None,
        }


def _ts(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def row_of(r: Any) -> CaseRow:
    m = r._mapping
    return CaseRow(
        id=m["id"],
        org_id=m["org_id"],
        provider=m["provider"],
        status=m["status"],
        team=m["team"],
        ticket=json.loads(m["ticket"]),
        triage=json.loads(m["triage"]),
        external_ref=m["external_ref"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        resolved_at=m["resolved_at"],
        version=int(m["version"]),
    )


def load(conn: Connection, case_id: str, *, lock: bool = False) -> CaseRow:
    if not isinstance(case_id, str) or not case_id or len(case_id) > 64:
        raise NotFoundError(f"no case {case_id!r}", "case")
    stmt = select(cases).where(cases.c.id == case_id)
    if lock and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    r = conn.execute(stmt).first()
    if r is None:
        raise NotFoundError(f"no case {case_id!r}", "case")
    return row_of(r)


def add_event(conn: Connection, case_id: str, at: datetime, kind: str, actor: Actor, **detail: Any) -> None:
    conn.execute(
        insert(case_events).values(
            case_id=case_id,
            at=at,
            kind=kind,
            actor=actor.name,
            role=actor.role.value,
            detail=json.dumps(detail, sort_keys=True, default=str, ensure_ascii=False),
        )
    )


def events(conn: Connection, case_id: str) -> list[JSON]:
    rows = conn.execute(
        select(case_events).where(case_events.c.case_id == case_id).order_by(case_events.c.id)
    )
    return [
        {"at": _ts(r.at), "kind": r.kind, "actor": r.actor, "role": r.role, **json.loads(r.detail)}
        for r in rows
    ]


def insert_case(
    conn: Connection,
    *,
    org_id: str | None,
    provider: str,
    ticket: JSON,
    result: JSON,
    now: datetime,
    external_ref: str | None,
) -> str:
    case_id = new_id("case")
    if external_ref is not None:
        taken = conn.execute(select(cases.c.id).where(cases.c.external_ref == external_ref)).scalar()
        if taken is not None:
            raise ConflictError(f"a case for {external_ref} exists already: {taken}", "external_ref")
    conn.execute(
        insert(cases).values(
            id=case_id,
            org_id=org_id,
            provider=provider,
            status="open",
            team="support",
            incident=result["incident"],
            root_cause=result["root_cause"],
            route=result["route"],
            ticket=json.dumps(ticket, ensure_ascii=False),
            triage=json.dumps(result, ensure_ascii=False),
            external_ref=external_ref,
            created_at=now,
            updated_at=now,
        )
    )
    return case_id


def save(conn: Connection, case: CaseRow, now: datetime, **values: Any) -> None:
    """Update a case's current state (its history is the events); bumps the version."""
    if "triage" in values:
        t = values["triage"]
        values |= {"incident": t["incident"], "root_cause": t["root_cause"], "route": t["route"]}
        values["triage"] = json.dumps(t, ensure_ascii=False)
    if "ticket" in values:
        values["ticket"] = json.dumps(values["ticket"], ensure_ascii=False)
    conn.execute(
        update(cases)
        .where(cases.c.id == case.id)
        .values(**values, updated_at=now, version=cases.c.version + 1)
    )


def org_exists(conn: Connection, org_id: str) -> None:
    if not isinstance(org_id, str) or not org_id or len(org_id) > 64:
        raise NotFoundError(f"no organization {org_id!r}", "org_id")
    found = conn.execute(select(organizations.c.id).where(organizations.c.id == org_id)).first()
    if found is None:
        raise NotFoundError(f"no organization {org_id!r}", "org_id")


def open_org_cases(conn: Connection, org_id: str) -> list[str]:
    rows = conn.execute(
        select(cases.c.id)
        .where(cases.c.org_id == org_id, cases.c.status != "resolved")
        .order_by(cases.c.updated_at.desc())
        .limit(RETRIAGE_OPEN_CASES)
    )
    return [str(r[0]) for r in rows]


def queue(
    conn: Connection,
    *,
    status: str | None,
    team: str | None,
    incident: str | None,
    org_id: str | None,
    limit: int,
    after: tuple[datetime, str] | None,
    newest_first: bool,
) -> list[CaseRow]:
    """A page of the queue, oldest waiting first (or newest first), by index on team/status/created."""
    stmt = select(cases)
    if status is not None:
        stmt = stmt.where(cases.c.status == status)
    if team is not None:
        stmt = stmt.where(cases.c.team == team)
    if incident is not None:
        stmt = stmt.where(cases.c.incident == incident)
    if org_id is not None:
        stmt = stmt.where(cases.c.org_id == org_id)
    if after is not None:
        at, cid = after
        if newest_first:
            stmt = stmt.where((cases.c.created_at < at) | ((cases.c.created_at == at) & (cases.c.id < cid)))
        else:
            stmt = stmt.where((cases.c.created_at > at) | ((cases.c.created_at == at) & (cases.c.id > cid)))
    order = (
        (cases.c.created_at.desc(), cases.c.id.desc()) if newest_first else (cases.c.created_at, cases.c.id)
    )
    return [row_of(r) for r in conn.execute(stmt.order_by(*order).limit(limit))]


def counts(conn: Connection) -> dict[str, dict[str, int]]:
    """Cases per team and status (the queue's headline numbers)."""
    out: dict[str, dict[str, int]] = {t: dict.fromkeys(STATUSES, 0) for t in TEAMS}
    rows = conn.execute(
        select(cases.c.team, cases.c.status, func.count()).group_by(cases.c.team, cases.c.status)
    )
    for team, status, n in rows:
        out.setdefault(team, dict.fromkeys(STATUSES, 0))[status] = int(n)
    return out


def escalation_package(case: CaseRow, team: str, note: str | None) -> JSON:
    """What the receiving team needs: the engine's package when its route agrees, else one built
    from the case (summary, account, date range, request ids and figures from the evidence)."""
    t = case.triage
    pkg = t.get("escalation")
    if isinstance(pkg, Mapping) and pkg.get("team") == team:
        out = dict(pkg)
    else:
        out = {
            "team": team,
            "summary": f"{t.get('incident')} / {t.get('root_cause')}: {case.ticket.get('subject') or ''}".strip(),
            "account_id": case.org_id,
            "date_range": (pkg or {}).get("date_range") if isinstance(pkg, Mapping) else None,
            "request_ids": list((pkg or {}).get("request_ids") or []) if isinstance(pkg, Mapping) else [],
            "figures": dict((pkg or {}).get("figures") or {}) if isinstance(pkg, Mapping) else {},
        }
    out["case_id"] = case.id
    out["evidence"] = list(t.get("evidence") or [])
    if note:
        out["note"] = note
    return out


RESOLUTION_PARTS = ("incident", "root_cause", "fix", "recommendation")


def resolution_note(case: CaseRow, given: Mapping[str, str | None]) -> tuple[JSON, list[str]]:
    """The case note (incident, root cause, fix, recommendation) from the triage, completed by
    what the engineer wrote; and which parts are still missing."""
    t = case.triage
    incident = given.get("incident") or (t.get("incident") if t.get("incident") != "needs_info" else None)
    root = given.get("root_cause") or (t.get("root_cause") if t.get("root_cause") != "undetermined" else None)
    fixes = [f.get("step") for f in t.get("fix") or [] if isinstance(f, Mapping) and f.get("step")]
    fix = given.get("fix") or ("; ".join(str(f) for f in fixes) if fixes else None)
    recs = [str(r) for r in t.get("recommendations") or [] if r]
    rec = given.get("recommendation") or ("; ".join(recs) if recs else None)
    note = {
        "incident": incident,
        "root_cause": root,
        "fix": fix,
        "recommendation": rec,
        "text": given.get("note") or "",
    }
    missing = [p for p in RESOLUTION_PARTS if not note[p]]
    return note, missing


def authorise(
    conn_engine: Any, actor: Actor, action: str, now: datetime, case: CaseRow | None, **detail: Any
) -> None:
    check(
        conn_engine,
        actor,
        action,
        now,
        org_id=case.org_id if case else None,
        case_id=case.id if case else None,
        target=f"case:{case.id}" if case else None,
        **detail,
    )


def audit_case(
    conn: Connection,
    actor: Actor,
    action: str,
    now: datetime,
    case_id: str,
    org_id: str | None,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    **detail: Any,
) -> None:
    audit(
        conn,
        actor,
        action,
        now,
        org_id=org_id,
        target=f"case:{case_id}",
        case_id=case_id,
        before=before,
        after=after,
        **detail,
    )


def combined_ticket(ticket: JSON) -> JSON:
    """The ticket as the triage engine reads it: every message of the customer, in order."""
    out = {k: v for k, v in ticket.items() if k != "messages"}
    messages: Sequence[Mapping[str, Any]] = ticket.get("messages") or []
    if messages:
        out["body"] = "\n\n".join([ticket.get("body") or "", *(str(m.get("body") or "") for m in messages)])
        out["attachments"] = [
            *(ticket.get("attachments") or []),
            *(a for m in messages for a in (m.get("attachments") or [])),
        ]
    return out
