"""``/hooks/…``: the webhooks of Stripe and the help desks (service contract, webhooks section).

These routes are not staff-authenticated: each delivery is verified by its signature over the
raw bytes (``connectors.verify``). A refusal is a ``400`` in the one error shape that names the
header at fault; it changes nothing and is logged with the reason, never a secret or the
signature sent. A delivery seen before answers ``200`` with ``"duplicate": true``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from quotadesk.connectors.runtime import Connectors
from quotadesk.connectors.verify import SignatureError
from quotadesk.web.errors import ErrorResponse

log = logging.getLogger("quotadesk.hooks")

router = APIRouter(
    prefix="/hooks",
    tags=["webhooks"],
    responses={400: {"model": ErrorResponse, "description": "Bad or missing signature, or a malformed body"}},
)


def _connectors(request: Request) -> Connectors:
    connectors: Connectors = request.app.state.connectors
    return connectors


async def _deliver(request: Request, service: str) -> dict[str, Any]:
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    connectors = _connectors(request)
    try:
        if service == "stripe":
            received = await run_in_threadpool(connectors.stripe, headers, body)
        else:
            query = dict(request.query_params)
            received = await run_in_threadpool(connectors.ticket, service, headers, body, query)
    except SignatureError as exc:
        client = request.client.host if request.client else "?"
        log.warning("refused a %s webhook from %s: %s (%s)", service, client, exc.message, exc.field)
        raise
    return received.to_json()


@router.post("/stripe", summary="A Stripe event (Stripe-Signature)")
async def stripe(request: Request) -> dict[str, Any]:
    return await _deliver(request, "stripe")


@router.post("/zammad", summary="A Zammad trigger webhook (X-Hub-Signature)")
async def zammad(request: Request) -> dict[str, Any]:
    return await _deliver(request, "zammad")


@router.post("/zendesk", summary="A Zendesk webhook (X-Zendesk-Webhook-Signature)")
async def zendesk(request: Request) -> dict[str, Any]:
    return await _deliver(request, "zendesk")


@router.post("/freshdesk", summary="A Freshdesk automation webhook (shared secret)")
async def freshdesk(request: Request) -> dict[str, Any]:
    return await _deliver(request, "freshdesk")


@router.post("/chatwoot", summary="A Chatwoot webhook (X-Chatwoot-Signature)")
async def chatwoot(request: Request) -> dict[str, Any]:
    return await _deliver(request, "chatwoot")
