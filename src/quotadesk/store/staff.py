"""The desk's people: staff members with a role, their API tokens and their console sessions.

A token is shown once, when the member is added, and only its SHA-256 is kept, like a
customer's API key: a copy of the database gives nobody a way in. A console session is a
random cookie value whose hash is stored with an expiry; signing out or disabling the
member ends it. Every change here is audited like a change to the books.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, select, update

from quotadesk.errors import InputError, NotFoundError
from quotadesk.store import sessions
from quotadesk.store.access import STAFF_ROLES, Actor, Role, audit, check
from quotadesk.store.db import transaction
from quotadesk.store.errors import ConflictError
from quotadesk.store.schema import sessions as session_table
from quotadesk.store.schema import staff
from quotadesk.store.values import aware, new_id

TOKEN_PREFIX = "qds_"
SESSION_TTL = sessions.SESSION_TTL
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


_hash = sessions.secret_hash
_SESSIONS = sessions.SessionTables(session_table, staff, "staff_id")


@dataclass(frozen=True, slots=True)
class StaffMember:
    """A person who works the desk: ``id``, unique ``name`` (shown in the audit log), ``role``."""

    id: str
    name: str
    role: Role
    created_at: datetime
    active: bool = True

    @property
    def actor(self) -> Actor:
        return Actor(self.name, self.role)


@dataclass(frozen=True, slots=True)
class NewStaff:
    """A member just added: ``token`` is shown this once and never stored."""

    member: StaffMember
    token: str


def parse_role(value: object) -> Role:
    names = ", ".join(r.value for r in STAFF_ROLES)
    if not isinstance(value, str):
        raise InputError(f"expected one of {names}", "role")
    try:
        role = Role(value.strip())
    except ValueError as exc:
        raise InputError(f"unknown role {value!r}; expected one of {names}", "role") from exc
    if role not in STAFF_ROLES:
        raise InputError(f"{role.value} is not a staff role; expected one of {names}", "role")
    return role


def _member(row: object) -> StaffMember:
    r = row._mapping  # type: ignore[attr-defined]
    return StaffMember(r["id"], r["name"], Role(r["role"]), r["created_at"], r["disabled_at"] is None)


def add_staff(engine: Engine, actor: Actor, now: datetime, name: str, role: object) -> NewStaff:
    """Add a member with ``role``; the returned token is their API credential (shown once)."""
    now = aware(now)
    if not isinstance(name, str) or not _NAME.match(name.strip() or "\x00"):
        raise InputError("expected a name of 1 to 200 printable characters", "name")
    name = name.strip()
    member_role = parse_role(role)
    check(engine, actor, "manage_staff", now, org_id=None, target=f"staff:{name}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    member = StaffMember(new_id("stf"), name, member_role, now)
    with transaction(engine) as conn:
        taken = conn.execute(select(staff.c.id).where(staff.c.name == name)).first()
        if taken is not None:
            raise ConflictError(f"a staff member named {name!r} exists already", "name")
        conn.execute(
            insert(staff).values(
                id=member.id, name=name, role=member_role.value, token_hash=_hash(token), created_at=now
            )
        )
        audit(
            conn,
            actor,
            "add_staff",
            now,
            target=f"staff:{member.id}",
            after={"name": name, "role": member_role.value},
        )
    return NewStaff(member, token)


def list_staff(engine: Engine) -> list[StaffMember]:
    with transaction(engine) as conn:
        return [_member(r) for r in conn.execute(select(staff).order_by(staff.c.created_at, staff.c.id))]


def get_staff(engine: Engine, staff_id: str) -> StaffMember:
    with transaction(engine) as conn:
        row = conn.execute(select(staff).where(staff.c.id == staff_id)).first()
    if row is None:
        raise NotFoundError(f"no staff member {staff_id!r}", "staff")
    return _member(row)


def disable_staff(engine: Engine, actor: Actor, now: datetime, staff_id: str) -> None:
    """Disable a member: their token and every open session stop working at once."""
    now = aware(now)
    member = get_staff(engine, staff_id)
    check(engine, actor, "manage_staff", now, org_id=None, target=f"staff:{staff_id}")
    with transaction(engine) as conn:
        conn.execute(
            update(staff).where(staff.c.id == staff_id, staff.c.disabled_at.is_(None)).values(disabled_at=now)
        )
        conn.execute(
            update(session_table)
            .where(session_table.c.staff_id == staff_id, session_table.c.ended_at.is_(None))
            .values(ended_at=now)
        )
        audit(
            conn,
            actor,
            "disable_staff",
            now,
            target=f"staff:{staff_id}",
            before={"active": member.active},
            after={"active": False},
        )


def authenticate(engine: Engine, token: str) -> StaffMember | None:
    """The active member whose token this is, or None (unknown, malformed or disabled)."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    with transaction(engine) as conn:
        row = conn.execute(
            select(staff).where(staff.c.token_hash == _hash(token), staff.c.disabled_at.is_(None))
        ).first()
    return None if row is None else _member(row)


def start_session(engine: Engine, member: StaffMember, now: datetime, ttl: timedelta = SESSION_TTL) -> str:
    """A new console session for ``member``; returns the cookie value (only its hash is kept)."""
    with transaction(engine) as conn:
        value = sessions.open_session(conn, _SESSIONS, member.id, now, ttl)
        audit(conn, member.actor, "sign_in", now, target=f"staff:{member.id}")
    return value


def session_member(engine: Engine, value: str, now: datetime) -> StaffMember | None:
    """The member signed in with cookie ``value``, if the session is open and unexpired."""
    row = sessions.session_user(engine, _SESSIONS, value, now)
    return None if row is None else _member(row)


def end_session(engine: Engine, value: str, now: datetime) -> None:
    sessions.end_session(engine, _SESSIONS, value, now)
