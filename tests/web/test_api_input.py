"""Bad input to the desk API: a 4xx in the one error shape naming the field, and nothing changes."""

from __future__ import annotations

from typing import Any

import pytest
from deskenv import Env
from sqlalchemy import func, select

from quotadesk.store.db import transaction
from quotadesk.store.schema import audit_log, cases, credit_grants, organizations


def _rows(e: Env) -> tuple[int, ...]:
    with transaction(e.books.engine) as conn:
        return tuple(
            int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
            for t in (organizations, cases, credit_grants, audit_log)
        )


BAD: list[tuple[str, str, str, Any, str]] = [
    # (method, path, role, body, field named)
    ("POST", "/api/v1/cases", "support", {}, "body.ticket"),
    ("POST", "/api/v1/cases", "support", {"ticket": {"subject": "hi"}}, "body.ticket.body"),
    ("POST", "/api/v1/cases", "support", {"ticket": {"body": ""}}, "body.ticket.body"),
    ("POST", "/api/v1/cases", "support", {"ticket": {"body": 42}}, "body.ticket.body"),
    (
        "POST",
        "/api/v1/cases",
        "support",
        {"ticket": {"body": "x", "received_at": "yesterday"}},
        "body.ticket.received_at",
    ),
    (
        "POST",
        "/api/v1/cases",
        "support",
        {"ticket": {"body": "x", "received_at": "2026-11-20T10:00:00"}},
        "body.ticket.received_at",
    ),
    (
        "POST",
        "/api/v1/cases",
        "support",
        {"ticket": {"body": "x", "attachments": [{"kind": "photo"}]}},
        "body.ticket.attachments.0",
    ),
    ("POST", "/api/v1/cases", "support", {"ticket": {"body": "x"}, "org_id": "org_missing"}, "org_id"),
    ("POST", "/api/v1/cases", "support", [1, 2], "body"),
    ("POST", "/api/v1/orgs", "admin", {"billing_mode": "prepaid"}, "body.name"),
    ("POST", "/api/v1/orgs", "admin", {"name": "A", "billing_mode": "postpaid"}, "body.billing_mode"),
    ("POST", "/api/v1/orgs", "admin", {"name": "A", "stripe_customer": "cust_1"}, "body.stripe_customer"),
    ("POST", "/api/v1/orgs/{org}/grants", "admin", {"amount": 10.5}, "body.amount"),
    ("POST", "/api/v1/orgs/{org}/grants", "admin", {"amount": "1e3"}, "body.amount"),
    ("POST", "/api/v1/orgs/{org}/grants", "admin", {"amount": "-5.00"}, "body.amount"),
    ("POST", "/api/v1/orgs/{org}/grants", "admin", {"amount": "0.0000000001"}, "body.amount"),
    ("POST", "/api/v1/orgs/{org}/grants", "admin", {"amount": "5.00", "kind": "purchased"}, "body.kind"),
    ("PUT", "/api/v1/orgs/{org}/limits", "admin", {"soft": "ten"}, "body.soft"),
    ("PUT", "/api/v1/orgs/{org}/tier", "admin", {"current": "tier9"}, "current"),
    ("PUT", "/api/v1/orgs/{org}/rate_limits", "admin", {"gpt-4o": {"rpm": 0}}, "body.gpt-4o.rpm"),
    ("PUT", "/api/v1/orgs/{org}/rate_limits", "admin", {"gpt-4o": {}}, "rate_limits.gpt-4o"),
    ("POST", "/api/v1/orgs/{org}/flags", "admin", {"kind": "spam"}, "body.kind"),
    ("POST", "/api/v1/orgs/{org}/flags/999/lift", "admin", {"reason": "x"}, "flag"),
    ("POST", "/api/v1/orgs/{org}/flags/abc/lift", "admin", {"reason": "x"}, "path.flag"),
    ("POST", "/api/v1/orgs/{org}/keys", "admin", {"scope": "personal"}, "owner"),
    ("POST", "/api/v1/cases/case_nope/notes", "support", {"text": "x"}, "case"),
    ("POST", "/api/v1/cases/case_nope/escalate", "support", {"team": "marketing"}, "body.team"),
    ("GET", "/api/v1/cases?limit=0", "support", None, "query.limit"),
    ("GET", "/api/v1/cases?status=closed", "support", None, "query.status"),
    ("GET", "/api/v1/orgs/org_nope", "support", None, "org_id"),
    ("POST", "/api/v1/staff", "admin", {"name": "x", "role": "customer"}, "body.role"),
]


@pytest.mark.parametrize(
    ("method", "path", "role", "body", "field"), BAD, ids=[f"{b[0]} {b[1]} {b[4]}" for b in BAD]
)
def test_bad_input_names_the_field_and_changes_nothing(
    sqlite_env: Env, method: str, path: str, role: str, body: Any, field: str
) -> None:
    e = sqlite_env
    org, _ = e.funded_org()
    before = _rows(e)
    r = (
        e.call(role, method, path.replace("{org}", org), json=body)
        if body is not None
        else e.call(role, method, path.replace("{org}", org))
    )
    assert 400 <= r.status_code < 500, r.text
    err = r.json()["error"]
    assert set(err) >= {"code", "message"} and err["message"]
    assert err.get("field") == field, err
    assert _rows(e) == before


def test_bodies_that_are_not_json_too_large_or_the_wrong_type(sqlite_env: Env) -> None:
    e = sqlite_env
    h = e.h("support") | {"Content-Type": "application/json"}
    r = e.client.post("/api/v1/cases", content=b'{"ticket": {"body": "x"', headers=h)
    assert r.status_code == 400 and r.json()["error"]["field"] == "body"
    r = e.client.post("/api/v1/cases", content=b"\xff\xfe\x00garbage", headers=h)
    assert r.status_code == 400
    big = b'{"ticket": {"body": "' + b"a" * 1_100_000 + b'"}}'
    r = e.client.post("/api/v1/cases", content=big, headers=h)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    r = e.client.post(
        "/api/v1/cases",
        content=b"ticket=x",
        headers=e.h("support") | {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert 400 <= r.status_code < 500
    assert e.client.get("/api/v1/nothing-here", headers=e.h("support")).json()["error"]["code"] == "not_found"
    r = e.client.delete("/api/v1/cases", headers=e.h("support"))
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_a_key_in_a_bad_value_is_never_echoed(sqlite_env: Env) -> None:
    e = sqlite_env
    key = "sk-proj-" + "Zq9Xw8Vu7" * 5
    r = e.call("admin", "PUT", "/api/v1/orgs/org_x/tier", json={"current": key[:16]})
    assert r.status_code in (400, 404)
    r = e.call("admin", "POST", "/api/v1/orgs", json={"name": "A", "stripe_customer": key})
    assert r.status_code == 400 and key not in r.text
