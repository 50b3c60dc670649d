"""Chatwoot: account webhooks in (``conversation_created``, ``message_created``), private notes out.

In: ``POST /hooks/chatwoot``, signed ``X-Chatwoot-Signature: sha256=<hex>`` = HMAC-SHA256 of
``{X-Chatwoot-Timestamp}.{body}`` with the webhook's secret, one ``X-Chatwoot-Delivery`` per
delivery. A conversation is the ticket (``conversation.id``); an ``incoming`` message that is
not private is the customer writing; outgoing, private and activity messages (our notes come
back as ``message_created`` too) are skipped. The contact's email is ``sender.email`` (or
``meta.sender.email``); the organization field is a conversation or contact custom attribute
(setting ``chatwoot_org_field``).

Out: ``POST {chatwoot_url}/api/v1/accounts/{chatwoot_account_id}/conversations/{id}/messages``
with ``message_type: "outgoing"``, ``private: true``, header ``api_access_token``; labels for
the incident, a team assignment for the route.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quotadesk.connectors.helpdesk import Inbound, as_map, email_of, plain, text_field
from quotadesk.connectors.outbound import Http

NAME = "chatwoot"
INCOMING = ("incoming", 0)


def _attr(field: str, *holders: Mapping[str, Any]) -> str | None:
    if not field:
        return None
    for holder in holders:
        value = as_map(holder.get("custom_attributes")).get(field)
        if value not in (None, ""):
            return text_field(value, 64)
    return None


def parse(payload: Mapping[str, Any], *, org_field: str = "") -> Inbound:
    event = payload.get("event")
    if event == "conversation_created":
        conv = payload
        messages = [m for m in payload.get("messages") or [] if isinstance(m, Mapping)]
        message = next(
            (m for m in messages if m.get("message_type") in INCOMING and not m.get("private")), None
        )
        sender = as_map(as_map(conv.get("meta")).get("sender"))
    elif event == "message_created":
        conv = as_map(payload.get("conversation"))
        message = payload
        sender = as_map(payload.get("sender")) or as_map(as_map(conv.get("meta")).get("sender"))
    else:
        raise ValueError(f"event: expected conversation_created or message_created, got {event!r}")
    ref = text_field(conv.get("id"), 64)
    if not ref:
        raise ValueError("conversation.id: the event names no conversation")
    base: dict[str, Any] = {
        "desk": NAME,
        "ticket_ref": ref,
        "requester_email": email_of(sender.get("email")),
        "org_hint": _attr(org_field, conv, sender),
        "subject": text_field(as_map(conv.get("additional_attributes")).get("mail_subject"), 500),
    }
    if message is None:
        return Inbound(kind="skip", why="no incoming message yet", **base)
    if message.get("message_type") not in INCOMING or message.get("private"):
        return Inbound(kind="skip", why="an outgoing, private or activity message", **base)
    body = plain(message.get("content"))
    if not body:
        return Inbound(kind="skip", why="an empty message", **base)
    kind = "ticket" if event == "conversation_created" else "message"
    return Inbound(kind=kind, body=body, extra={"message": message.get("id")}, **base)


class Client:
    """Chatwoot's application API with an agent's (or bot's) access token."""

    def __init__(
        self, url: str, token: str, account_id: str, *, timeout: float, transport: Any = None
    ) -> None:
        self.account = account_id
        self.http = Http(
            url,
            {"api_access_token": token, "Content-Type": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def _conv(self, ref: str) -> str:
        return f"/api/v1/accounts/{self.account}/conversations/{ref}"

    def post_note(self, ticket_ref: str, text: str) -> str:
        body = {"content": text, "message_type": "outgoing", "private": True}
        answer = self.http.call("POST", f"{self._conv(ticket_ref)}/messages", body)
        return str((answer or {}).get("id", ""))

    def has_marker(self, ticket_ref: str, marker: str) -> bool:
        answer = self.http.call("GET", f"{self._conv(ticket_ref)}/messages") or {}
        messages = answer.get("payload") if isinstance(answer, Mapping) else answer
        return any(marker in str(m.get("content") or "") for m in messages or [] if isinstance(m, Mapping))

    def tag(self, ticket_ref: str, tag: str) -> None:
        answer = self.http.call("GET", f"{self._conv(ticket_ref)}/labels") or {}
        labels = (
            [x for x in (answer.get("payload") or []) if isinstance(x, str)]
            if isinstance(answer, Mapping)
            else []
        )
        if tag not in labels:
            self.http.call("POST", f"{self._conv(ticket_ref)}/labels", {"labels": [*labels, tag]})

    def set_group(self, ticket_ref: str, group: str) -> None:
        value: Any = int(group) if group.isdigit() else group
        self.http.call("POST", f"{self._conv(ticket_ref)}/assignments", {"team_id": value})

    def requester_email(self, user_ref: str) -> str | None:
        return None
