"""bundle_export: the books as a contract-v1 case bundle, and triage reading it back.

The end-to-end case of issue #5: a card the test processor attaches and then declines
(Stripe's 4000 0000 0000 0341), a failed top-up, credit gone; exported and triaged, it is
payment_failure / card_expired_or_declined.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
from typer.testing import CliRunner

from quotadesk.billing.decision import Deny
from quotadesk.billing.dialects import render
from quotadesk.cli.sim import bundle_app
from quotadesk.errors import InputError, NotFoundError
from quotadesk.store.access import SYSTEM, Actor, Role
from quotadesk.store.books import Books
from quotadesk.store.export import bundle_export, default_usage_since
from quotadesk.store.metering import UsageEvent
from quotadesk.triage.bundle import parse
from quotadesk.triage.engine import triage_bundle

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "src/quotadesk/data/contracts/case-bundle.schema.json").read_text()
)
T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
OWNER = Actor("owner@acme.example", Role.CUSTOMER)


@pytest.fixture
def books(tmp_path: Path) -> Iterator[Books]:
    b = Books.open(f"sqlite:///{tmp_path / 'books.db'}")
    yield b
    b.close()


def _spent_org(books: Books) -> tuple[str, str]:
    """An org on tier 1 whose $10 of credit its own traffic used up; returns (org, secret)."""
    org = books.create_org(SYSTEM, T0, name="Acme", org_id="org_acme")
    key = books.create_key(OWNER, T0, org, name="production", environment="production")
    books.add_payment_method(OWNER, T0, org, "4242424242424242", 12, 2030)
    books.top_up(OWNER, T0, org, "10.00")
    books.tick(T0 + timedelta(days=1, hours=1))
    events = [
        UsageEvent(
            request_id=f"r{i}",
            org_id=org,
            model="gpt-4o-mini",
            ts=T0 + timedelta(days=2, hours=i),
            input_tokens=3_000_000,
            output_tokens=1_000_000,
            requests=100,
            key_id=key.id,
            fingerprint=f"fp{i % 3}",
            ip="203.0.113.7",
        )
        for i in range(12)
    ]
    books.record_usage_batch(T0 + timedelta(days=2, hours=12), events)
    return org, key.secret


def test_declined_card_exports_and_triages_as_card_declined(books: Books) -> None:
    org, secret = _spent_org(books)
    when = T0 + timedelta(days=3)
    books.add_payment_method(OWNER, when, org, "4000000000000341", 8, 2029)
    payment = books.top_up(OWNER, when, org, "40.00")
    assert payment.failure_code == "card_declined"
    deny = books.admit(when + timedelta(minutes=5), secret=secret, model="gpt-4o-mini", input_tokens=900)
    assert isinstance(deny, Deny) and deny.status == 402
    wire = render(deny, "openai")
    ticket = {
        "id": "T-1",
        "body": "Our API calls stopped working this morning.",
        "attachments": [
            {"kind": "error_response", "status": wire.status, "body": wire.text(), "seen_at": None}
        ],
    }
    doc = bundle_export(books, org, ticket, when + timedelta(minutes=30), provider="openai")
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)  # records included
    result = triage_bundle(parse(doc))
    assert (result["incident"], result["root_cause"], result["route"]) == (
        "payment_failure",
        "card_expired_or_declined",
        "none",
    ), result["decision_path"]
    assert secret not in json.dumps(doc)


def test_account_maps_one_to_one(books: Books) -> None:
    org, _ = _spent_org(books)
    books.set_limits(OWNER, T0, org, soft="50.00", hard="80.00")
    books.set_auto_recharge(OWNER, T0, org, enabled=True, threshold="5.00", amount="25.00")
    doc = bundle_export(books, org, {"body": "hello"}, T0 + timedelta(days=3))
    a = doc["account"]
    model = books.organization(org)
    assert a["id"] == "org_acme" and a["name"] == "Acme" and a["billing_mode"] == "prepaid"
    assert a["tier"]["current"] == model.tier.current == "tier1"
    assert a["spend_limits"] == {"soft": "50.00", "hard": "80.00"}
    assert a["auto_recharge"] == {"enabled": True, "threshold": "5.00", "amount": "25.00"}
    assert [k["id"] for k in a["api_keys"]] == [k.id for k in model.api_keys]
    assert a["api_keys"][0]["redacted"].startswith("sk-") and a["api_keys"][0]["environment"] == "production"
    assert [(p["amount"], p["status"]) for p in a["payments"]] == [("10.00", "succeeded")]
    assert a["payment_methods"][0] | {"id": "x"} == {
        "id": "x",
        "brand": "visa",
        "last4": "4242",
        "exp_month": 12,
        "exp_year": 2030,
        "status": "valid",
        "default": True,
    }
    # the tier in force: tier 1 calls no premium model, and its limits come with it
    assert "o1" not in a["model_access"] and "gpt-4o-mini" in a["model_access"]
    assert a["rate_limits"]["gpt-4o-mini"] == {"rpm": 500, "tpm": 200000}
    # usage rows are the events; their costs add up to what the ledger spent
    rows = doc["usage"]["records"]
    assert len(rows) == 12 and all(r["requests"] == 100 for r in rows)
    spent = sum(Decimal(r["cost"]) for r in rows)
    grant = a["credit_grants"][0]
    assert Decimal(grant["amount"]) - Decimal(grant["remaining"]) == min(spent, Decimal("10.00"))
    assert set(doc["prices"]) == {"gpt-4o-mini"}
    assert doc["prices"]["gpt-4o-mini"]["input_per_mtok"] == "0.15"


def test_expired_grant_shows_the_remainder_it_lost(books: Books) -> None:
    org = books.create_org(SYSTEM, T0, org_id="org_trial", free_trial="5.00", trial_days=14)
    books.tick(T0 + timedelta(days=15))
    assert books.organization(org).credit_grants[0].remaining == 0  # written off in the books
    doc = bundle_export(books, org, {"body": "where did my credits go"}, T0 + timedelta(days=16))
    grant = doc["account"]["credit_grants"][0]
    assert (grant["kind"], grant["remaining"]) == ("free_trial", "5.00")
    assert "credits_expired" in [n["kind"] for n in doc["account"]["notices"]]


def test_many_events_become_hourly_buckets(books: Books) -> None:
    org, _ = _spent_org(books)
    doc = bundle_export(books, org, {"body": "x"}, T0 + timedelta(days=3), bucket_above=5)
    rows = doc["usage"]["records"]
    assert len(rows) == 12  # one per hour, key, model, status, fingerprint, ip: already distinct
    assert all(r["request_id"].startswith("bkt_") for r in rows)
    full = bundle_export(books, org, {"body": "x"}, T0 + timedelta(days=3))
    assert sum(Decimal(r["cost"]) for r in rows) == sum(Decimal(r["cost"]) for r in full["usage"]["records"])


def test_buckets_sum_events_of_the_same_hour(books: Books) -> None:
    org = books.create_org(SYSTEM, T0, org_id="org_b", billing_mode="invoiced")
    events = [
        UsageEvent(f"e{i}", org, "gpt-4o", T0 + timedelta(minutes=i), 100, 10, fingerprint="same")
        for i in range(30)
    ]
    books.record_usage_batch(T0 + timedelta(hours=1), events)
    rows = bundle_export(books, org, {"body": "x"}, T0 + timedelta(hours=2), bucket_above=10)["usage"][
        "records"
    ]
    assert [(r["requests"], r["input_tokens"], r["fingerprint"]) for r in rows] == [(30, 3000, "same")]
    assert rows[0]["ts"] == "2026-10-01T09:00:00Z"


def test_as_of_leaves_out_what_came_later(books: Books) -> None:
    org, _ = _spent_org(books)
    doc = bundle_export(books, org, {"body": "x"}, T0 + timedelta(days=2, hours=5, minutes=30))
    assert len(doc["usage"]["records"]) == 6
    assert doc["ticket"]["received_at"] == doc["as_of"] == "2026-10-03T14:30:00Z"
    early = bundle_export(books, org, {"body": "x"}, T0 - timedelta(days=1) + timedelta(days=1))
    assert early["account"]["api_keys"] and early["usage"]["records"] == []


def test_default_usage_window_reaches_two_months_back() -> None:
    assert default_usage_since(datetime(2026, 11, 3, 10, tzinfo=UTC)) == datetime(2026, 9, 1, tzinfo=UTC)
    assert default_usage_since(datetime(2026, 1, 31, tzinfo=UTC)) == datetime(2025, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"ticket": "just text"}, "ticket"),
        ({"ticket": {"subject": "no body"}}, "ticket.body"),
        ({"ticket": {"body": "x", "id": ""}}, "ticket.id"),
        ({"ticket": {"body": "x", "attachments": "nope"}}, "ticket.attachments"),
        ({"as_of": datetime(2026, 10, 5)}, "as_of"),
        ({"usage_since": datetime(2026, 12, 1, tzinfo=UTC)}, "usage_since"),
        ({"provider": " "}, "provider"),
        ({"status_page": ["not", "an", "object"]}, "status_page"),
        ({"ticket": {"body": "x", "attachments": [{"kind": "screenshot"}]}}, "$.ticket.attachments[0]"),
    ],
)
def test_bad_input_names_the_field(books: Books, kwargs: dict[str, Any], field: str) -> None:
    org, _ = _spent_org(books)
    args: dict[str, Any] = {"ticket": {"body": "x"}, "as_of": T0 + timedelta(days=4)} | kwargs
    with pytest.raises(InputError) as err:
        bundle_export(books, org, **args)
    assert err.value.field == field


def test_unknown_org_is_not_found(books: Books) -> None:
    with pytest.raises(NotFoundError):
        bundle_export(books, "org_nope", {"body": "x"}, T0)
    with pytest.raises(InputError):
        bundle_export(object(), "org_nope", {"body": "x"}, T0)


def test_engine_alone_uses_the_default_tables(books: Books) -> None:
    org, _ = _spent_org(books)
    doc = bundle_export(books.engine, org, {"body": "x"}, T0 + timedelta(days=3))
    assert doc["account"]["tier"]["current"] == "tier1"


def test_cli_export_writes_a_bundle_and_refuses_an_unknown_org(books: Books, tmp_path: Path) -> None:
    org, _ = _spent_org(books)
    app = typer.Typer()
    app.add_typer(bundle_app, name="bundle")
    ticket = tmp_path / "ticket.txt"
    ticket.write_text("Our calls fail since this morning.\n")
    out = tmp_path / "case.json"
    url = str(books.engine.url)
    runner = CliRunner()
    args = ["bundle", "export", org, "--ticket", str(ticket), "--as-of", "2026-10-04T12:00:00Z", "--db", url]
    res = runner.invoke(app, [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["ticket"] == {
        "id": "ticket",
        "body": "Our calls fail since this morning.",
        "received_at": "2026-10-04T12:00:00Z",
        "subject": "",
        "attachments": [],
    }
    res = runner.invoke(app, ["bundle", "export", "org_nope", "--ticket", str(ticket), "--db", url])
    assert res.exit_code == 2 and "org_nope" in res.output
    res = runner.invoke(app, [*args[:-4], "--as-of", "2026-10-04T12:00:00", "--db", url])
    assert res.exit_code == 2 and "--as-of" in res.output
