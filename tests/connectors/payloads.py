"""Real-shaped payloads: Stripe objects as its API reference shows them (trimmed to the fields
a handler may read, keeping their names, nesting and types), and each help desk's webhook body."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

NOW = datetime(2026, 11, 14, 9, 0, tzinfo=UTC)
T0 = int(NOW.timestamp())
CUS = "cus_NffrFeUfNV2Hib"
PM = "pm_1MqLiJLkdIwHu7ixUEgbFdYF"


def event(kind: str, obj: dict[str, Any], *, eid: str, created: int = T0) -> dict[str, Any]:
    return {
        "id": eid,
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }


def card(last4: str = "0341", exp_month: int = 12, exp_year: int = 2030) -> dict[str, Any]:
    return {
        "brand": "visa",
        "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
        "country": "US",
        "exp_month": exp_month,
        "exp_year": exp_year,
        "fingerprint": "mToisGZ01V71BCos",
        "funding": "credit",
        "last4": last4,
        "networks": {"available": ["visa"], "preferred": None},
        "three_d_secure_usage": {"supported": True},
        "wallet": None,
    }


def payment_intent_failed(
    pi: str,
    ch: str,
    *,
    amount: int = 2000,
    decline: str = "insufficient_funds",
    code: str = "card_declined",
    advice: str | None = "try_again_later",
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "charge": ch,
        "code": code,
        "decline_code": decline,
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        "message": "Your card has insufficient funds.",
        "payment_method": {
            "id": PM,
            "object": "payment_method",
            "billing_details": {"email": "dana@acme.io"},
            "card": card(),
            "created": T0 - 86400,
            "customer": CUS,
            "type": "card",
        },
        "type": "card_error",
    }
    if advice:
        error["advice_code"] = advice
    return {
        "id": pi,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": 0,
        "capture_method": "automatic",
        "client_secret": f"{pi}_secret_x",
        "confirmation_method": "automatic",
        "created": T0 - 5,
        "currency": "usd",
        "customer": CUS,
        "description": "Credit top-up",
        "invoice": None,
        "last_payment_error": error,
        "latest_charge": ch,
        "livemode": False,
        "metadata": {},
        "payment_method": None,
        "payment_method_types": ["card"],
        "status": "requires_payment_method",
    }


def charge_failed(
    pi: str,
    ch: str,
    *,
    amount: int = 2000,
    reason: str = "insufficient_funds",
    code: str = "card_declined",
    advice: str | None = "try_again_later",
) -> dict[str, Any]:
    outcome: dict[str, Any] = {
        "network_status": "declined_by_network",
        "reason": reason,
        "risk_level": "normal",
        "risk_score": 32,
        "seller_message": "The bank returned the decline code `insufficient_funds`.",
        "type": "issuer_declined",
    }
    if advice:
        outcome["advice_code"] = advice
    return {
        "id": ch,
        "object": "charge",
        "amount": amount,
        "amount_captured": 0,
        "amount_refunded": 0,
        "balance_transaction": None,
        "billing_details": {"email": "dana@acme.io"},
        "captured": False,
        "created": T0 - 4,
        "currency": "usd",
        "customer": CUS,
        "failure_code": code,
        "failure_message": "Your card has insufficient funds.",
        "invoice": None,
        "livemode": False,
        "metadata": {},
        "outcome": outcome,
        "paid": False,
        "payment_intent": pi,
        "payment_method": PM,
        "payment_method_details": {"card": card(), "type": "card"},
        "status": "failed",
    }


def payment_intent_succeeded(
    pi: str, ch: str, *, amount: int = 5000, created: int = T0 + 60
) -> dict[str, Any]:
    return {
        "id": pi,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount,
        "created": created,
        "currency": "usd",
        "customer": CUS,
        "description": "Credit top-up",
        "invoice": None,
        "last_payment_error": None,
        "latest_charge": ch,
        "livemode": False,
        "metadata": {},
        "payment_method": PM,
        "payment_method_types": ["card"],
        "status": "succeeded",
    }


def invoice(
    inv: str,
    *,
    status: str,
    amount: int = 125000,
    pi: str | None = None,
    ch: str | None = None,
    paid_at: int | None = None,
) -> dict[str, Any]:
    return {
        "id": inv,
        "object": "invoice",
        "account_country": "US",
        "amount_due": amount,
        "amount_paid": amount if status == "paid" else 0,
        "amount_remaining": 0 if status == "paid" else amount,
        "attempt_count": 1,
        "attempted": True,
        "billing_reason": "manual",
        "charge": ch,
        "collection_method": "charge_automatically",
        "created": T0 - 86400 * 20,
        "currency": "usd",
        "customer": CUS,
        "customer_email": "billing@acme.io",
        "due_date": T0 - 86400 * 2,
        "livemode": False,
        "metadata": {},
        "number": "A1B2C3D4-0001",
        "paid": status == "paid",
        "payment_intent": pi,
        "period_end": int(datetime(2026, 11, 1, tzinfo=UTC).timestamp()),
        "period_start": int(datetime(2026, 10, 1, tzinfo=UTC).timestamp()),
        "status": status,
        "status_transitions": {
            "finalized_at": T0 - 86400 * 20,
            "paid_at": paid_at,
            "marked_uncollectible_at": None,
            "voided_at": None,
        },
        "subtotal": amount,
        "total": amount,
    }


def source_expiring(card_id: str = "card_1MvoiELkdIwHu7ixOeFh0eFP") -> dict[str, Any]:
    return {
        "id": card_id,
        "object": "card",
        "address_zip": None,
        "brand": "Visa",
        "country": "US",
        "customer": CUS,
        "cvc_check": "pass",
        "exp_month": 12,
        "exp_year": 2026,
        "fingerprint": "Xt5EWLLDS7FJjR1c",
        "funding": "credit",
        "last4": "4242",
        "metadata": {},
        "name": None,
    }


def payment_method(exp_year: int = 2031, last4: str = "0341") -> dict[str, Any]:
    return {
        "id": PM,
        "object": "payment_method",
        "billing_details": {"email": "dana@acme.io"},
        "card": card(last4=last4, exp_year=exp_year),
        "created": T0 - 86400,
        "customer": CUS,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


# --------------------------------------------------------------------------- help desks


def zammad_ticket(
    ticket_id: int = 4711,
    *,
    email: str = "dana@acme.io",
    body: str,
    article_count: int = 1,
    sender: str = "Customer",
    internal: bool = False,
    article_id: int = 104,
) -> dict[str, Any]:
    """Zammad's default trigger payload (ticket with its customer, and the article)."""
    return {
        "ticket": {
            "id": ticket_id,
            "number": "31001",
            "title": "API requests refused with 402",
            "group_id": 1,
            "group": {"id": 1, "name": "Users"},
            "state": "new",
            "priority": "2 normal",
            "article_count": article_count,
            "article_ids": [article_id],
            "create_article_sender": "Customer",
            "create_article_type": "email",
            "created_at": "2026-11-14T08:55:00.282Z",
            "updated_at": "2026-11-14T08:55:00.282Z",
            "customer_id": 3,
            "customer": {
                "id": 3,
                "active": True,
                "email": email,
                "firstname": "Dana",
                "lastname": "Ng",
                "login": email,
                "organization": "Acme",
                "organization_id": 2,
            },
        },
        "article": {
            "id": article_id,
            "ticket_id": ticket_id,
            "from": f"Dana Ng <{email}>",
            "to": "support@example.com",
            "subject": "API requests refused with 402",
            "body": body,
            "content_type": "text/plain",
            "internal": internal,
            "sender": sender,
            "type": "email",
            "created_at": "2026-11-14T08:55:00.282Z",
        },
    }


def zendesk_created(
    ticket_id: int = 35436, *, body: str, requester_id: int = 9001, eid: str = "01HNXYZ1"
) -> dict[str, Any]:
    """A Zendesk event subscription's ticket.created."""
    return {
        "type": "zen:event-type:ticket.created",
        "account_id": 88888888,
        "id": eid,
        "time": "2026-11-14T08:55:00Z",
        "zendesk_event_version": "2022-11-06",
        "subject": f"zen:ticket:{ticket_id}",
        "detail": {
            "actor_id": str(requester_id),
            "assignee_id": None,
            "brand_id": "1",
            "created_at": "2026-11-14T08:55:00Z",
            "description": body,
            "id": str(ticket_id),
            "is_public": True,
            "organization_id": None,
            "priority": "NORMAL",
            "requester_id": str(requester_id),
            "status": "NEW",
            "subject": "API requests refused with 402",
            "submitter_id": str(requester_id),
            "tags": [],
            "type": "QUESTION",
            "updated_at": "2026-11-14T08:55:00Z",
            "via": {"channel": "web_form"},
        },
        "event": {"meta": {"sequence": {"id": "CE4A", "position": 1, "total": 1}}},
    }


def zendesk_comment(
    ticket_id: int = 35436, *, body: str, staff: bool = False, public: bool = True, eid: str = "01HNXYZ2"
) -> dict[str, Any]:
    doc = zendesk_created(ticket_id, body="", eid=eid)
    doc["type"] = "zen:event-type:ticket.comment_added"
    doc["event"] = {
        "comment": {
            "id": "5551",
            "body": body,
            "is_public": public,
            "author": {"id": "9001", "is_staff": staff, "name": "Dana Ng"},
        }
    }
    return doc


def freshdesk_ticket(
    ticket_id: int = 48,
    *,
    body: str,
    email: str = "dana@acme.io",
    event: str = "{ticket_action:created}",
    latest: str = "",
) -> dict[str, Any]:
    return {
        "freshdesk_webhook": {
            "ticket_id": ticket_id,
            "ticket_subject": "API requests refused with 402",
            "ticket_description": f"<div>{body}</div>",
            "ticket_contact_email": email,
            "ticket_latest_public_comment": latest,
            "ticket_status": "Open",
            "ticket_priority": "Low",
            "ticket_url": f"https://acme.freshdesk.com/helpdesk/tickets/{ticket_id}",
            "triggered_event": event,
        }
    }


def chatwoot_message(
    conv: int = 21,
    *,
    body: str,
    email: str = "dana@acme.io",
    message_type: str = "incoming",
    private: bool = False,
    mid: int = 1501,
) -> dict[str, Any]:
    return {
        "event": "message_created",
        "id": mid,
        "content": body,
        "content_type": "text",
        "created_at": "2026-11-14T08:55:00.000Z",
        "message_type": message_type,
        "private": private,
        "source_id": None,
        "sender": {"id": 77, "name": "Dana Ng", "email": email, "type": "contact"},
        "conversation": {
            "id": conv,
            "inbox_id": 1,
            "status": "open",
            "custom_attributes": {},
            "additional_attributes": {},
            "meta": {"sender": {"id": 77, "email": email}},
        },
        "account": {"id": 1, "name": "Example"},
        "inbox": {"id": 1, "name": "Website"},
    }


def chatwoot_created(conv: int = 21, *, body: str, email: str = "dana@acme.io") -> dict[str, Any]:
    return {
        "event": "conversation_created",
        "id": conv,
        "inbox_id": 1,
        "status": "open",
        "custom_attributes": {},
        "additional_attributes": {},
        "meta": {"sender": {"id": 77, "name": "Dana Ng", "email": email}},
        "messages": [
            {"id": 1500, "content": body, "message_type": 0, "private": False, "sender_type": "Contact"}
        ],
        "account": {"id": 1, "name": "Example"},
    }


def dumps(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()
