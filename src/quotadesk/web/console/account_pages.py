"""The account's pages for staff: the list of accounts, "Dashboard → Billing" and the usage dashboard.

The pages render the read models of ``desk.billing`` and ``desk.usage_page``; the buttons a
role sees come from the one permission table (``store.access.allowed``), and the server
refuses the same actions through the books anyway (a hidden button is a courtesy, the
check is the rule). The customer's own pages (``customer_pages``) render the same templates
with ``audience="customer"``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from quotadesk.desk.billing import Audience, billing_page
from quotadesk.desk.usage_page import choose_range, parse_day, usage_dashboard
from quotadesk.store.db import transaction
from quotadesk.store.schema import organizations
from quotadesk.usage.findings import Finding
from quotadesk.web.console.charts import Marker, legend, limit_chart, spend_chart
from quotadesk.web.console.views import ConsoleRoute, check_csrf, desk_of, render, require_staff

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def billing_context(request: Request, org_id: str, audience: Audience) -> dict[str, Any]:
    desk = desk_of(request)
    page = billing_page(desk.books, org_id, desk.now(), audience=audience)
    return {"page": page, "limit_svg": limit_chart(page.limits)}


def markers(findings: tuple[Finding, ...]) -> list[Marker]:
    """One band per run of days; findings on overlapping or adjacent days share it (a retry storm
    and the code bug behind it, or two bursts on consecutive days, are one event on the chart)."""
    spans = sorted(
        (f.window.start.date(), (f.window.end - timedelta(microseconds=1)).date(), rank, f.root_cause.value)
        for rank, f in enumerate(findings)
    )
    bands: list[tuple[Any, Any, list[str]]] = []
    for first, last, _, name in spans:
        if bands and first <= bands[-1][1] + timedelta(days=1):
            lo, hi, names = bands[-1]
            bands[-1] = (lo, max(hi, last), names if name in names else [*names, name])
        else:
            bands.append((first, last, [name]))
    return [Marker(names[0], lo, hi, " / ".join(n.replace("_", " ") for n in names)) for lo, hi, names in bands]


def usage_context(
    request: Request, org_id: str, first: str, last: str, against_first: str, against_last: str
) -> dict[str, Any]:
    desk = desk_of(request)
    now = desk.now()
    period, against = choose_range(
        now,
        parse_day(first, "from"),
        parse_day(last, "to"),
        parse_day(against_first, "against_from"),
        parse_day(against_last, "against_to"),
    )
    dash = usage_dashboard(desk.books, org_id, now, period, against, usage_dir=desk.usage_dir)
    title = f"Spend per day by model, {dash.first:%Y-%m-%d} to {dash.last:%Y-%m-%d}"
    return {
        "dash": dash,
        "chart": spend_chart(dash.daily, dash.models, markers(dash.findings), title=title),
        "legend": legend(dash.models),
    }


@router.get("/orgs")
def orgs_page(request: Request) -> Response:
    member = require_staff(request)
    desk = desk_of(request)
    with transaction(desk.engine) as conn:
        rows = conn.execute(
            select(
                organizations.c.id,
                organizations.c.name,
                organizations.c.billing_mode,
                organizations.c.status,
                organizations.c.tier_current,
            ).order_by(organizations.c.name, organizations.c.id)
        ).all()
    return render(request, "orgs.html", staff=member, orgs=rows)


@router.get("/orgs/{org_id}")
def account_page(org_id: str, request: Request) -> Response:
    member = require_staff(request)
    ctx = billing_context(request, org_id, "staff")
    return render(
        request,
        "billing.html",
        staff=member,
        base=f"/orgs/{org_id}",
        done=request.query_params.get("done", ""),
        **ctx,
    )


@router.get("/orgs/{org_id}/usage")
def usage_page(
    org_id: str,
    request: Request,
    first: Annotated[str, Query(alias="from", max_length=40)] = "",
    last: Annotated[str, Query(alias="to", max_length=40)] = "",
    against_first: Annotated[str, Query(alias="against_from", max_length=40)] = "",
    against_last: Annotated[str, Query(alias="against_to", max_length=40)] = "",
) -> Response:
    member = require_staff(request)
    ctx = usage_context(request, org_id, first, last, against_first, against_last)
    with transaction(desk_of(request).engine) as conn:
        name = conn.execute(select(organizations.c.name).where(organizations.c.id == org_id)).scalar()
    return render(request, "usage.html", staff=member, base=f"/orgs/{org_id}", org_name=name, **ctx)


@router.post("/orgs/{org_id}/flags/{flag_id}/lift")
def lift_flag(
    org_id: str,
    flag_id: int,
    request: Request,
    reason: Annotated[str, Form(min_length=1, max_length=2000)],
    csrf: Annotated[str, Form(max_length=200)],
) -> Response:
    member = require_staff(request)
    check_csrf(request, csrf)
    desk = desk_of(request)
    row = desk.books.lift_flag_id(member.actor, desk.now(), org_id, flag_id, reason=reason)
    desk.books_changed(org_id, f"{row['kind']} flag lifted")
    return RedirectResponse(f"/orgs/{org_id}?done=flag_lifted#flags", status_code=303)


@router.post("/orgs/{org_id}/grants")
def goodwill_credit(
    org_id: str,
    request: Request,
    amount: Annotated[str, Form(min_length=1, max_length=40)],
    reason: Annotated[str, Form(min_length=1, max_length=2000)],
    csrf: Annotated[str, Form(max_length=200)],
) -> Response:
    member = require_staff(request)
    check_csrf(request, csrf)
    desk = desk_of(request)
    desk.books.grant_credit(member.actor, desk.now(), org_id, amount.strip(), kind="goodwill", reason=reason)
    desk.books_changed(org_id, "credit granted")
    return RedirectResponse(f"/orgs/{org_id}?done=credit_granted#grants", status_code=303)
