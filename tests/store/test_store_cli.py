"""``quotadesk init`` and ``quotadesk books verify|tick`` through Typer's runner."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer
from sqlalchemy import text
from typer.testing import CliRunner

from quotadesk.cli.books import books_app, init_command
from quotadesk.store.access import SYSTEM
from quotadesk.store.books import Books
from quotadesk.store.db import make_engine
from quotadesk.store.metering import UsageEvent

NOW = datetime(2026, 11, 14, 9, 0, tzinfo=UTC)


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("init")(init_command)
    app.add_typer(books_app, name="books")
    return app


def test_init_verify_tick_and_drift(tmp_path: Path) -> None:
    runner = CliRunner()
    url = f"sqlite:///{tmp_path}/q.db"
    first = runner.invoke(_app(), ["init", "--db", url, "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["state"] == "created"
    again = runner.invoke(_app(), ["init", "--db", url])
    assert again.exit_code == 0 and "up to date" in again.output

    books = Books(make_engine(url))
    org = books.create_org(SYSTEM, NOW, free_trial="5.00", trial_days=10)
    books.record_usage(NOW, UsageEvent("r1", org, "gpt-4o-mini", NOW, 1000, 10))
    books.close()

    ok = runner.invoke(_app(), ["books", "verify", "--db", url, "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["ok"] is True
    tick = runner.invoke(_app(), ["books", "tick", "--db", url, "--now", "2026-12-01T00:00:00Z", "--json"])
    assert tick.exit_code == 0, tick.output
    assert json.loads(tick.output)["counts"]["grants_expired"] == 1

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE ledger_accounts SET balance = balance + 5 WHERE name = 'breakage'"))
    engine.dispose()
    bad = runner.invoke(_app(), ["books", "verify", "--db", url])
    assert bad.exit_code == 1
    assert "balance_drift" in bad.output and "breakage" in bad.output


def test_cli_errors_are_clear_and_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    url = f"sqlite:///{tmp_path}/q.db"
    naive = runner.invoke(_app(), ["books", "tick", "--db", url, "--now", "2026-12-01T00:00:00"])
    assert naive.exit_code == 2 and "--now" in naive.output
    bad_url = runner.invoke(_app(), ["init", "--db", "mysql://nope"])
    assert bad_url.exit_code == 2 and "db:" in bad_url.output
