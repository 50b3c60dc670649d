"""An organization's own people: customer sign-ins to the console, and their sessions.

A customer user belongs to one organization and sees only that organization's billing and
usage pages, read-only. They are not staff: their token (prefix ``qdc_``) opens no staff
page and no ``/api/v1`` call, and their cookie is a different one from the staff session's,
so no check of a staff route can be satisfied by it by mistake. As with staff tokens, the
token is shown once and only its SHA-256 is kept; adding and disabling a customer is audited.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, select, update

from quotadesk.errors import InputError, NotFoundError
from quotadesk.store import sessions
from quotadesk.store.access import Actor, Role, audit, check
from quotadesk.store.db import transaction
from quotadesk.store.schema import customer_sessions, customer_users
from quotadesk.store.snapshot import org_row
from quotadesk.store.values import aware, new_id

TOKEN_PREFIX = "qdc_"
SESSION_TTL = sessions.SESSION_TTL
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


_hash = sessions.secret_hash
_SESSIONS = sessions.SessionTables(customer_sessions, customer_users, "customer_id")


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer user: ``id``, the ``org_id`` they belong to, a display ``name``."""

    id: str
    org_id: str
    name: str
    created_at: datetime
    active: bool = True

    @property
    def actor(self) -> Actor:
        return Actor(f"customer:{self.name}", Role.CUSTOMER)


@dataclass(frozen=True, slots=True)
class NewCustomer:
    """A customer just added: ``token`` is shown this once and never stored."""

    customer: Customer
    token: str


def _customer(row: object) -> Customer:
    r = row._mapping  # type: ignore[attr-defined]
    return Customer(r["id"], r["org_id"], r["name"], r["created_at"], r["disabled_at"] is None)


def add_customer(engine: Engine, actor: Actor, now: datetime, org_id: str, name: str) -> NewCustomer:
    """Give a person of ``org_id`` a console sign-in; the returned token is shown once."""
    now = aware(now)
    if not isinstance(name, str) or not _NAME.match(name.strip() or "\x00"):
        raise InputError("expected a name of 1 to 200 printable characters", "name")
    name = name.strip()
    if not isinstance(org_id, str) or not org_id or len(org_id) > 64:
        raise NotFoundError(f"no organization {org_id!r}", "org")
    check(engine, actor, "manage_customers", now, org_id=org_id, target=f"customer:{name}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    customer = Customer(new_id("cust"), org_id, name, now)
    with transaction(engine) as conn:
        org_row(conn, org_id)
        conn.execute(
            insert(customer_users).values(
                id=customer.id, org_id=org_id, name=name, token_hash=_hash(token), created_at=now
            )
        )
        audit(
            conn,
            actor,
            "add_customer",
            now,
            org_id=org_id,
            target=f"customer:{customer.id}",
            after={"name": name, "org_id": org_id},
        )
    return NewCustomer(customer, token)


def list_customers(engine: Engine, org_id: str | None = None) -> list[Customer]:
    stmt = select(customer_users).order_by(customer_users.c.created_at, customer_users.c.id)
    if org_id is not None:
        stmt = stmt.where(customer_users.c.org_id == org_id)
    with transaction(engine) as conn:
        return [_customer(r) for r in conn.execute(stmt)]


def disable_customer(engine: Engine, actor: Actor, now: datetime, customer_id: str) -> Customer:
    """Disable a customer user: their token and open sessions stop working at once."""
    now = aware(now)
    with transaction(engine) as conn:
        row = conn.execute(select(customer_users).where(customer_users.c.id == customer_id)).first()
    if row is None:
        raise NotFoundError(f"no customer user {customer_id!r}", "customer")
    found = _customer(row)
    check(engine, actor, "manage_customers", now, org_id=found.org_id, target=f"customer:{customer_id}")
    with transaction(engine) as conn:
        conn.execute(
            update(customer_users)
            .where(customer_users.c.id == customer_id, customer_users.c.disabled_at.is_(None))
            .values(disabled_at=now)
        )
        conn.execute(
            update(customer_sessions)
            .where(customer_sessions.c.customer_id == customer_id, customer_sessions.c.ended_at.is_(None))
            .values(ended_at=now)
        )
        audit(
            conn,
            actor,
            "disable_customer",
            now,
            org_id=found.org_id,
            target=f"customer:{customer_id}",
            before={"active": found.active},
            after={"active": False},
        )
    return Customer(found.id, found.org_id, found.name, found.created_at, False)


def authenticate_customer(engine: Engine, token: str) -> Customer | None:
    """The active customer user whose token this is, or None."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    with transaction(engine) as conn:
        row = conn.execute(
            select(customer_users).where(
                customer_users.c.token_hash == _hash(token), customer_users.c.disabled_at.is_(None)
            )
        ).first()
    return None if row is None else _customer(row)


def start_customer_session(
    engine: Engine, customer: Customer, now: datetime, ttl: timedelta = SESSION_TTL
) -> str:
    """A console session for ``customer``; returns the cookie value (only its hash is kept)."""
    with transaction(engine) as conn:
        value = sessions.open_session(conn, _SESSIONS, customer.id, now, ttl)
        audit(conn, customer.actor, "sign_in", now, org_id=customer.org_id, target=f"customer:{customer.id}")
    return value


def customer_session(engine: Engine, value: str, now: datetime) -> Customer | None:
    """The customer signed in with cookie ``value``, if the session is open and unexpired."""
    row = sessions.session_user(engine, _SESSIONS, value, now)
    return None if row is None else _customer(row)


def end_customer_session(engine: Engine, value: str, now: datetime) -> None:
    sessions.end_session(engine, _SESSIONS, value, now)
