"""Every row of the service contract, called by every staff role: allowed roles succeed, every other
role gets 403 naming the roles that may, and every call (done or refused) is in the audit log.

The expected table is written out here from the contract and the runbook's table of what support
may and may not do; it is not read from the code's own permission table, so a wrong permission
fails this test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from deskenv import NOW, ROLES, Env

from quotadesk.store.access import SYSTEM

ALL = set(ROLES)
# action: (roles allowed, call(env, org_id, flag_ids) -> response, audit action)
Call = Callable[[Env, str, str, dict[str, int]], Any]


def _post_org(e: Env, role: str, org: str, flags: dict[str, int]) -> Any:
    return e.call(role, "POST", "/api/v1/orgs", json={"name": "New Co", "billing_mode": "prepaid"})


def _get_org(e: Env, role: str, org: str, flags: dict[str, int]) -> Any:
    return e.call(role, "GET", f"/api/v1/orgs/{org}")


def _timeline(e: Env, role: str, org: str, flags: dict[str, int]) -> Any:
    return e.call(role, "GET", f"/api/v1/orgs/{org}/timeline")


def _key(e: Env, role: str, org: str, flags: dict[str, int]) -> Any:
    return e.call(role, "POST", f"/api/v1/orgs/{org}/keys", json={"name": "ci", "environment": "ci"})


def _grant(e: Env, role: str, org: str, flags: dict[str, int]) -> Any:
    return e.call(role, "POST", f"/api/v1/orgs/{org}/grants", json={"amount": "10.00", "kind": "goodwill"})


def _limits(e: Env, role: str, org: str, flags: dict[str, int]) -> Any:
    return e.call(role, "PUT", f"/api/v1/orgs/{org}/limits", json={"soft": "50.00", "hard": "80.00"})


def _tier(e: Env, role: str, org: str, flags: dict[str, int]) -> Any:
    return e.call(role, "PUT", f"/api/v1/orgs/{org}/tier", json={"current": "tier2"})


def _rates(e: Env, role: str, org: str, flags: dict[str, int]) -> Any:
    return e.call(role, "PUT", f"/api/v1/orgs/{org}/rate_limits", json={"gpt-4o": {"rpm": 900, "tpm": 90000}})


def _raise(kind: str) -> Call:
    def call(e: Env, role: str, org: str, flags: dict[str, int]) -> Any:
        return e.call(role, "POST", f"/api/v1/orgs/{org}/flags", json={"kind": kind, "source": "manual"})

    return call


def _lift(kind: str) -> Call:
    def call(e: Env, role: str, org: str, flags: dict[str, int]) -> Any:
        return e.call(
            role, "POST", f"/api/v1/orgs/{org}/flags/{flags[kind]}/lift", json={"reason": "reviewed"}
        )

    return call


def _audit(e: Env, role: str, org: str, flags: dict[str, int]) -> Any:
    return e.call(role, "GET", f"/api/v1/audit?org={org}")


TABLE: list[tuple[str, set[str], Call, str]] = [
    ("create org", {"billing_team", "finance", "admin"}, _post_org, "create_org"),
    ("read account", ALL, _get_org, "read_account"),
    ("read timeline", ALL, _timeline, "read_account"),
    ("create key", {"security", "admin"}, _key, "create_key"),
    ("grant credit", {"billing_team", "admin"}, _grant, "grant_credit"),
    ("set limits", {"billing_team", "admin"}, _limits, "set_limits"),
    ("set tier", {"billing_team", "admin"}, _tier, "set_tier"),
    ("set rate limits", {"admin"}, _rates, "set_rate_limits"),
    (
        "raise policy flag",
        {"trust_and_safety", "admin"},
        _raise("policy_violation"),
        "raise_flag:policy_violation",
    ),
    ("raise fraud flag", {"trust_and_safety", "security", "admin"}, _raise("fraud"), "raise_flag:fraud"),
    (
        "raise balance flag",
        {"finance", "admin"},
        _raise("outstanding_balance"),
        "raise_flag:outstanding_balance",
    ),
    (
        "lift policy flag",
        {"trust_and_safety", "admin"},
        _lift("policy_violation"),
        "lift_flag:policy_violation",
    ),
    ("lift fraud flag", {"trust_and_safety", "admin"}, _lift("fraud"), "lift_flag:fraud"),
    (
        "lift balance flag",
        {"finance", "admin"},
        _lift("outstanding_balance"),
        "lift_flag:outstanding_balance",
    ),
    ("read audit", {"admin", "security", "finance"}, _audit, "read_audit"),
]


def _setup(e: Env) -> tuple[str, dict[str, int]]:
    org, _ = e.funded_org()
    flags = {
        k: e.books.raise_flag(SYSTEM, NOW, org, k, reason="test")
        for k in ("policy_violation", "fraud", "outstanding_balance")
    }
    return org, flags


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("what", "allowed", "call", "action"), TABLE, ids=[t[0] for t in TABLE])
def test_every_contract_row_for_every_role(
    sqlite_env: Env, role: str, what: str, allowed: set[str], call: Call, action: str
) -> None:
    e = sqlite_env
    org, flags = _setup(e)
    r = call(e, role, org, flags)
    if role in allowed:
        assert r.status_code in (200, 201), (what, role, r.text)
        return
    assert r.status_code == 403, (what, role, r.status_code, r.text)
    err = r.json()["error"]
    assert err["code"] == "forbidden" and err["field"] == "role"
    assert set(err["allowed_roles"]) - {"customer"} == allowed, err  # a customer may do some themselves
    assert role in err["message"]
    # the refusal is audited with who, the role and what was attempted
    audit = e.call("admin", "GET", "/api/v1/audit", params={"action": action}).json()
    refused = [a for a in audit if a["outcome"] == "refused" and a["role"] == role]
    assert refused, (what, role, audit)
    assert refused[0]["who"] == f"{role} person"


def test_support_may_not_lift_approve_or_waive_and_sees_why(env: Env) -> None:
    """The runbook's table, through the API on both databases: each refusal names the team that may."""
    org, flags = _setup(env)
    cases = {
        f"/api/v1/orgs/{org}/flags/{flags['policy_violation']}/lift": (
            {"reason": "x"},
            {"trust_and_safety", "admin"},
        ),
        f"/api/v1/orgs/{org}/flags/{flags['outstanding_balance']}/lift": (
            {"reason": "x"},
            {"finance", "admin"},
        ),
        f"/api/v1/orgs/{org}/grants": ({"amount": "5.00", "kind": "goodwill"}, {"billing_team", "admin"}),
    }
    for path, (body, allowed) in cases.items():
        r = env.call("support", "POST", path, json=body)
        assert r.status_code == 403 and set(r.json()["error"]["allowed_roles"]) - {"customer"} == allowed
    # still suspended: nothing changed
    account = env.call("support", "GET", f"/api/v1/orgs/{org}").json()
    assert account["status"] == "suspended"
    assert all(f["active"] for f in account["flags"])
    grants_before = len(account["credit_grants"])
    assert grants_before == 1


def test_changes_are_audited_with_target_before_and_after(env: Env) -> None:
    org, _ = env.funded_org()
    r = env.call("billing_team", "PUT", f"/api/v1/orgs/{org}/limits", json={"soft": "40.00", "hard": "90.00"})
    assert r.status_code == 200 and r.json() == {"soft": "40.00", "hard": "90.00"}
    r = env.call("admin", "GET", "/api/v1/audit", params={"org": org, "action": "set_limits"})
    entry = r.json()[0]
    assert entry["who"] == "billing_team person" and entry["role"] == "billing_team"
    assert entry["target"] == org and entry["outcome"] == "ok"
    assert entry["before"] == {"soft_limit": None, "hard_limit": None}
    assert entry["after"] == {"soft_limit": 40_000_000_000, "hard_limit": 90_000_000_000}
    assert entry["at"] == "2026-11-20T10:00:00Z"


def test_no_token_or_a_bad_one_is_401(sqlite_env: Env) -> None:
    e = sqlite_env
    for headers in ({}, {"Authorization": "Bearer qds_nope"}, {"Authorization": "Basic abc"}):
        r = e.client.get("/api/v1/cases", headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert "WWW-Authenticate" in r.headers
    member = e.call("admin", "GET", "/api/v1/me").json()
    assert member["role"] == "admin" and "lift_flag:fraud" in member["may"]
    supp = e.call("support", "GET", "/api/v1/me").json()
    assert not any(a.startswith("lift_flag") for a in supp["may"])
