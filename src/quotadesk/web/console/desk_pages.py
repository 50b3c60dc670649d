"""The support desk's pages: the queue and the case, with the actions a role may take on it.

Each action is one ``Desk`` call (note, escalate, reply, resolve, triage again), the same one
the API makes, so the role checks, the checklist's step 5 and the reply guard are the
library's. A refusal re-renders the case with the reason next to the form that caused it
(and the engineer's text kept), with the library's 4xx status.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from quotadesk.desk import cases as c
from quotadesk.errors import QuotadeskError
from quotadesk.store.access import Role
from quotadesk.store.staff import StaffMember
from quotadesk.web.console.views import (
    ConsoleRoute,
    check_csrf,
    desk_of,
    render,
    require_staff,
    role_rules,
    signed_in_customer,
    signed_in_staff,
)

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

Text = Annotated[str, Form(max_length=c.MAX_TEXT)]
Short = Annotated[str, Form(max_length=200)]
Csrf = Annotated[str, Form(max_length=200)]

AGES = {
    "": ("any age", None, False),
    "over_1h": ("waiting over an hour", timedelta(hours=1), True),
    "over_24h": ("waiting over 24 hours", timedelta(hours=24), True),
    "over_7d": ("waiting over 7 days", timedelta(days=7), True),
    "under_24h": ("opened in the last 24 hours", timedelta(hours=24), False),
}
"""Queue age filters: (label, age, older). The queue is ordered by age, so each is a prefix of
one of its two orders and pages stay exact."""

CASE_ACTIONS = ("note_case", "escalate_case", "reply_case", "resolve_case", "triage_case")
ACCOUNT_ACTIONS = (
    "lift_flag:policy_violation",
    "lift_flag:fraud",
    "lift_flag:outstanding_balance",
    "grant_credit",
    "waive_invoice",
    "record_invoice_payment",
    "revoke_key",
)
_DAY = re.compile(r"\b(20\d\d-\d\d-\d\d)\b")
_SECTIONS = {
    "payments": "payments",
    "payment_methods": "payment-methods",
    "credit_grants": "grants",
    "invoices": "invoices",
    "api_keys": "keys",
    "flags": "flags",
    "spend_limits": "limits",
    "tier": "tier",
    "auto_recharge": "recharge",
    "notices": "timeline",
    "status": "access",
    "rate_limits": "tier",
    "model_access": "tier",
}


@router.get("/")
def home(
    request: Request,
    status: Annotated[str, Query(max_length=16)] = "",
    team: Annotated[str, Query(max_length=32)] = "",
    incident: Annotated[str, Query(max_length=32)] = "",
    age: Annotated[str, Query(max_length=16)] = "",
    after: Annotated[str, Query(max_length=400)] = "",
) -> Response:
    member = signed_in_staff(request)
    if member is None:
        if signed_in_customer(request) is not None:
            return RedirectResponse("/my", status_code=303)
        return render(request, "welcome.html")
    return _queue(request, member, status, team, incident, age, after)


def _queue(
    request: Request, member: StaffMember, status: str, team: str, incident: str, age: str, after: str
) -> Response:
    desk = desk_of(request)
    now = desk.now()
    label, span, older = AGES.get(age, AGES[""])
    rows, nxt = desk.queue(
        member.actor,
        status=status or None,
        team=team or None,
        incident=incident or None,
        limit=100,
        after=after or None,
        newest_first=span is not None and not older,
    )
    if span is not None:
        cut = now - span
        kept = [r for r in rows if (_when(r["created_at"]) <= cut) == older]
        if len(kept) < len(rows):
            nxt = None
        rows = kept
    for r in rows:
        r["waiting"] = _waiting(now - _when(r["created_at"]))
    filters = {"status": status, "team": team, "incident": incident, "age": age}
    next_url = "/?" + urlencode({**{k: v for k, v in filters.items() if v}, "after": nxt}) if nxt else None
    return render(
        request,
        "queue.html",
        staff=member,
        rows=rows,
        counts=desk.counts(member.actor),
        teams=c.TEAMS,
        statuses=c.STATUSES,
        incidents=_incidents(),
        ages=[(k, v[0]) for k, v in AGES.items()],
        filters=filters,
        age_label=label,
        next_url=next_url,
    )


def _incidents() -> list[str]:
    from quotadesk.sim.desk import INCIDENT_ROOTS

    return list(INCIDENT_ROOTS)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _waiting(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours < 1:
        return "under an hour"
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} days"


# ------------------------------------------------------------------------------------ the case


def evidence_link(source: str, fact: str, org_id: str | None, case: dict[str, Any]) -> str | None:
    """Where a piece of evidence can be checked: the account page's section, or the usage
    dashboard around the days the fact names."""
    if not org_id:
        return None
    parts = [p for p in source.split("/") if p]
    if not parts:
        return None
    if parts[0] == "account":
        section = _SECTIONS.get(parts[1] if len(parts) > 1 else "", "access")
        return f"/orgs/{org_id}#{section}"
    if parts[0] == "usage":
        days = sorted(_DAY.findall(fact))
        if days:
            first = datetime.fromisoformat(days[0]) - timedelta(days=14)
            last = datetime.fromisoformat(days[-1]) + timedelta(days=14)
        else:
            received = _when(str(case["ticket"].get("received_at") or case["created_at"]))
            first, last = received - timedelta(days=29), received
        return (
            f"/orgs/{org_id}/usage?"
            + urlencode({"from": f"{first:%Y-%m-%d}", "to": f"{last:%Y-%m-%d}"})
            + "#chart"
        )
    return None


def _case_page(
    request: Request,
    member: StaffMember,
    case_id: str,
    *,
    status: int = 200,
    error: QuotadeskError | None = None,
    form: str = "",
    draft: str | None = None,
) -> Response:
    desk = desk_of(request)
    case = desk.case(member.actor, case_id)
    triage = case["triage"] or {}
    evidence = [
        {**e, "href": evidence_link(str(e.get("source", "")), str(e.get("fact", "")), case["org_id"], case)}
        for e in triage.get("evidence") or []
    ]
    reply = case.get("reply") or {}
    text = draft if draft is not None else str(reply.get("text") or triage.get("reply") or "")
    rules = {a: (ok, who) for a, ok, who in role_rules(member.role)}
    return render(
        request,
        "case.html",
        status,
        staff=member,
        case=case,
        triage=triage,
        evidence=evidence,
        reply_text=text,
        reply=reply,
        key_exposed=bool((triage.get("safety") or {}).get("key_exposed")),
        teams=c.TEAMS,
        case_rules=[(a, *rules[a]) for a in CASE_ACTIONS],
        account_rules=[(a, *rules[a]) for a in ACCOUNT_ACTIONS],
        error=error,
        error_form=form,
        objections=getattr(error, "objections", None) or [],
        done=request.query_params.get("done", ""),
    )


@router.get("/cases/{case_id}")
def case_page(case_id: str, request: Request) -> Response:
    return _case_page(request, require_staff(request), case_id)


def _act(
    request: Request, case_id: str, csrf: str, form: str, run: Any, draft: str | None = None
) -> Response:
    member = require_staff(request)
    check_csrf(request, csrf)
    try:
        run(member)
    except QuotadeskError as exc:
        return _case_page(request, member, case_id, status=exc.http_status, error=exc, form=form, draft=draft)
    return RedirectResponse(f"/cases/{case_id}?done={form}#{form}", status_code=303)


@router.post("/cases/{case_id}/note")
def add_note(case_id: str, request: Request, text: Text, csrf: Csrf) -> Response:
    return _act(request, case_id, csrf, "note", lambda m: desk_of(request).note(m.actor, case_id, text))


@router.post("/cases/{case_id}/escalate")
def escalate(case_id: str, request: Request, team: Short, csrf: Csrf, note: Text = "") -> Response:
    desk = desk_of(request)
    return _act(
        request, case_id, csrf, "escalate", lambda m: desk.escalate(m.actor, case_id, team, note or None)
    )


@router.post("/cases/{case_id}/reply")
def reply(case_id: str, request: Request, text: Text, csrf: Csrf, send: Short = "") -> Response:
    desk = desk_of(request)
    return _act(
        request,
        case_id,
        csrf,
        "reply",
        lambda m: desk.reply(m.actor, case_id, text, send=send == "1"),
        draft=text,
    )


@router.post("/cases/{case_id}/resolve")
def resolve(
    case_id: str,
    request: Request,
    csrf: Csrf,
    incident: Short = "",
    root_cause: Short = "",
    fix: Text = "",
    recommendation: Text = "",
    note: Text = "",
) -> Response:
    given = {
        "incident": incident or None,
        "root_cause": root_cause or None,
        "fix": fix or None,
        "recommendation": recommendation or None,
        "note": note or None,
    }
    desk = desk_of(request)
    return _act(request, case_id, csrf, "resolve", lambda m: desk.resolve(m.actor, case_id, given))


@router.post("/cases/{case_id}/triage")
def retriage(case_id: str, request: Request, csrf: Csrf) -> Response:
    desk = desk_of(request)
    return _act(request, case_id, csrf, "triage", lambda m: desk.retriage(m.actor, case_id))


@router.get("/roles")
def roles_page(request: Request) -> Response:
    member = require_staff(request)
    from quotadesk.store.access import STAFF_ROLES

    table = [(r, {a: ok for a, ok, _ in role_rules(r)}) for r in STAFF_ROLES]
    actions = [(a, who) for a, _, who in role_rules(Role.SUPPORT)]
    return render(request, "roles.html", staff=member, table=table, actions=actions)
