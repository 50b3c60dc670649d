"""PostgreSQL for tests: a fresh schema per test on 127.0.0.1:5432 (database ``test``), dropped after.

Without a server the caller skips, except under ``CI=true``, where a missing server fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_ADMIN_URL = os.environ.get("QUOTADESK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_state: dict[str, str | None] = {}


def _dsn() -> str:
    return PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")


def require_pg() -> None:
    if "reason" not in _state:
        import psycopg

        try:
            with psycopg.connect(_dsn(), connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            _state["reason"] = None
        except psycopg.Error as exc:
            _state["reason"] = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}"
    reason = _state["reason"]
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A URL whose search_path is a new, empty schema."""
    require_pg()
    import psycopg

    schema = f"qd_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(_dsn(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
