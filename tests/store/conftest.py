"""Fixtures for the books on both databases.

SQLite runs on a file under ``tmp_path``. PostgreSQL runs on 127.0.0.1:5432, database
``test``, user ``postgres``: each test gets its own schema (created, migrated, dropped
afterwards). With no server the PostgreSQL cases are skipped, unless ``CI=true``: then a
missing server is a failure, so CI cannot pass by skipping the half that matters.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from quotadesk.store import migrations
from quotadesk.store.db import make_engine

PG_ADMIN_URL = os.environ.get("QUOTADESK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 14, 9, 0, tzinfo=UTC)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: races and crash tests (run in CI; deselect with -m 'not slow')")


_pg_state: dict[str, str | None] = {}


def _pg_unavailable() -> str | None:
    """None when the server answers, else why not (checked once per run)."""
    if "reason" not in _pg_state:
        import psycopg

        try:
            dsn = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(dsn, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            _pg_state["reason"] = None
        except psycopg.Error as exc:
            _pg_state["reason"] = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}"
    return _pg_state["reason"]


def require_pg() -> None:
    reason = _pg_unavailable()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped after the test."""
    require_pg()
    import psycopg

    schema = f"qd_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    dsn = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """An empty database of each kind (not migrated)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/books.db"
    url: str = request.getfixturevalue("pg_schema_url")
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A database of each kind, migrated to head."""
    eng = make_engine(db_url)
    migrations.upgrade(eng)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: object) -> Iterator[Engine]:
    """SQLite only, migrated: for tests whose logic does not depend on the database."""
    eng = make_engine(f"sqlite:///{tmp_path}/books.db")
    migrations.upgrade(eng)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def books(engine: Engine) -> Iterator[object]:
    from quotadesk.store.books import Books

    yield Books(engine)
