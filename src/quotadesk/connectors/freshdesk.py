"""Freshdesk: an automation rule's webhook in, private notes out.

In: ``POST /hooks/freshdesk``. Freshdesk signs nothing, so the rule's URL carries a shared
secret (``?secret=…``) or the rule sets the header ``X-Quotadesk-Secret`` (setting
``freshdesk_webhook_secret``). The body is the rule's JSON (``docs/connectors.md``), in
Freshdesk's own ``freshdesk_webhook`` form: ``ticket_id``, ``ticket_subject``,
``ticket_description``, ``ticket_contact_email``, ``ticket_latest_public_comment`` and the
organization field (``ticket_cf_<name>``, setting ``freshdesk_org_field``). The rule for
updates sends ``triggered_event`` so a reply from the customer reads as a new message.

Out: ``POST {freshdesk_url}/api/v2/tickets/{id}/notes`` with ``private: true``; tags and the
group with ``PUT /api/v2/tickets/{id}`` (tags are read first: that call replaces them);
basic auth ``{freshdesk_api_key}:X``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from quotadesk.connectors.helpdesk import Inbound, as_html, email_of, plain, text_field
from quotadesk.connectors.outbound import Http

NAME = "freshdesk"


def parse(payload: Mapping[str, Any], *, org_field: str = "") -> Inbound:
    hook = payload.get("freshdesk_webhook")
    if not isinstance(hook, Mapping) or hook.get("ticket_id") in (None, ""):
        raise ValueError("freshdesk_webhook.ticket_id: expected the rule's JSON of docs/connectors.md")
    ref = text_field(hook.get("ticket_id"), 64)
    event = str(hook.get("triggered_event") or "")
    latest = plain(hook.get("ticket_latest_public_comment"))
    if ":" in latest.split("\n", 1)[0]:
        latest = latest.split(":", 1)[1].strip()  # Freshdesk writes "Name : <comment>"
    field = org_field if org_field.startswith("ticket_") else f"ticket_cf_{org_field}" if org_field else ""
    updated = any(word in event.lower() for word in ("reply", "update", "comment"))
    return Inbound(
        NAME,
        ref,
        "message" if updated and latest else "ticket",
        subject=text_field(hook.get("ticket_subject"), 500),
        body=latest if updated and latest else plain(hook.get("ticket_description")),
        requester_email=email_of(hook.get("ticket_contact_email")),
        org_hint=(text_field(hook.get(field), 64) or None) if field else None,
    )


class Client:
    """Freshdesk's API v2 with an API key."""

    def __init__(self, url: str, api_key: str, *, timeout: float, transport: Any = None) -> None:
        auth = base64.b64encode(f"{api_key}:X".encode()).decode()
        self.http = Http(
            url,
            {"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def post_note(self, ticket_ref: str, text: str) -> str:
        answer = self.http.call(
            "POST", f"/api/v2/tickets/{ticket_ref}/notes", {"body": as_html(text), "private": True}
        )
        return str((answer or {}).get("id", ""))

    def has_marker(self, ticket_ref: str, marker: str) -> bool:
        answer = self.http.call("GET", f"/api/v2/tickets/{ticket_ref}/conversations")
        return any(
            marker in (str(c.get("body_text") or "") or plain(c.get("body")))
            for c in answer or []
            if isinstance(c, Mapping)
        )

    def tag(self, ticket_ref: str, tag: str) -> None:
        ticket = self.http.call("GET", f"/api/v2/tickets/{ticket_ref}") or {}
        tags = [t for t in ticket.get("tags") or [] if isinstance(t, str)]
        if tag not in tags:
            self.http.call("PUT", f"/api/v2/tickets/{ticket_ref}", {"tags": [*tags, tag]})

    def set_group(self, ticket_ref: str, group: str) -> None:
        value: Any = int(group) if group.isdigit() else group
        self.http.call("PUT", f"/api/v2/tickets/{ticket_ref}", {"group_id": value})

    def requester_email(self, user_ref: str) -> str | None:
        return None
