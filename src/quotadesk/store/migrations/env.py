"""Alembic environment: runs on the connection ``quotadesk.store.migrations`` hands over.

Kept minimal on purpose: no ini file, no logging setup, no offline mode. The caller's
transaction wraps every step, so a failure rolls the whole upgrade back.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from quotadesk.store.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


_conn = context.config.attributes.get("connection")
if not isinstance(_conn, Connection):
    raise RuntimeError("quotadesk migrations run through quotadesk.store.migrations.upgrade(engine)")
_run(_conn)
