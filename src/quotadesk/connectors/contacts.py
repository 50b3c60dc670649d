"""An organization's contacts: the addresses alerts go to and requesters are recognized by.

``email`` contacts receive the alerts and identify a requester exactly; ``domain`` contacts
identify every requester of that email domain (a company's own domain, never a mail
provider's: the desk refuses the common free-mail domains). Each address or domain belongs to
one organization. Changes are audited like every change to the books.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Engine, delete, insert, select

from quotadesk.errors import InputError
from quotadesk.store.access import Actor, audit, check
from quotadesk.store.db import transaction
from quotadesk.store.errors import ConflictError
from quotadesk.store.schema import org_contacts
from quotadesk.store.snapshot import org_row
from quotadesk.store.values import aware

EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$")
FREE_MAIL = frozenset(
    {"gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "yahoo.com", "icloud.com",
     "me.com", "aol.com", "proton.me", "protonmail.com", "gmx.com", "gmx.de", "mail.com", "qq.com", "163.com"}
)  # fmt: skip
KINDS = ("email", "domain")


def check_contact(kind: object, value: object) -> tuple[str, str]:
    if kind not in KINDS:
        raise InputError("expected email or domain", "kind")
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"expected an {kind}", kind)
    text = value.strip().lower()
    if kind == "email" and not EMAIL.match(text):
        raise InputError("not an email address", "email")
    if kind == "domain":
        text = text.lstrip("@")
        if not DOMAIN.match(text):
            raise InputError("not a domain such as acme.com", "domain")
        if text in FREE_MAIL:
            raise InputError(
                f"{text} is a mail provider's domain; add the people's addresses instead", "domain"
            )
    return str(kind), text


def add_contact(engine: Engine, actor: Actor, now: datetime, org_id: str, kind: str, value: str) -> None:
    now = aware(now)
    kind, text = check_contact(kind, value)
    check(engine, actor, "set_limits", now, org_id=org_id, target=org_id)
    with transaction(engine) as conn:
        org_row(conn, org_id, lock=True)
        other = conn.execute(
            select(org_contacts.c.org_id).where(org_contacts.c.kind == kind, org_contacts.c.value == text)
        ).scalar()
        if other == org_id:
            return
        if other is not None:
            raise ConflictError(f"{text} is a contact of organization {other}", kind)
        conn.execute(insert(org_contacts).values(org_id=org_id, kind=kind, value=text, created_at=now))
        audit(conn, actor, "add_contact", now, org_id=org_id, target=org_id, after={kind: text})


def remove_contact(engine: Engine, actor: Actor, now: datetime, org_id: str, kind: str, value: str) -> bool:
    now = aware(now)
    kind, text = check_contact(kind, value)
    check(engine, actor, "set_limits", now, org_id=org_id, target=org_id)
    with transaction(engine) as conn:
        gone = conn.execute(
            delete(org_contacts).where(
                org_contacts.c.org_id == org_id, org_contacts.c.kind == kind, org_contacts.c.value == text
            )
        ).rowcount
        if gone:
            audit(conn, actor, "remove_contact", now, org_id=org_id, target=org_id, before={kind: text})
    return bool(gone)


def contacts(engine: Engine, org_id: str | None = None) -> list[dict[str, str]]:
    stmt = select(org_contacts.c.org_id, org_contacts.c.kind, org_contacts.c.value).order_by(
        org_contacts.c.org_id, org_contacts.c.kind, org_contacts.c.value
    )
    if org_id is not None:
        stmt = stmt.where(org_contacts.c.org_id == org_id)
    with transaction(engine) as conn:
        return [{"org_id": o, "kind": k, "value": v} for o, k, v in conn.execute(stmt)]
