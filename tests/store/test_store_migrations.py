"""Migrations go from empty to head and back on both databases, and head equals the schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from quotadesk.store import migrations
from quotadesk.store.db import make_engine
from quotadesk.store.schema import metadata


def test_empty_to_head_and_down_again(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert migrations.current(engine) is None
        assert migrations.upgrade(engine) == migrations.head()
        tables = set(inspect(engine).get_table_names())
        assert set(metadata.tables) <= tables
        # upgrading again is a no-op
        assert migrations.upgrade(engine) == migrations.head()
        assert migrations.downgrade(engine, "base") is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        assert migrations.upgrade(engine) == migrations.head()
    finally:
        engine.dispose()


def test_head_matches_schema_module(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrations.upgrade(engine)
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, metadata)
        assert diff == []
    finally:
        engine.dispose()
