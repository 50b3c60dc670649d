"""Cases through the API, on both databases: a ticket in, live triage, the work, resolution."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from deskenv import NOW, Env

from quotadesk.store.access import SYSTEM, Actor, Role

OUT_OF_CREDIT = {
    "subject": "API calls stopped",
    "body": "Since this morning every call fails with HTTP 402 and 'insufficient credits'. Please help.",
}


def test_text_alone_then_linked_retriaged_escalated_and_resolved_only_when_step_5_holds(env: Env) -> None:
    org = env.books.create_org(SYSTEM, NOW - timedelta(days=90), name="Lumen")
    env.books.create_key(SYSTEM, NOW - timedelta(days=89), org, name="prod", environment="production")

    # 1. text alone: no account in the case
    r = env.call("support", "POST", "/api/v1/cases", json={"ticket": OUT_OF_CREDIT})
    assert r.status_code == 201, r.text
    case = r.json()
    cid = case["id"]
    assert case["status"] == "open" and case["team"] == "support" and case["org_id"] is None
    assert case["triage"]["ticket_id"] and case["sources"]["account"] is False
    first_incident = case["triage"]["incident"]
    assert first_incident == "payment_failure"

    # resolving a case with no organization is refused: access cannot be checked
    r = env.call("support", "POST", f"/api/v1/cases/{cid}/resolve", json={})
    assert r.status_code == 409 and r.json()["error"]["field"] == "access"

    # 2. linked to the org: triaged again from the live account (empty balance, auto-recharge off)
    r = env.call("support", "POST", f"/api/v1/cases/{cid}/link", json={"org_id": org})
    assert r.status_code == 200, r.text
    case = r.json()
    assert case["org_id"] == org and case["triages"] == 2 and case["sources"]["account"] is True
    assert (case["incident"], case["root_cause"]) == ("payment_failure", "credits_exhausted")
    assert any(e["source"].startswith("/account") for e in case["triage"]["evidence"])

    # 3. still refused at the gateway: resolve is a 409 naming access and the rule
    r = env.call(
        "support", "POST", f"/api/v1/cases/{cid}/resolve", json={"recommendation": "Turn on auto-recharge"}
    )
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["field"] == "access" and "credit balance" in err["message"]

    # 4. escalated to billing with the package; billing approves a goodwill credit
    r = env.call(
        "support", "POST", f"/api/v1/cases/{cid}/escalate", json={"team": "billing_team", "note": "goodwill?"}
    )
    assert r.status_code == 200
    case = r.json()
    assert (case["team"], case["status"]) == ("billing_team", "escalated")
    pkg = case["escalation"]
    assert pkg["team"] == "billing_team" and pkg["account_id"] == org and pkg["case_id"] == cid
    assert pkg["note"] == "goodwill?" and pkg["evidence"]
    queue = env.call("billing_team", "GET", "/api/v1/cases", params={"team": "billing_team"}).json()
    assert [c["id"] for c in queue] == [cid]
    r = env.call(
        "billing_team", "POST", f"/api/v1/orgs/{org}/grants", json={"amount": "20.00", "kind": "goodwill"}
    )
    assert r.status_code == 201
    case = env.call("support", "GET", f"/api/v1/cases/{cid}").json()
    assert case["triages"] == 3  # the books changed: the open case was triaged again
    assert case["history"][-1]["reason"].startswith("account changed")

    # 5. back to support; access works again and the note has every part: resolved
    r = env.call("billing_team", "POST", f"/api/v1/cases/{cid}/escalate", json={"team": "support"})
    assert r.json()["status"] == "open"
    r = env.call(
        "support",
        "POST",
        f"/api/v1/cases/{cid}/resolve",
        json={
            "root_cause": "credits_exhausted",
            "fix": "Goodwill credit of $20.00 approved by billing",
            "recommendation": "Turn on auto-recharge at twice the daily spend",
        },
    )
    assert r.status_code == 200, r.text
    case = r.json()
    assert case["status"] == "resolved" and case["resolved_at"] == "2026-11-20T10:00:00Z"
    note = case["resolution"]
    assert note["incident"] == "payment_failure" and note["root_cause"] == "credits_exhausted"
    assert note["fix"].startswith("Goodwill") and note["recommendation"].startswith("Turn on")
    assert note["access"]["allowed"] is True
    kinds = [h["kind"] for h in case["history"]]
    assert kinds[:2] == ["opened", "triaged"] and "linked" in kinds and kinds[-1] == "resolved"
    audit = env.call("admin", "GET", "/api/v1/audit", params={"case": cid}).json()
    assert {a["action"] for a in audit} >= {"open_case", "triage_case", "escalate_case", "resolve_case"}
    assert any(a["outcome"] == "refused" for a in env.call("admin", "GET", "/api/v1/audit").json()) is False

    # a resolved case reopens when the customer writes again
    r = env.call(
        "support", "POST", f"/api/v1/cases/{cid}/messages", json={"body": "It fails again since noon."}
    )
    assert r.status_code == 200 and r.json()["status"] == "open" and r.json()["triages"] == 4


def test_a_case_routed_away_may_close_on_supports_side_with_its_note(sqlite_env: Env) -> None:
    e = sqlite_env
    org, _ = e.funded_org()
    e.books.raise_flag(SYSTEM, NOW - timedelta(days=1), org, "policy_violation", reason="automated review")
    body = {
        "subject": "Account suspended",
        "body": "All our keys return 401 account_suspended since yesterday.",
    }
    cid = e.call("support", "POST", "/api/v1/cases", json={"ticket": body, "org_id": org}).json()["id"]
    case = e.call("support", "GET", f"/api/v1/cases/{cid}").json()
    assert (case["incident"], case["root_cause"], case["route"]) == (
        "account_suspension",
        "policy_violation",
        "trust_and_safety",
    )
    r = e.call("support", "POST", f"/api/v1/cases/{cid}/resolve", json={})
    assert r.status_code == 409 and r.json()["error"]["field"] == "access"
    e.call("support", "POST", f"/api/v1/cases/{cid}/escalate", json={"team": "trust_and_safety"})
    r = e.call(
        "support",
        "POST",
        f"/api/v1/cases/{cid}/resolve",
        json={"recommendation": "Trust & Safety reviews the account; no reinstatement promised"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["resolution"]["access"] == {"checked": False}


def test_notes_queue_counts_and_paging(sqlite_env: Env) -> None:
    e = sqlite_env
    ids = []
    for i in range(7):
        e.clock.at = NOW + timedelta(minutes=i)
        ticket = {"subject": f"t{i}", "body": f"My API key stopped working, error 401 invalid api key ({i})"}
        ids.append(e.call("support", "POST", "/api/v1/cases", json={"ticket": ticket}).json()["id"])
    r = e.call(
        "support", "POST", f"/api/v1/cases/{ids[0]}/notes", json={"text": "Asked for the key's last four."}
    )
    assert r.status_code == 201 and r.json()["text"].startswith("Asked")
    assert e.call("finance", "GET", f"/api/v1/cases/{ids[0]}").json()["notes"][0]["by"] == "support person"
    seen, after = [], None
    while True:
        params = {"limit": 3, "status": "open"} | ({"after": after} if after else {})
        r = e.call("support", "GET", "/api/v1/cases", params=params)
        seen += [c["id"] for c in r.json()]
        after = r.headers.get("X-Next-After")
        if not after:
            break
    assert seen == ids  # oldest waiting first, each once
    newest = e.call("support", "GET", "/api/v1/cases", params={"sort": "newest", "limit": 2}).json()
    assert [c["id"] for c in newest] == ids[::-1][:2]
    e.call("support", "POST", f"/api/v1/cases/{ids[1]}/escalate", json={"team": "security"})
    counts = e.call("support", "GET", "/api/v1/cases/counts").json()
    assert counts["support"]["open"] == 6 and counts["security"]["escalated"] == 1
    assert [
        c["id"] for c in e.call("security", "GET", "/api/v1/cases", params={"team": "security"}).json()
    ] == [ids[1]]
    r = e.call("support", "GET", "/api/v1/cases", params={"after": "garbage"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "after"


def test_replies_pass_the_guard_as_edited(sqlite_env: Env) -> None:
    e = sqlite_env
    org, _ = e.funded_org()
    cid = e.call(
        "support",
        "POST",
        "/api/v1/cases",
        json={"ticket": {"body": "I want a refund for last month's charges, please."}, "org_id": org},
    ).json()["id"]
    unsafe = "Thanks for writing. We will refund the full amount today. Your account will be reinstated."
    r = e.call("support", "POST", f"/api/v1/cases/{cid}/reply", json={"text": unsafe, "send": True})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "unsafe_reply" and err["field"] == "text"
    assert {o["rule"] for o in err["objections"]} == {"refund_promise", "reinstatement"}
    assert all(o["sentence"] in unsafe for o in err["objections"])
    key = "sk-proj-" + "A1b2C3d4" * 6
    r = e.call("support", "POST", f"/api/v1/cases/{cid}/reply", json={"text": f"Your key {key} works."})
    assert r.status_code == 422 and "full_key" in {o["rule"] for o in r.json()["error"]["objections"]}
    assert key not in r.text
    history = e.call("support", "GET", f"/api/v1/cases/{cid}").json()["history"]
    assert not any(h["kind"].startswith("reply") for h in history)  # nothing saved
    safe = (
        "Thanks for writing. I've passed your request to our billing team, who review every refund request."
    )
    r = e.call("support", "POST", f"/api/v1/cases/{cid}/reply", json={"text": safe, "send": True})
    assert r.status_code == 200 and r.json()["edited"] is True and r.json()["kind"] == "reply_sent"
    r = e.call("support", "POST", f"/api/v1/cases/{cid}/reply", json={})
    assert r.status_code == 200 and r.json()["edited"] is False  # the engine's own draft passes
    check = e.call("support", "POST", "/api/v1/safety/check", json={"text": unsafe})
    assert check.json()["safe"] is False and len(check.json()["objections"]) == 2


def test_timeline_of_an_account(env: Env) -> None:
    org, _ = env.funded_org()
    env.books.set_limits(SYSTEM, NOW - timedelta(days=3), org, soft="10.00", hard="20.00")
    fid = env.books.raise_flag(SYSTEM, NOW - timedelta(days=2), org, "fraud", reason="chargeback")
    env.books.lift_flag_id(
        Actor("tess", Role.TRUST_AND_SAFETY), NOW - timedelta(days=1), org, fid, reason="cleared"
    )
    r = env.call("support", "GET", f"/api/v1/orgs/{org}/timeline")
    assert r.status_code == 200
    events = r.json()
    kinds = [e["kind"] for e in events]
    assert kinds == [
        "account_created",
        "grant_added",
        "key_created",
        "limits_changed",
        "flag_raised",
        "notice",
        "flag_lifted",
    ], kinds
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    assert "$10.00" in events[3]["summary"] and "$50.00" in events[1]["summary"]
    # paging back in time: two pages of 4 and 3, nothing lost or repeated
    p1 = env.call("support", "GET", f"/api/v1/orgs/{org}/timeline", params={"limit": 4})
    p2 = env.call(
        "support",
        "GET",
        f"/api/v1/orgs/{org}/timeline",
        params={"limit": 4, "before": p1.headers["X-Next-Before"]},
    )
    assert [e["kind"] for e in p2.json() + p1.json()] == kinds and "X-Next-Before" not in p2.headers
    assert (
        env.call("support", "GET", f"/api/v1/orgs/{org}/timeline", params={"before": "x"}).status_code == 400
    )
    assert env.call("support", "GET", "/api/v1/orgs/org_nope/timeline").status_code == 404


def test_the_deployments_wording_reaches_every_draft(sqlite_env: Env, tmp_path: Any) -> None:
    """Setting ``wording_file``: the desk drafts in the deployment's words, still only from evidence."""
    from quotadesk.triage.wording import load_wording

    e = sqlite_env
    path = tmp_path / "desk-wording.toml"
    path.write_text('greeting = "Hello from Acme Support,"\n', encoding="utf-8")
    e.desk.wording = load_wording(path)
    r = e.call("support", "POST", "/api/v1/cases", json={"ticket": {"body": "my API calls stopped with 402"}})
    assert r.status_code == 201 and r.json()["triage"]["reply"].startswith("Hello from Acme Support,")
    e.desk.wording = None
    r = e.call("support", "POST", "/api/v1/cases", json={"ticket": {"body": "my API calls stopped with 402"}})
    assert not r.json()["triage"]["reply"].startswith("Hello from Acme Support,")


def test_serve_refuses_a_bad_wording_file_at_start(tmp_path: Any) -> None:
    import subprocess
    import sys

    bad = tmp_path / "bad.toml"
    bad.write_text('[phrases]\n"card.fix" = "Your balance is $5.00."\n', encoding="utf-8")
    db = f"sqlite:///{tmp_path}/books.db"
    out = subprocess.run(
        [sys.executable, "-m", "quotadesk.cli", "serve", "--db", db, "--port", "0", "--wording", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "error: phrases.card.fix:" in out.stderr
