"""Alembic migrations of the books, shipped inside the package and run from code.

``upgrade(engine)`` takes an empty or older database to head; ``downgrade(engine, "base")``
removes everything. Each runs in ONE transaction together with the ``alembic_version``
update, so a failed migration leaves the database as it was (both SQLite and PostgreSQL
have transactional DDL). No ``alembic.ini`` is needed: the script location is this folder.

New revisions: ``alembic -x ... revision`` needs ``script.py.mako`` next to this file (kept in
the source tree); the revision files themselves are ``.py`` and ship with the wheel.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from quotadesk.store.db import translate_errors

HERE = Path(__file__).resolve().parent


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(HERE / "versions"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision this code knows."""
    rev = ScriptDirectory.from_config(config()).get_current_head()
    assert rev is not None, "no migrations found"
    return rev


def current(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with translate_errors(), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate to ``revision`` (default head) in one transaction; returns the revision reached."""
    with translate_errors(), engine.begin() as conn:
        command.upgrade(config(conn), revision)
    return current(engine)


def downgrade(engine: Engine, revision: str = "base") -> str | None:
    """Migrate down to ``revision`` (default: nothing left) in one transaction."""
    with translate_errors(), engine.begin() as conn:
        command.downgrade(config(conn), revision)
    return current(engine)
