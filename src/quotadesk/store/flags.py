"""Flags and the suspension they cause: recorded here, decided by ``billing.suspension``.

The stored ``status`` and ``console_access`` of an organization are derived from its flags
by ``suspension_state`` each time a flag changes, never set by hand.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection, insert, update

from quotadesk.billing.model import ConsoleAccess, FlagKind, FlagSource, OrgStatus
from quotadesk.billing.suspension import SUSPENSION_NOTICE, suspension_state
from quotadesk.store.schema import flags, organizations
from quotadesk.store.snapshot import load_organization
from quotadesk.store.values import add_notice


def sync_status(conn: Connection, org_id: str) -> None:
    """Status and console access follow the flags, as ``suspension_state`` reads them."""
    org = load_organization(conn, org_id)
    state = suspension_state(replace(org, status=OrgStatus.ACTIVE))
    conn.execute(
        update(organizations)
        .where(organizations.c.id == org_id)
        .values(
            status=(OrgStatus.SUSPENDED if state.suspended else OrgStatus.ACTIVE).value,
            console_access=(ConsoleAccess.BLOCKED if state.console_blocked else ConsoleAccess.OK).value,
            version=organizations.c.version + 1,
        )
    )


def raise_flag_in(
    conn: Connection, org_id: str, kind: FlagKind, source: FlagSource, now: datetime, reason: str
) -> int:
    """Insert an active flag, send its suspension notice and suspend (caller holds the lock).
    Returns the flag's id."""
    result = conn.execute(
        insert(flags)
        .values(org_id=org_id, kind=kind.value, source=source.value, at=now, active=True, reason=reason)
        .returning(flags.c.id)
    )
    flag_id = int(result.scalar_one())
    add_notice(conn, org_id, SUSPENSION_NOTICE[kind], now)
    sync_status(conn, org_id)
    return flag_id
