"""The back office from a shell: ``quotadesk org|key|grant|limit|flag|staff``, the same library as the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from quotadesk.cli import app
from quotadesk.store.books import Books
from quotadesk.store.staff import authenticate


def _qd(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    return result


def _json(*args: str) -> Any:
    r = _qd(*args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_script_an_account_end_to_end(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/books.db"
    org = _json(
        "org", "create", "Acme", "--billing-mode", "prepaid", "--stripe-customer", "cus_Acme123", "--db", db
    )
    oid = org["id"]
    key = _json("key", "create", oid, "--name", "prod", "--environment", "production", "--db", db)
    assert key["secret"].startswith("sk-") and key["redacted"].endswith(key["secret"][-4:])
    assert _json("key", "list", oid, "--db", db)[0]["redacted"] == key["redacted"]
    grant = _json("grant", "add", oid, "25.00", "--kind", "goodwill", "--reason", "welcome", "--db", db)
    assert grant["id"].startswith("cg_")
    _json("limit", "set", oid, "--soft", "10.00", "--hard", "20.00", "--db", db)
    _json("org", "tier", oid, "tier2", "--db", db)
    _json("org", "rate-limits", oid, "--set", "gpt-4o=500:90000", "--db", db)
    shown = _json("org", "show", oid, "--db", db)
    assert shown["tier"]["current"] == "tier2" and shown["spend_limits"] == {"soft": "10.00", "hard": "20.00"}
    assert shown["rate_limits"]["gpt-4o"] == {"rpm": 500, "tpm": 90000}
    assert _json("org", "access", oid, "--model", "gpt-4o", "--db", db)["allowed"] is True
    flag = _json("flag", "raise", oid, "fraud", "--reason", "chargeback", "--db", db)
    refused = _qd("org", "access", oid, "--db", db)
    assert refused.exit_code == 1 and "suspended" in refused.stdout
    lifted = _json("flag", "lift", oid, str(flag["id"]), "--reason", "cleared", "--db", db)
    assert lifted["active"] is False
    assert [f["active"] for f in _json("flag", "list", oid, "--db", db)] == [False]
    events = [e["kind"] for e in _json("org", "timeline", oid, "--db", db)["events"]]
    assert events[:2] == ["account_created", "key_created"] and "flag_lifted" in events
    assert _json("key", "revoke", key["id"], "--db", db)["status"] == "revoked"
    assert [o["id"] for o in _json("org", "list", "--db", db)] == [oid]
    books = Books.open(db)
    try:
        audit_actors = {r[0] for r in books.engine.connect().exec_driver_sql("SELECT actor FROM audit_log")}
        assert any(a.startswith("cli:") for a in audit_actors)
    finally:
        books.close()


def test_staff_add_prints_the_token_once_and_stores_its_hash(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/books.db"
    out = _json("staff", "add", "Ana", "--role", "support", "--db", db)
    assert set(out) >= {"id", "token"} and out["token"].startswith("qds_")
    books = Books.open(db)
    try:
        assert authenticate(books.engine, out["token"]).name == "Ana"  # type: ignore[union-attr]
        stored = [r[0] for r in books.engine.connect().exec_driver_sql("SELECT token_hash FROM staff")]
        assert out["token"] not in stored and len(stored[0]) == 64
    finally:
        books.close()
    assert _json("staff", "list", "--db", db)[0]["role"] == "support"
    _json("staff", "disable", out["id"], "--db", db)
    books = Books.open(db)
    try:
        assert authenticate(books.engine, out["token"]) is None
    finally:
        books.close()


def test_bad_input_is_one_line_naming_the_field_and_exit_2(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/books.db"
    oid = _json("org", "create", "Acme", "--db", db)["id"]
    cases = [
        (["staff", "add", "Bo", "--role", "customer"], "role"),
        (["staff", "add", "Bo", "--role", "wizard"], "role"),
        (["grant", "add", oid, "1e3"], "amount"),
        (["grant", "add", oid, "5,00"], "amount"),
        (["grant", "add", "org_nope", "5.00"], "org"),
        (["limit", "set", oid, "--hard", "lots"], "hard"),
        (["org", "tier", oid, "tier9"], "current"),
        (["org", "rate-limits", oid, "--set", "gpt-4o=fast"], "--set"),
        (["org", "rate-limits", oid], "--set"),
        (["org", "stripe", oid, "customer_1"], "stripe_customer"),
        (["flag", "raise", oid, "spam"], "kind"),
        (["flag", "lift", oid, "99", "--reason", "x"], "flag"),
        (["flag", "lift", oid, "1"], "flag"),
        (["grant", "add", oid, "5.00", "--expires-at", "2027-01-01"], "--expires-at"),
        (["key", "create", oid, "--scope", "personal"], "owner"),
    ]
    for args, field in cases:
        r = _qd(*args, "--db", db)
        assert r.exit_code == 2, (args, r.output)
        assert r.stdout == "", (args, r.stdout)
        assert r.stderr.startswith("error: ") and field in r.stderr.splitlines()[0], (args, r.stderr)
