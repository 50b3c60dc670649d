"""Help desks in and out: a ticket (or a customer's new message) becomes a case or updates one,
and the triage goes back to the ticket as an internal note.

Each desk's module turns its webhook payload into an ``Inbound`` (the ticket's reference, what
the customer wrote, who wrote it, the org id a form field carried) and knows its own API for
the note, the tag and the group (``DeskClient``). What is common lives here:

- **the organization** is found from the requester, in this order: the org id a custom field
  carried (setting ``<desk>_org_field``), the requester's email address, its domain (both kept
  as the org's contacts: ``quotadesk contact add``), and last an org id the customer wrote in
  the ticket (``org_…``, checked against the books). How it was found is noted on the case;
  a ticket whose org is found by none of them is triaged from its text alone.
- **idempotence**: the case is keyed by ``<desk>:<ticket id>`` (``cases.external_ref``); a
  delivery id seen before changes nothing; a message whose text the case already holds is not
  added again (a desk re-sending after a timeout), and what the desk echoes back of our own
  notes (agent or internal articles) is never read as the customer writing.
- **the note** is written for a triage whose diagnosis or draft reply differs from the last
  note's (a re-triage that concludes the same adds nothing), through the outbox, once: its
  key is ``note:<case>:<triage number>`` and each note carries a marker line the retry looks
  for on the ticket before posting again.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, select

from quotadesk.store.schema import cases, org_contacts, organizations

JSON = dict[str, Any]
ORG_ID = re.compile(r"\borg_[A-Za-z0-9][A-Za-z0-9_-]{2,62}\b")
TAG = re.compile(r"<[^>]+>")
MAX_TEXT = 100_000


@dataclass(frozen=True, slots=True)
class Inbound:
    """What a desk's webhook said: ``kind`` is ``ticket`` (new), ``message`` (the customer wrote
    again) or ``skip`` (an agent's reply, an internal note, an event we do not read), with why."""

    desk: str
    ticket_ref: str
    kind: str
    subject: str = ""
    body: str = ""
    requester_email: str | None = None
    org_hint: str | None = None
    received_at: datetime | None = None
    delivery_id: str | None = None
    why: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def external_ref(self) -> str:
        return f"{self.desk}:{self.ticket_ref}"


class DeskClient(Protocol):
    """A desk's API, as far as the note needs it."""

    def post_note(self, ticket_ref: str, text: str) -> str:
        """Write ``text`` as an internal (private) note; returns the desk's id of it."""
        ...

    def has_marker(self, ticket_ref: str, marker: str) -> bool:
        """Whether a note carrying ``marker`` is on the ticket already (a retry after a lost answer)."""
        ...

    def tag(self, ticket_ref: str, tag: str) -> None: ...

    def set_group(self, ticket_ref: str, group: str) -> None: ...

    def requester_email(self, user_ref: str) -> str | None:
        """The email of a user the payload names only by id (Zendesk's events), when the desk can say."""
        ...


def as_map(value: object) -> Mapping[str, Any]:
    """A payload's sub-object, or an empty one when the desk sent something else."""
    return value if isinstance(value, Mapping) else {}


def plain(text: object, limit: int = MAX_TEXT) -> str:
    """Text from a desk's HTML or plain body: tags dropped, entities decoded, spaces kept sane."""
    if not isinstance(text, str):
        return ""
    value = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", text)
    value = html.unescape(TAG.sub("", value))
    value = re.sub(r"[ \t]+\n", "\n", value)
    return re.sub(r"\n{3,}", "\n\n", value).strip()[:limit]


def text_field(value: object, limit: int = 1000) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ("" if value is None else str(value)[:limit])


def email_of(value: object) -> str | None:
    """An address from ``Name <a@b>`` or ``a@b``; None when there is none."""
    if not isinstance(value, str):
        return None
    m = re.search(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", value)
    return m.group(0).lower() if m else None


def body_delivery_id(body: bytes) -> str:
    """A delivery id for desks that send none: the body's hash (an identical re-send is a replay)."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


# ------------------------------------------------------------------------------ the organization


@dataclass(frozen=True, slots=True)
class Found:
    org_id: str | None
    how: str


def resolve_org(conn: Connection, inbound: Inbound) -> Found:
    """Which organization the ticket is about (see the module docstring for the order)."""

    def exists(org: str) -> bool:
        return conn.execute(select(organizations.c.id).where(organizations.c.id == org)).first() is not None

    hint = (inbound.org_hint or "").strip()
    if hint and exists(hint):
        return Found(hint, f"the ticket's organization field ({hint})")
    email = (inbound.requester_email or "").strip().lower()
    if email:
        org = conn.execute(
            select(org_contacts.c.org_id).where(org_contacts.c.kind == "email", org_contacts.c.value == email)
        ).scalar()
        if org:
            return Found(str(org), f"the requester's address {email}")
        domain = email.rpartition("@")[2]
        org = conn.execute(
            select(org_contacts.c.org_id).where(
                org_contacts.c.kind == "domain", org_contacts.c.value == domain
            )
        ).scalar()
        if org:
            return Found(str(org), f"the requester's email domain {domain}")
    for m in ORG_ID.finditer(f"{inbound.subject}\n{inbound.body}"):
        if exists(m.group(0)):
            return Found(
                m.group(0),
                f"an organization id the customer wrote in the ticket ({m.group(0)}; not verified)",
            )
    why = "no organization field, contact or organization id matched"
    if hint:
        why = f"the organization field names {hint!r}, which the books do not hold"
    return Found(None, why)


def case_by_ref(conn: Connection, external_ref: str) -> str | None:
    return conn.execute(select(cases.c.id).where(cases.c.external_ref == external_ref)).scalar()


def already_holds(ticket: Mapping[str, Any], text: str) -> bool:
    """Whether the case's ticket already has this text (its body or one of its messages)."""
    seen = [str(ticket.get("body") or "")] + [str(m.get("body") or "") for m in ticket.get("messages") or []]
    norm = " ".join(text.split())
    return any(" ".join(s.split()) == norm for s in seen)


# ------------------------------------------------------------------------------ the note


def fingerprint(result: Mapping[str, Any]) -> str:
    """What makes a new note worth writing: the diagnosis and the draft reply."""
    keep = {k: result.get(k) for k in ("incident", "root_cause", "route", "reply")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()[:16]


def marker(case_id: str, triage_no: int) -> str:
    return f"[quotadesk {case_id} triage {triage_no}]"


def render_note(case: Mapping[str, Any], triage_no: int, org_line: str | None = None) -> str:
    """The internal note: diagnosis, evidence, checklist, draft reply, escalation, sources."""
    t = case.get("triage") or {}
    lines = [
        f"quotadesk diagnosis (internal, not sent to the customer) - case {case['id']}, triage {triage_no}",
        f"Incident: {t.get('incident')}   Root cause: {t.get('root_cause')}   "
        f"Route: {t.get('route')}   Confidence: {t.get('confidence')}",
    ]
    lines.append(
        f"Organization: {case.get('org_id') or 'none linked'}"
        + (f" (found by {org_line})" if org_line else "")
    )
    if t.get("decision_path"):
        lines += ["", "Diagnosis:"] + [f"- {step}" for step in t["decision_path"]]
    if t.get("evidence"):
        lines += ["", "Evidence:"] + [f"- {e.get('fact')} ({e.get('source')})" for e in t["evidence"]]
    if t.get("fix"):
        lines += ["", "Fix:"] + [
            f"- {f.get('step')}" + (f" ({f.get('where')})" if f.get("where") else "") for f in t["fix"]
        ]
    if t.get("checklist"):
        lines += ["", "Checklist:"] + [
            f"- [{c.get('state')}] {c.get('step')}" + (f": {c.get('note')}" if c.get("note") else "")
            for c in t["checklist"]
        ]
    if t.get("questions"):
        lines += ["", "To ask or check:"] + [f"- {q}" for q in t["questions"]]
    esc = t.get("escalation")
    if isinstance(esc, Mapping):
        lines += ["", f"Escalate to {esc.get('team')}: {esc.get('summary')}"]
    sources = case.get("sources") or {}
    status = sources.get("status_page") if isinstance(sources, Mapping) else None
    if isinstance(status, Mapping) and status.get("state") not in (None, "read", "not_configured"):
        lines += ["", f"Status page: {status.get('state')} ({status.get('problem')})"]
    if t.get("reply"):
        lines += ["", "Draft reply (review before sending):", str(t["reply"])]
    lines += ["", marker(str(case["id"]), triage_no)]
    return "\n".join(lines)


def as_html(text: str) -> str:
    return "<p>" + html.escape(text).replace("\n\n", "</p><p>").replace("\n", "<br>") + "</p>"


def mapping_setting(value: str) -> dict[str, str]:
    """``billing_team=Billing,finance=12`` → {route: desk group}."""
    out = {}
    for part in value.split(","):
        key, sep, val = part.partition("=")
        if sep and key.strip() and val.strip():
            out[key.strip()] = val.strip()
    return out
