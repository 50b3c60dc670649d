"""Zendesk: webhooks in (event subscriptions or a trigger's JSON), private comments out.

In: ``POST /hooks/zendesk``, signed ``X-Zendesk-Webhook-Signature`` = base64 HMAC-SHA256 of
``X-Zendesk-Webhook-Signature-Timestamp`` + body. Two shapes are read:

- an event subscription: ``{"type": "zen:event-type:ticket.created" | "…ticket.comment_added",
  "id", "detail": {ticket}, "event": {...}}``; the requester is only an id there, so the
  address is asked of ``GET /api/v2/users/{id}.json``; a comment by staff or a private one is
  skipped;
- a trigger's webhook with the JSON body of ``docs/connectors.md``: ``{"ticket": {"id",
  "subject", "description", "latest_comment", "requester_email", "org_id"}}`` (Zendesk fills the
  placeholders; the org id is the custom field's placeholder).

Out: ``PUT {zendesk_url}/api/v2/tickets/{id}.json`` with ``{"ticket": {"comment": {"body",
"public": false}}}`` (a private comment), ``additional_tags`` for the incident and
``group_id`` for the route; basic auth ``{zendesk_email}/token:{zendesk_token}``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from quotadesk.connectors.helpdesk import Inbound, as_map, email_of, plain, text_field
from quotadesk.connectors.outbound import Http

NAME = "zendesk"
EVENT_CREATED = "zen:event-type:ticket.created"
EVENT_COMMENT = "zen:event-type:ticket.comment_added"


def parse(payload: Mapping[str, Any], *, org_field: str = "") -> Inbound:
    kind = payload.get("type")
    if isinstance(kind, str) and kind.startswith("zen:event-type:"):
        return _event(payload, kind, org_field)
    ticket = payload.get("ticket")
    if not isinstance(ticket, Mapping) or ticket.get("id") in (None, ""):
        raise ValueError(
            "ticket.id: expected an event subscription or the trigger body of docs/connectors.md"
        )
    ref = text_field(ticket.get("id"), 64)
    description = plain(ticket.get("description"))
    latest = plain(ticket.get("latest_comment"))
    return Inbound(
        NAME,
        ref,
        "ticket",
        subject=text_field(ticket.get("subject"), 500),
        body=description or latest,
        requester_email=email_of(ticket.get("requester_email")),
        org_hint=text_field(ticket.get("org_id"), 64) or None,
        extra={"latest_comment": latest},
    )


def _event(payload: Mapping[str, Any], kind: str, org_field: str) -> Inbound:
    detail = as_map(payload.get("detail"))
    ref = text_field(detail.get("id"), 64)
    if not ref:
        raise ValueError("detail.id: the event names no ticket")
    delivery = text_field(payload.get("id"), 200) or None
    base = Inbound(
        NAME,
        ref,
        "skip",
        subject=text_field(detail.get("subject"), 500),
        delivery_id=delivery,
        extra={"requester_id": text_field(detail.get("requester_id"), 64)},
    )
    if kind == EVENT_CREATED:
        return replace(base, kind="ticket", body=plain(detail.get("description")))
    if kind == EVENT_COMMENT:
        event = as_map(payload.get("event"))
        comment = as_map(event.get("comment"))
        author = as_map(comment.get("author"))
        if author.get("is_staff") or comment.get("is_public") is False:
            return replace(base, why="a staff or private comment")
        body = plain(comment.get("body"))
        return replace(base, kind="message", body=body) if body else replace(base, why="an empty comment")
    return replace(base, why=f"{kind} is not an event the desk reads")


class Client:
    """Zendesk's Support API with an API token."""

    def __init__(self, url: str, email: str, token: str, *, timeout: float, transport: Any = None) -> None:
        auth = base64.b64encode(f"{email}/token:{token}".encode()).decode()
        self.http = Http(
            url,
            {"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def post_note(self, ticket_ref: str, text: str) -> str:
        answer = self.http.call(
            "PUT",
            f"/api/v2/tickets/{ticket_ref}.json",
            {"ticket": {"comment": {"body": text, "public": False}}},
        )
        audit = (answer or {}).get("audit") or {}
        return str(audit.get("id", "")) if isinstance(audit, Mapping) else ""

    def has_marker(self, ticket_ref: str, marker: str) -> bool:
        answer = self.http.call("GET", f"/api/v2/tickets/{ticket_ref}/comments.json")
        comments = (answer or {}).get("comments") or []
        return any(
            marker in str(c.get("body") or c.get("plain_body") or "")
            for c in comments
            if isinstance(c, Mapping)
        )

    def tag(self, ticket_ref: str, tag: str) -> None:
        self.http.call("PUT", f"/api/v2/tickets/{ticket_ref}.json", {"ticket": {"additional_tags": [tag]}})

    def set_group(self, ticket_ref: str, group: str) -> None:
        value: Any = int(group) if group.isdigit() else group
        self.http.call("PUT", f"/api/v2/tickets/{ticket_ref}.json", {"ticket": {"group_id": value}})

    def requester_email(self, user_ref: str) -> str | None:
        if not user_ref:
            return None
        answer = self.http.call("GET", f"/api/v2/users/{user_ref}.json")
        user = (answer or {}).get("user") or {}
        return email_of(user.get("email")) if isinstance(user, Mapping) else None
