"""The desk service under test (fixtures in conftest.py): books on SQLite and PostgreSQL, a desk on a fixed clock, the app
in process (FastAPI's test client), and one staff token per role.

A real server on a free port is started by the tests that need one (test_server.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pgdb import fresh_schema
from quotadesk.desk.clock import FixedClock
from quotadesk.desk.service import Desk
from quotadesk.store.access import STAFF_ROLES, SYSTEM
from quotadesk.store.books import Books
from quotadesk.store.staff import add_staff
from quotadesk.web.app import create_app

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
ROLES = [r.value for r in STAFF_ROLES]


@dataclass
class Env:
    books: Books
    desk: Desk
    clock: FixedClock
    client: TestClient
    tokens: dict[str, str]
    url: str

    def h(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def call(self, role: str, method: str, path: str, **kw: Any) -> Any:
        return self.client.request(method, path, headers=self.h(role), **kw)

    def funded_org(self, amount: str = "50.00", **org: Any) -> tuple[str, str]:
        """An org with a granted balance and a production key; returns (org id, key secret)."""
        org_id = self.books.create_org(SYSTEM, NOW - timedelta(days=60), name=org.pop("name", "Acme"), **org)
        self.books.grant_credit(SYSTEM, NOW - timedelta(days=59), org_id, amount, kind="promotional")
        key = self.books.create_key(
            SYSTEM, NOW - timedelta(days=59), org_id, name="prod", environment="production"
        )
        return org_id, key.secret


@contextmanager
def make_env(url: str) -> Iterator[Env]:
    books = Books.open(url)
    clock = FixedClock(NOW)
    desk = Desk(books, clock=clock)
    tokens = {role: add_staff(books.engine, SYSTEM, NOW, f"{role} person", role).token for role in ROLES}
    try:
        with TestClient(create_app(desk)) as client:
            yield Env(books, desk, clock, client, tokens, url)
    finally:
        books.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Env]:
    """The desk on each database."""
    if request.param == "sqlite":
        with make_env(f"sqlite:///{tmp_path}/books.db") as e:
            yield e
    else:
        with fresh_schema() as url, make_env(url) as e:
            yield e


@pytest.fixture
def sqlite_env(tmp_path: Any) -> Iterator[Env]:
    """The desk on SQLite only (for tests whose logic does not depend on the database)."""
    with make_env(f"sqlite:///{tmp_path}/books.db") as e:
        yield e
