"""The rest of ``/api/v1``: who am I, the staff, the audit log and the reply guard on its own.

The audit log is read by administrators, Security and Finance only (it names people and what
they did); the guard check lets an editor show, as the engineer types, which sentence the
guard would refuse and why.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from quotadesk.desk.replies import verdict
from quotadesk.desk.service import Desk
from quotadesk.store.access import PERMISSIONS, check
from quotadesk.store.db import transaction
from quotadesk.store.schema import audit_log
from quotadesk.store.staff import add_staff, disable_staff, list_staff
from quotadesk.web import schemas as s
from quotadesk.web.auth import Member
from quotadesk.web.errors import RESPONSES

router = APIRouter(prefix="/api/v1", tags=["desk"], responses=RESPONSES)


def _desk(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


def _ts(value: Any) -> str:
    return str(value.isoformat()).replace("+00:00", "Z")


@router.get("/me", summary="The signed-in staff member and what their role may do")
def me(member: Member) -> dict[str, Any]:
    may = sorted(a for a, roles in PERMISSIONS.items() if member.role in roles)
    return {"id": member.id, "name": member.name, "role": member.role.value, "may": may}


@router.get("/staff", summary="Staff members (admin)")
def staff_list(request: Request, member: Member) -> list[dict[str, Any]]:
    desk = _desk(request)
    check(desk.engine, member.actor, "manage_staff", desk.now(), org_id=None)
    return [
        {
            "id": m.id,
            "name": m.name,
            "role": m.role.value,
            "active": m.active,
            "created_at": _ts(m.created_at),
        }
        for m in list_staff(desk.engine)
    ]


@router.post("/staff", status_code=201, response_model=s.NewStaffOut, summary="Add a staff member (admin)")
def staff_add(body: s.StaffIn, request: Request, member: Member) -> s.NewStaffOut:
    desk = _desk(request)
    new = add_staff(desk.engine, member.actor, desk.now(), body.name, body.role)
    return s.NewStaffOut(id=new.member.id, token=new.token, name=new.member.name, role=new.member.role.value)


@router.post("/staff/{staff_id}/disable", summary="Disable a staff member: token and sessions stop working")
def staff_disable(staff_id: str, request: Request, member: Member) -> dict[str, Any]:
    desk = _desk(request)
    disable_staff(desk.engine, member.actor, desk.now(), staff_id)
    return {"id": staff_id, "active": False}


@router.get("/audit", summary="Audit entries, newest first (admin, security, finance)")
def audit(
    request: Request,
    member: Member,
    org: Annotated[str | None, Query(max_length=64)] = None,
    case: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> list[dict[str, Any]]:
    desk = _desk(request)
    check(desk.engine, member.actor, "read_audit", desk.now(), org_id=org, case_id=case)
    stmt = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if org is not None:
        stmt = stmt.where(audit_log.c.org_id == org)
    if case is not None:
        stmt = stmt.where(audit_log.c.case_id == case)
    if action is not None:
        stmt = stmt.where(audit_log.c.action == action)
    if before is not None:
        stmt = stmt.where(audit_log.c.id < before)
    with transaction(desk.engine) as conn:
        rows = conn.execute(stmt).all()
    return [
        {
            "id": r.id,
            "at": _ts(r.at),
            "who": r.actor,
            "role": r.role,
            "action": r.action,
            "outcome": r.outcome,
            "org_id": r.org_id,
            "case_id": r.case_id,
            "target": r.target,
            "before": json.loads(r.before) if r.before else None,
            "after": json.loads(r.after) if r.after else None,
            "detail": json.loads(r.detail or "{}"),
        }
        for r in rows
    ]


@router.post("/safety/check", summary="What the reply guard says of a draft, sentence by sentence")
def safety_check(body: s.SafetyIn, member: Member) -> dict[str, Any]:
    return verdict(body.text, key_exposed=body.key_exposed)
