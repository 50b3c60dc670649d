"""From a help desk's webhook to a case, and from each triage back to the ticket.

``receive`` is what ``POST /hooks/<desk>`` does once the delivery is verified: read the
payload (the desk's module), find or open the case, add the customer's new message, record
the delivery. ``NoteWriter`` listens to the desk (``Desk.listeners``): after a triage of a
case that came from a desk, it queues the internal note (``helpdesk.render_note``) and
``send`` writes it through the desk's API from the outbox. See ``helpdesk`` for the rules.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select

from quotadesk.connectors import chatwoot, deliveries, freshdesk, zammad, zendesk
from quotadesk.connectors.helpdesk import (
    DeskClient,
    Inbound,
    already_holds,
    body_delivery_id,
    case_by_ref,
    fingerprint,
    marker,
    render_note,
    resolve_org,
)
from quotadesk.connectors.outbound import OutboundError
from quotadesk.connectors.outbox import Item, enqueue_once
from quotadesk.desk.service import Desk
from quotadesk.errors import InputError
from quotadesk.parse import ParseError, json_doc
from quotadesk.store.access import Actor, Role
from quotadesk.store.db import transaction
from quotadesk.store.errors import ConflictError
from quotadesk.store.schema import outbox

log = logging.getLogger("quotadesk.connectors")

PARSERS: dict[str, Callable[..., Inbound]] = {
    "zendesk": zendesk.parse,
    "zammad": zammad.parse,
    "freshdesk": freshdesk.parse,
    "chatwoot": chatwoot.parse,
}


@dataclass(frozen=True, slots=True)
class DeskSetup:
    """One configured desk: its client (None: notes are not written back), the org field,
    the route → group map and the tag prefix."""

    name: str
    client: DeskClient | None
    org_field: str = ""
    groups: Mapping[str, str] | None = None
    tag_prefix: str = ""


@dataclass(frozen=True, slots=True)
class Received:
    """What a delivery did, as the webhook answers it."""

    outcome: str
    case_id: str | None = None
    duplicate: bool = False
    why: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"received": True, "outcome": self.outcome, "duplicate": self.duplicate}
        if self.case_id:
            out["case_id"] = self.case_id
        if self.why:
            out["why"] = self.why
        return out


def actor(desk_name: str) -> Actor:
    return Actor(desk_name, Role.SYSTEM)


def _ticket(inbound: Inbound, now: datetime) -> dict[str, Any]:
    ticket: dict[str, Any] = {
        "id": inbound.external_ref,
        "received_at": (inbound.received_at or now).isoformat().replace("+00:00", "Z"),
        "subject": inbound.subject or "(no subject)",
        "body": inbound.body,
        "attachments": [],
    }
    return ticket


def receive(desk: Desk, setup: DeskSetup, body: bytes, delivery_id: str | None) -> Received:
    """Apply one verified delivery of ``setup.name`` (see the module docstring)."""
    try:
        payload = json_doc(body, "body")
    except ParseError as exc:
        raise InputError(f"the body is not JSON: {exc.message}", "body") from exc
    if not isinstance(payload, Mapping):
        raise InputError("expected a JSON object", "body")
    try:
        inbound = PARSERS[setup.name](payload, org_field=setup.org_field)
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        raise InputError(message or str(exc), field if message else "body") from exc
    delivery = delivery_id or inbound.delivery_id or body_delivery_id(body)
    engine = desk.engine
    with transaction(engine) as conn:
        if deliveries.seen(conn, setup.name, delivery) is not None:
            return Received("applied", case_by_ref(conn, inbound.external_ref), duplicate=True)
        case_id = case_by_ref(conn, inbound.external_ref)
    who = actor(setup.name)
    outcome, why = "applied", ""
    if inbound.kind == "skip":
        outcome, why = "ignored", inbound.why
    elif case_id is None:
        if not inbound.requester_email and setup.client is not None and inbound.extra.get("requester_id"):
            try:
                inbound = replace(
                    inbound, requester_email=setup.client.requester_email(inbound.extra["requester_id"])
                )
            except OutboundError as exc:
                log.warning(
                    "%s: could not read the requester of ticket %s: %s", setup.name, inbound.ticket_ref, exc
                )
        with transaction(engine) as conn:
            found = resolve_org(conn, inbound)
        if not inbound.body:
            outcome, why = "ignored", "a ticket without text"
        else:
            try:
                case = desk.open_case(
                    who, _ticket(inbound, desk.now()), org_id=found.org_id, external_ref=inbound.external_ref
                )
                case_id = case["id"]
                desk.note(
                    who,
                    case_id,
                    f"From {setup.name} ticket {inbound.ticket_ref}; organization: "
                    + (f"{found.org_id}, found by {found.how}" if found.org_id else f"none ({found.how})"),
                )
            except ConflictError:
                with transaction(engine) as conn:
                    case_id = case_by_ref(conn, inbound.external_ref)
                why = "the case was opened by a delivery racing this one"
    else:
        current = desk.case(who, case_id)
        if inbound.body and not already_holds(current["ticket"], inbound.body):
            desk.message(who, case_id, inbound.body)
        else:
            outcome, why = "ignored", "the case holds this text already"
    try:
        with transaction(engine) as conn:
            deliveries.record(
                conn,
                setup.name,
                delivery,
                desk.now(),
                event_type=inbound.kind,
                outcome=outcome,
                case_id=case_id,
                detail={"ticket": inbound.ticket_ref, "why": why} if why else {"ticket": inbound.ticket_ref},
            )
    except ConflictError:
        return Received(outcome, case_id, duplicate=True)
    return Received(outcome, case_id, why=why)


# ------------------------------------------------------------------------------ notes back


class NoteWriter:
    """Queues one internal note per triage worth writing, for cases that came from a desk."""

    def __init__(self, desk: Desk, setups: Mapping[str, DeskSetup]) -> None:
        self.desk = desk
        self.setups = setups

    def __call__(self, case_id: str) -> None:
        try:
            self._queue(case_id)
        except Exception:  # a note that cannot be queued must not undo the triage that was stored
            log.exception("could not queue the note of case %s", case_id)

    def _queue(self, case_id: str) -> None:
        from quotadesk.store.access import SYSTEM

        case = self.desk.case(SYSTEM, case_id, checked=True)
        ref = case.get("external_ref") or ""
        name, _, ticket_ref = ref.partition(":")
        setup = self.setups.get(name)
        if setup is None or setup.client is None or not ticket_ref:
            return
        number = int(case.get("triages") or 1)
        print_ = fingerprint(case["triage"])
        with transaction(self.desk.engine) as conn:
            last = conn.execute(
                select(outbox.c.payload)
                .where(outbox.c.case_id == case_id, outbox.c.channel == name)
                .order_by(outbox.c.id.desc())
                .limit(1)
            ).scalar()
        if last is not None and json.loads(last).get("fingerprint") == print_:
            return
        found = next(
            (
                n["text"].split("found by ", 1)[1]
                for n in case.get("notes", [])
                if "found by " in n.get("text", "")
            ),
            None,
        )
        t = case["triage"]
        payload = {
            "ticket": ticket_ref,
            "text": render_note(case, number, found),
            "marker": marker(case_id, number),
            "fingerprint": print_,
            "tag": f"{setup.tag_prefix}{t.get('incident')}" if setup.tag_prefix else None,
            "group": (setup.groups or {}).get(str(t.get("route"))),
        }
        enqueue_once(
            self.desk.engine,
            name,
            f"note:{case_id}:{number}",
            payload,
            self.desk.now(),
            case_id=case_id,
            org_id=case.get("org_id"),
        )


def sender(setup: DeskSetup) -> Callable[[Item], str]:
    """The outbox's sender for one desk: the note (unless a retry finds it there), the tag, the group."""

    def send(item: Item) -> str:
        client = setup.client
        if client is None:
            raise OutboundError(f"{setup.name} is not configured for notes", retry=False)
        p = item.payload
        ticket = str(p["ticket"])
        ref = ""
        if item.attempt == 1 or not client.has_marker(ticket, str(p["marker"])):
            ref = client.post_note(ticket, str(p["text"]))
        if p.get("tag"):
            client.tag(ticket, str(p["tag"]))
        if p.get("group"):
            client.set_group(ticket, str(p["group"]))
        return ref

    return send
