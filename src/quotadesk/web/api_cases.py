"""``/api/v1/cases``: tickets in, live triage out, and the work on each case until it is resolved.

Every handler is one ``Desk`` call (``desk.service``): the queue rules, the resolution rule
(the checklist's step 5) and the reply guard live there, so the console and the connectors
behave exactly as this API does.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from quotadesk.desk.service import Desk
from quotadesk.web import schemas as s
from quotadesk.web.auth import Member
from quotadesk.web.errors import RESPONSES, ErrorResponse

router = APIRouter(prefix="/api/v1/cases", tags=["cases"], responses=RESPONSES)


def _desk(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


def _ticket(t: s.TicketIn) -> dict[str, Any]:
    return t.model_dump(mode="json", exclude_none=True)


@router.post("", status_code=201, summary="Open a case from a ticket and triage it live")
def open_case(body: s.CaseIn, request: Request, member: Member) -> dict[str, Any]:
    return _desk(request).open_case(
        member.actor, _ticket(body.ticket), org_id=body.org_id, provider=body.provider
    )


@router.get("", summary="The queue (oldest waiting first; 'sort=newest' for the reverse)")
def queue(
    request: Request,
    response: Response,
    member: Member,
    status: Annotated[Literal["open", "escalated", "resolved"] | None, Query()] = None,
    team: Annotated[s.Team | None, Query()] = None,
    incident: Annotated[str | None, Query(max_length=32)] = None,
    org: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after: Annotated[str | None, Query(max_length=400)] = None,
    sort: Annotated[Literal["oldest", "newest"], Query()] = "oldest",
) -> list[dict[str, Any]]:
    rows, nxt = _desk(request).queue(
        member.actor,
        status=status,
        team=team,
        incident=incident,
        org_id=org,
        limit=limit,
        after=after,
        newest_first=sort == "newest",
    )
    if nxt:
        response.headers["X-Next-After"] = nxt
    return rows


@router.get("/counts", summary="Cases per team and status")
def counts(request: Request, member: Member) -> dict[str, dict[str, int]]:
    return _desk(request).counts(member.actor)


@router.get("/{case}", summary="The case: ticket, triage, status, team, notes and history")
def get_case(case: str, request: Request, member: Member) -> dict[str, Any]:
    return _desk(request).case(member.actor, case)


@router.post("/{case}/notes", status_code=201, summary="Add an internal note")
def note(case: str, body: s.NoteIn, request: Request, member: Member) -> dict[str, Any]:
    return _desk(request).note(member.actor, case, body.text)


@router.post("/{case}/messages", summary="The customer wrote again: add it and triage again")
def message(case: str, body: s.MessageIn, request: Request, member: Member) -> dict[str, Any]:
    attachments = [a.model_dump(mode="json", exclude_none=True) for a in body.attachments]
    return _desk(request).message(member.actor, case, body.body, attachments)


@router.post("/{case}/link", summary="Link the case to its organization and triage it from the live account")
def link(case: str, body: s.LinkIn, request: Request, member: Member) -> dict[str, Any]:
    return _desk(request).link(member.actor, case, body.org_id)


@router.post("/{case}/triage", summary="Triage the case again on the live books")
def retriage(case: str, request: Request, member: Member) -> dict[str, Any]:
    return _desk(request).retriage(member.actor, case)


@router.post("/{case}/escalate", summary="Hand the case to a team with the escalation package")
def escalate(case: str, body: s.EscalateIn, request: Request, member: Member) -> dict[str, Any]:
    return _desk(request).escalate(member.actor, case, body.team, body.note)


@router.post(
    "/{case}/reply",
    summary="Save or send the reply (the safety guard refuses an unsafe one with 422)",
    responses={422: {"model": ErrorResponse, "description": "The safety guard refuses the reply"}},
)
def reply(case: str, body: s.ReplyIn, request: Request, member: Member) -> dict[str, Any]:
    return _desk(request).reply(member.actor, case, body.text, send=body.send)


@router.post("/{case}/resolve", summary="Resolve, or 409 naming what the checklist's step 5 still needs")
def resolve(case: str, request: Request, member: Member, body: s.ResolveIn | None = None) -> dict[str, Any]:
    given = body.model_dump() if body is not None else {}
    return _desk(request).resolve(member.actor, case, given)
