"""Console sign-in sessions, for staff and for customers alike.

Both kinds of user sign in the same way (a random cookie value, only its hash kept, an expiry,
ended on sign-out), so the rules live here once; ``staff.py`` and ``customers.py`` say which
tables and which audit entry. A session is valid only while it is open, unexpired and its user
is not disabled: disabling a user ends every session at once without touching them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert, select, update

from quotadesk.store.db import transaction
from quotadesk.store.values import aware

SESSION_TTL = timedelta(hours=12)
_MAX_VALUE = 200


def secret_hash(secret: str) -> str:
    """What is stored of a token or a cookie value: its SHA-256, never the value."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionTables:
    """Where one kind of user keeps its sessions: ``sessions.<owner>`` references ``users.id``."""

    sessions: Table
    users: Table
    owner: str


def open_session(conn: Connection, kind: SessionTables, user_id: str, now: datetime, ttl: timedelta) -> str:
    """Opens a session in the caller's transaction (so its audit entry commits with it)."""
    now = aware(now)
    value = secrets.token_urlsafe(32)
    conn.execute(
        insert(kind.sessions).values(
            {"id_hash": secret_hash(value), kind.owner: user_id, "created_at": now, "expires_at": now + ttl}
        )
    )
    return value


def session_user(engine: Engine, kind: SessionTables, value: str, now: datetime) -> Any | None:
    """The user row signed in with cookie ``value``, if the session is open and unexpired."""
    if not isinstance(value, str) or not value or len(value) > _MAX_VALUE:
        return None
    s, u = kind.sessions, kind.users
    with transaction(engine) as conn:
        return conn.execute(
            select(u)
            .join(s, s.c[kind.owner] == u.c.id)
            .where(
                s.c.id_hash == secret_hash(value),
                s.c.ended_at.is_(None),
                s.c.expires_at > aware(now),
                u.c.disabled_at.is_(None),
            )
        ).first()


def end_session(engine: Engine, kind: SessionTables, value: str, now: datetime) -> None:
    s = kind.sessions
    with transaction(engine) as conn:
        conn.execute(
            update(s)
            .where(s.c.id_hash == secret_hash(value), s.c.ended_at.is_(None))
            .values(ended_at=aware(now))
        )
