"""The console's library: the billing page and usage dashboard read models, the usage breakdown,
customer sign-ins and their CLI, and the server-side charts."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.consoleenv import Demo
from quotadesk.billing import model as m
from quotadesk.cli import app as cli_app
from quotadesk.desk.billing import billing_page, limit_bar
from quotadesk.desk.demo import DEMO_STAFF
from quotadesk.desk.usage_page import choose_range, parse_day, usage_dashboard
from quotadesk.errors import InputError, NotFoundError
from quotadesk.store.access import SYSTEM, Actor, Role
from quotadesk.store.books import Books
from quotadesk.store.customers import (
    add_customer,
    authenticate_customer,
    customer_session,
    disable_customer,
    end_customer_session,
    list_customers,
    start_customer_session,
)
from quotadesk.store.errors import ForbiddenError
from quotadesk.usage.breakdown import daily_by_model, usage_by
from quotadesk.usage.periods import Period
from quotadesk.usage.records import load_usage
from quotadesk.web.console.charts import Marker, limit_chart, spend_chart

NOW = datetime(2026, 11, 14, 9, 0, tzinfo=UTC)
B = 1_000_000_000  # nano-dollars in a dollar


# --------------------------------------------------------------------------- the billing page


def test_declined_card_account_has_the_payment_failed_banner(demo: Demo) -> None:
    page = billing_page(demo.desk.books, demo.org("card_expired_or_declined"), demo.desk.now())
    kinds = [b.kind for b in page.banners]
    assert kinds == ["payment_failed"]
    banner = page.banners[0]
    assert "card_declined" in banner.why and "failed on" in banner.why
    assert "Payment methods" in banner.lifts
    assert any(p.status == "failed" and p.failure_code == "card_declined" for p in page.payments)


def test_hard_limit_account_is_offline_and_refused_now(demo: Demo) -> None:
    page = billing_page(demo.desk.books, demo.org("hard_limit_reached"), demo.desk.now())
    assert page.limits.zone == "offline"
    assert page.limits.hard is not None and page.limits.month_to_date >= page.limits.hard
    assert not page.access.allowed and page.access.rule == "hard_limit"
    assert page.access.resets_at == page.limits.resets_at
    assert page.banners == ()  # a limit is not a failure of the account: the access box says it


def test_suspension_shows_its_trigger_to_staff_only(demo: Demo) -> None:
    org = demo.org("policy_violation")
    staff = billing_page(demo.desk.books, org, demo.desk.now())
    customer = billing_page(demo.desk.books, org, demo.desk.now(), audience="customer")
    assert [b.kind for b in staff.banners] == ["suspended"] == [b.kind for b in customer.banners]
    assert "policy violation" in staff.banners[0].why and "Trust & Safety" in staff.banners[0].lifts
    shown = json.dumps([customer.banners, customer.flags, customer.timeline], default=str)
    for secret in ("policy_violation", "policy violation", "automated", "manual", *DEMO_STAFF.values()):
        assert secret not in shown
    assert "Trust & Safety" in customer.banners[0].lifts
    assert all(f.kind == "" and f.source == "" and f.reason == "" for f in customer.flags)
    assert customer.stripe_customer is None
    assert not any("(by " in e["summary"] for e in customer.timeline)


@pytest.mark.parametrize(
    ("soft", "hard", "spend", "zone"),
    [
        (None, None, 5 * B, "none"),
        (6 * B, 10 * B, 5 * B, "safe"),
        (6 * B, 10 * B, 6 * B, "warning"),
        (6 * B, 10 * B, 10 * B, "offline"),
        (None, 10 * B, 9 * B, "safe"),
        (6 * B, None, 7 * B, "warning"),
    ],
)
def test_limit_zones(soft: int | None, hard: int | None, spend: int, zone: str) -> None:
    org = m.Organization("org_x", spend_limits=m.SpendLimits(soft, hard))
    bar = limit_bar(org, spend, NOW)
    assert bar.zone == zone
    assert bar.resets_at == datetime(2026, 12, 1, tzinfo=UTC)
    svg = str(limit_chart(bar))
    if zone in ("safe", "warning", "offline"):
        assert f'class="zone {zone} current"' in svg
    if hard is not None:
        assert 'data-zone="offline"' in svg
    else:
        assert 'data-zone="offline"' not in svg


def test_unknown_org_is_not_found(demo: Demo) -> None:
    with pytest.raises(NotFoundError):
        billing_page(demo.desk.books, "org_nobody", demo.desk.now())


# --------------------------------------------------------------------------- the usage dashboard


def test_retry_storm_is_found_and_its_day_is_the_peak(demo: Demo) -> None:
    now = demo.desk.now()
    period, against = choose_range(now)
    dash = usage_dashboard(demo.desk.books, demo.org("retry_storm"), now, period, against)
    storms = [f for f in dash.findings if f.root_cause.value == "retry_storm"]
    assert storms
    peak = max(dash.daily, key=lambda d: d.cost_nanos)
    assert any(f.window.start.date() <= peak.day <= f.window.end.date() for f in storms)
    assert sum(d.cost_nanos for d in dash.daily) == dash.total_nanos
    assert (
        sum(u.cost_nanos for u in dash.by_model) == dash.total_nanos == sum(u.cost_nanos for u in dash.by_key)
    )
    assert dash.decomposition["change"]  # the exact split is there
    # prepaid: the ledger charged exactly what the usage log totals, month by month
    assert dash.billed and all(b.difference_nanos == 0 for b in dash.billed)


def test_range_defaults_and_refusals() -> None:
    period, against = choose_range(NOW)
    assert (period.start, period.end) == (
        datetime(2026, 10, 16, tzinfo=UTC),
        datetime(2026, 11, 15, tzinfo=UTC),
    )
    assert against.end == period.start and against.end - against.start == period.end - period.start
    p2, a2 = choose_range(NOW, date(2026, 10, 1), date(2026, 10, 31), date(2026, 9, 1))
    assert a2.start == datetime(2026, 9, 1, tzinfo=UTC) and a2.end == datetime(
        2026, 10, 2, tzinfo=UTC
    )  # 31 days
    assert p2.label == "2026-10-01..2026-10-31"
    with pytest.raises(InputError) as backwards:
        choose_range(NOW, date(2026, 10, 5), date(2026, 10, 1))
    assert backwards.value.field == "to"
    with pytest.raises(InputError) as long:
        choose_range(NOW, date(2024, 1, 1), date(2026, 1, 1))
    assert long.value.field == "to"
    with pytest.raises(InputError) as bad_against:
        choose_range(NOW, date(2026, 10, 1), date(2026, 10, 5), date(2026, 9, 10), date(2026, 9, 1))
    assert bad_against.value.field == "against_to"
    with pytest.raises(InputError) as bad:
        parse_day("2026-13-01", "from")
    assert bad.value.field == "from"
    assert parse_day("", "from") is None


def _rows() -> list[dict[str, object]]:
    return [
        {
            "ts": "2026-10-01T10:00:00Z",
            "request_id": "r1",
            "key_id": "k1",
            "model": "gpt-4o",
            "input_tokens": 100,
            "output_tokens": 50,
            "requests": 2,
            "cost": "1.50",
        },
        {
            "ts": "2026-10-01T11:00:00Z",
            "request_id": "r2",
            "key_id": "k2",
            "model": "gpt-4o-mini",
            "input_tokens": 10,
            "output_tokens": 10,
            "requests": 1,
            "status": 429,
            "cost": "0",
        },
        {
            "ts": "2026-10-03T09:00:00Z",
            "request_id": "r3",
            "key_id": "k1",
            "model": "gpt-4o",
            "input_tokens": 300,
            "output_tokens": 0,
            "cached_tokens": 100,
            "requests": 1,
            "cost": "0.25",
        },
        {
            "ts": "2026-10-05T00:00:00Z",
            "request_id": "r4",
            "key_id": "k1",
            "model": "gpt-4o",
            "requests": 1,
            "cost": "9",
        },  # outside the period below
    ]


def test_breakdown_by_day_model_key() -> None:
    data = load_usage(_rows(), None)
    period = Period.parse("2026-10-01..2026-10-03")
    days = daily_by_model(data, period)
    assert [d.day for d in days] == [date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)]
    assert days[0].cost_by_model == {"gpt-4o": 1_500_000_000, "gpt-4o-mini": 0}
    assert days[0].requests == 3 and days[1].cost_nanos == 0 and days[1].requests == 0
    assert days[2].cost_nanos == 250_000_000
    keys = {u.name: u for u in usage_by(data, period, "key_id")}
    assert keys["k1"].requests == 3 and keys["k1"].cost_nanos == 1_750_000_000
    assert keys["k1"].tokens_per_request == (100 + 50 + 300 + 100) // 3
    assert keys["k2"].failed == 1
    models = usage_by(data, period, "model")
    assert [u.name for u in models] == ["gpt-4o", "gpt-4o-mini"]
    with pytest.raises(ValueError):
        usage_by(data, period, "ip")
    empty = load_usage([], None)
    assert usage_by(empty, period, "model") == ()
    assert all(d.cost_nanos == 0 for d in daily_by_model(empty, period))


def test_spend_chart_marks_findings_and_escapes() -> None:
    data = load_usage(_rows(), None)
    period = Period.parse("2026-10-01..2026-10-05")
    days = daily_by_model(data, period)
    svg = str(
        spend_chart(
            days,
            ["gpt-4o", "gpt-4o-mini"],
            [Marker("retry_storm", date(2026, 10, 5), date(2026, 10, 5), "retry <storm>")],
            title="Spend & more",
        )
    )
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert 'data-finding="retry_storm"' in svg and "retry &lt;storm&gt;" in svg and "Spend &amp; more" in svg
    assert 'data-day="2026-10-05" data-cost="9000000000"' in svg
    assert svg.count('class="day"') == 5


# --------------------------------------------------------------------------- customer sign-ins


@pytest.fixture
def books(tmp_path: Path) -> Books:
    b = Books.open(f"sqlite:///{tmp_path / 'books.db'}")
    b.create_org(SYSTEM, NOW, name="Acme", org_id="org_acme")
    b.create_org(SYSTEM, NOW, name="Other", org_id="org_other")
    return b


def test_customer_sign_in_lifecycle(books: Books) -> None:
    new = add_customer(books.engine, SYSTEM, NOW, "org_acme", "  ana@acme.example ")
    assert new.token.startswith("qdc_") and new.customer.name == "ana@acme.example"
    found = authenticate_customer(books.engine, new.token)
    assert found is not None and found.org_id == "org_acme" and found.actor.role == Role.CUSTOMER
    assert authenticate_customer(books.engine, new.token + "x") is None
    assert authenticate_customer(books.engine, "qds_not_a_customer") is None
    cookie = start_customer_session(books.engine, found, NOW)
    assert customer_session(books.engine, cookie, NOW) == found
    assert customer_session(books.engine, cookie, NOW + timedelta(hours=13)) is None  # expired
    end_customer_session(books.engine, cookie, NOW)
    assert customer_session(books.engine, cookie, NOW) is None
    again = start_customer_session(books.engine, found, NOW)
    disabled = disable_customer(books.engine, SYSTEM, NOW, found.id)
    assert not disabled.active
    assert authenticate_customer(books.engine, new.token) is None
    assert customer_session(books.engine, again, NOW) is None
    assert [c.active for c in list_customers(books.engine, "org_acme")] == [False]
    assert list_customers(books.engine, "org_other") == []


def test_customer_sign_in_refusals(books: Books) -> None:
    with pytest.raises(InputError) as bad_name:
        add_customer(books.engine, SYSTEM, NOW, "org_acme", "\x00")
    assert bad_name.value.field == "name"
    with pytest.raises(NotFoundError):
        add_customer(books.engine, SYSTEM, NOW, "org_missing", "ana")
    with pytest.raises(ForbiddenError):
        add_customer(books.engine, Actor("Sam", Role.SUPPORT), NOW, "org_acme", "ana")
    with pytest.raises(NotFoundError):
        disable_customer(books.engine, SYSTEM, NOW, "cust_missing")
    assert list_customers(books.engine) == []
    from sqlalchemy import select

    from quotadesk.store.db import transaction
    from quotadesk.store.schema import audit_log

    with transaction(books.engine) as conn:
        refused = (
            conn.execute(select(audit_log.c.action).where(audit_log.c.outcome == "refused")).scalars().all()
        )
    assert "manage_customers" in refused


def test_customer_cli(books: Books, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'books.db'}"
    runner = CliRunner()
    added = runner.invoke(cli_app, ["customer", "add", "org_acme", "--name", "ana", "--db", url, "--json"])
    assert added.exit_code == 0, added.output
    out = json.loads(added.stdout)
    assert out["org_id"] == "org_acme" and out["token"].startswith("qdc_") and out["active"]
    listed = runner.invoke(cli_app, ["customer", "list", "org_acme", "--db", url, "--json"])
    assert [r["id"] for r in json.loads(listed.stdout)] == [out["id"]]
    assert "token" not in listed.stdout
    gone = runner.invoke(cli_app, ["customer", "disable", out["id"], "--db", url, "--json"])
    assert gone.exit_code == 0 and json.loads(gone.stdout)["active"] is False
    missing = runner.invoke(cli_app, ["customer", "add", "org_missing", "--name", "ana", "--db", url])
    assert missing.exit_code == 2 and missing.stdout == ""
    assert "error: org_id:" in missing.stderr
    blank = runner.invoke(cli_app, ["customer", "add", "org_acme", "--name", " ", "--db", url])
    assert blank.exit_code == 2 and "error: name:" in blank.stderr
