"""Zammad: a trigger's webhook in (its default payload: ``ticket``, ``article``), internal notes out.

In: ``POST /hooks/zammad``, signed ``X-Hub-Signature: sha1=<hex>`` (the webhook's signature
token), one ``X-Zammad-Delivery`` per delivery. The default payload carries the ticket with
its customer (``ticket.customer.email``) and the article that fired the trigger; an article
from the customer that is not internal is the customer writing, anything else (an agent's
reply, a note, ours included) is skipped. The organization field is a ticket attribute
(setting ``zammad_org_field``).

Out: ``POST {zammad_url}/api/v1/ticket_articles`` with ``type: "note"``, ``internal: true``,
``Authorization: Token token={zammad_token}``; tags with ``POST /api/v1/tags/add``; the group
with ``PUT /api/v1/tickets/{id}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quotadesk.connectors.helpdesk import Inbound, as_html, as_map, email_of, plain, text_field
from quotadesk.connectors.outbound import Http

NAME = "zammad"


def parse(payload: Mapping[str, Any], *, org_field: str = "") -> Inbound:
    ticket = payload.get("ticket")
    if not isinstance(ticket, Mapping) or ticket.get("id") in (None, ""):
        raise ValueError("ticket.id: expected the trigger's default payload (ticket, article)")
    ref = text_field(ticket.get("id"), 64)
    article = as_map(payload.get("article"))
    customer = as_map(ticket.get("customer"))
    email = email_of(customer.get("email")) or email_of(article.get("from"))
    hint = text_field(ticket.get(org_field), 64) if org_field else ""
    base = Inbound(
        NAME,
        ref,
        "skip",
        subject=text_field(ticket.get("title"), 500),
        requester_email=email,
        org_hint=hint or None,
    )
    if not article:
        return _with(base, kind="skip", why="no article in the delivery")
    sender = str(article.get("sender") or "")
    if article.get("internal") or sender not in ("Customer", ""):
        return _with(
            base,
            kind="skip",
            why=f"an article by {sender or 'someone'} (internal: {bool(article.get('internal'))})",
        )
    body = plain(article.get("body"))
    if not body:
        return _with(base, kind="skip", why="an empty article")
    first = int(ticket.get("article_count") or 1) <= 1
    return _with(base, kind="ticket" if first else "message", body=body, extra={"article": article.get("id")})


def _with(base: Inbound, **changes: Any) -> Inbound:
    from dataclasses import replace

    return replace(base, **changes)


class Client:
    """Zammad's REST API with an API token."""

    def __init__(self, url: str, token: str, *, timeout: float, transport: Any = None) -> None:
        self.http = Http(
            url,
            {"Authorization": f"Token token={token}", "Content-Type": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def post_note(self, ticket_ref: str, text: str) -> str:
        body = {
            "ticket_id": int(ticket_ref) if ticket_ref.isdigit() else ticket_ref,
            "subject": "quotadesk diagnosis",
            "body": as_html(text),
            "content_type": "text/html",
            "type": "note",
            "internal": True,
        }
        answer = self.http.call("POST", "/api/v1/ticket_articles", body)
        return str((answer or {}).get("id", ""))

    def has_marker(self, ticket_ref: str, marker: str) -> bool:
        answer = self.http.call("GET", f"/api/v1/ticket_articles/by_ticket/{ticket_ref}")
        return any(marker in plain(a.get("body")) for a in answer or [] if isinstance(a, Mapping))

    def tag(self, ticket_ref: str, tag: str) -> None:
        self.http.call("POST", "/api/v1/tags/add", {"item": tag, "object": "Ticket", "o_id": int(ticket_ref)})

    def set_group(self, ticket_ref: str, group: str) -> None:
        self.http.call("PUT", f"/api/v1/tickets/{ticket_ref}", {"group": group})

    def requester_email(self, user_ref: str) -> str | None:
        return None
