"""The customer's own pages: billing, usage and "why am I blocked", for their organization only.

No page here takes an organization in its address: the organization is the signed-in
customer's, read from their session, so there is nothing to change in a URL to see another
one. The pages are read-only (no form posts), and they render the customer's view of the
read models (``audience="customer"``): no flag trigger, no staff names, no case notes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from quotadesk.web.console.account_pages import billing_context, usage_context
from quotadesk.web.console.views import ConsoleRoute, render, require_customer

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/my")
def my_billing(request: Request) -> Response:
    customer = require_customer(request)
    ctx = billing_context(request, customer.org_id, "customer")
    return render(request, "billing.html", customer=customer, base="/my", done="", **ctx)


@router.get("/my/usage")
def my_usage(
    request: Request,
    first: Annotated[str, Query(alias="from", max_length=40)] = "",
    last: Annotated[str, Query(alias="to", max_length=40)] = "",
    against_first: Annotated[str, Query(alias="against_from", max_length=40)] = "",
    against_last: Annotated[str, Query(alias="against_to", max_length=40)] = "",
) -> Response:
    customer = require_customer(request)
    ctx = usage_context(request, customer.org_id, first, last, against_first, against_last)
    return render(request, "usage.html", customer=customer, base="/my", org_name=None, **ctx)


@router.get("/my/blocked")
def my_blocked(request: Request) -> Response:
    customer = require_customer(request)
    ctx = billing_context(request, customer.org_id, "customer")
    return render(request, "blocked.html", customer=customer, base="/my", **ctx)
