"""The console's pages in process: who may open what, the forms' effects and refusals, bad input.

Above all: a customer's session reads their own organization's pages and nothing else: no
other organization, no staff page, no API call, no flag trigger and no staff note.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from console.consoleenv import Demo
from quotadesk.desk.demo import DEMO_STAFF
from quotadesk.store.access import SYSTEM
from quotadesk.store.db import transaction
from quotadesk.store.schema import flags


def client(demo: Demo, token: str | None = None) -> TestClient:
    c = TestClient(demo.app, follow_redirects=False)
    if token is not None:
        signed = c.get("/login", params={"token": token})
        assert signed.status_code == 303, signed.text
    return c


@pytest.fixture
def support(demo: Demo) -> Iterator[TestClient]:
    with client(demo, demo.token("support")) as c:
        yield c


def csrf(c: TestClient) -> str:
    return str(c.cookies.get("qd_csrf"))


def fresh_org(demo: Demo, name: str) -> str:
    """An organization of the test's own (the demo's accounts stay as they are)."""
    books = demo.desk.books
    return str(books.create_org(SYSTEM, demo.desk.now(), name=name, free_trial="5"))


# --------------------------------------------------------------------------- signing in


def test_pages_need_a_sign_in(demo: Demo) -> None:
    c = client(demo)
    assert "Sign in" in c.get("/").text
    for path in ("/orgs", f"/cases/{demo.case('retry_storm')}", "/my", "/my/usage", "/practice", "/roles"):
        r = c.get(path)
        assert (r.status_code, r.headers["location"]) == (303, "/login"), path
    bad = c.get("/login", params={"token": "qdc_forged"})
    assert bad.status_code == 401 and "qd_customer" not in bad.headers.get("set-cookie", "")


def test_customer_reads_only_their_own_org(demo: Demo) -> None:
    own = demo.org("hard_limit_reached")
    other = demo.org("policy_violation")
    with client(demo, demo.customer_token("hard_limit_reached")) as c:
        assert c.get("/").headers["location"] == "/my"
        pages = {p: c.get(p) for p in ("/my", "/my/usage", "/my/blocked")}
        assert all(r.status_code == 200 for r in pages.values())
        assert own in pages["/my"].text and "offline" in pages["/my"].text
        for r in pages.values():
            assert other not in r.text
            for name in DEMO_STAFF.values():
                assert name not in r.text
        # staff pages, another org's and its own, by address
        for path in (
            f"/orgs/{other}",
            f"/orgs/{own}",
            f"/orgs/{own}/usage",
            "/orgs",
            "/roles",
            "/practice",
            f"/cases/{demo.case('hard_limit_reached')}",
        ):
            r = c.get(path)
            assert r.status_code == 403, path
            assert other not in r.text and "Billing ·" not in r.text
        # the API takes no customer cookie at all
        for path in (
            f"/api/v1/orgs/{own}",
            f"/api/v1/orgs/{other}",
            f"/api/v1/orgs/{other}/timeline",
            "/api/v1/cases",
            "/api/v1/me",
            "/api/v1/audit",
            f"/api/v1/orgs/{own}/access",
        ):
            r = c.get(path)
            assert r.status_code == 401, path
            assert r.json()["error"]["code"] == "unauthorized"
        r = c.post("/api/v1/safety/check", json={"text": "hi"})
        assert r.status_code == 401
        # nor can a form post act for it
        r = c.post(f"/cases/{demo.case('hard_limit_reached')}/note", data={"text": "x", "csrf": "y"})
        assert r.status_code == 403


def test_customer_never_sees_flag_trigger_or_staff_notes(demo: Demo) -> None:
    case_id = demo.case("policy_violation")
    marker = "STAFF-ONLY-NOTE-7f3a"
    with client(demo, demo.token("support")) as staff:
        r = staff.post(
            f"/cases/{case_id}/note", data={"text": f"{marker} checked the flag", "csrf": csrf(staff)}
        )
        assert r.status_code == 303
        assert marker in staff.get(f"/cases/{case_id}").text
        staff_page = staff.get(f"/orgs/{demo.org('policy_violation')}").text
        assert "policy violation" in staff_page
    with client(demo, demo.customer_token("policy_violation")) as c:
        for path in ("/my", "/my/usage", "/my/blocked"):
            text = c.get(path).text
            assert marker not in text
            assert "policy violation" not in text and "policy_violation" not in text
            assert "automated" not in text
        blocked = c.get("/my/blocked").text
        assert "Account suspended" in blocked and "Trust &amp; Safety" in blocked


def test_why_am_i_blocked_names_rule_figure_and_reset(demo: Demo) -> None:
    with client(demo, demo.customer_token("hard_limit_reached")) as c:
        text = c.get("/my/blocked").text
    assert "Requests are refused now" in text and "hard limit" in text
    assert "$10.00" in text and "2026-04-01 00:00 UTC" in text
    with client(demo, demo.customer_token("trial_credits_expired")) as c:
        text = c.get("/my/blocked").text
    assert "credits exhausted" in text and "expired" in text


def test_signing_out_ends_the_customer_session(demo: Demo) -> None:
    with client(demo, demo.customer_token("retry_storm")) as c:
        cookie = c.cookies.get("qd_customer")
        assert c.get("/my").status_code == 200
        c.get("/logout")
        c.cookies.set("qd_customer", str(cookie))
        assert c.get("/my").status_code == 303


# --------------------------------------------------------------------------- staff pages


def test_queue_filters_and_counts(support: TestClient, demo: Demo) -> None:
    page = support.get("/").text
    assert re.search(r'data-team="support">.*?<td class="num">9</td>', page, re.S)
    only = support.get("/", params={"incident": "spending_limit"}).text
    assert demo.case("hard_limit_reached") in only and demo.case("retry_storm") not in only
    old = support.get("/", params={"age": "over_24h"}).text
    new = support.get("/", params={"age": "under_24h"}).text
    assert demo.case("card_expired_or_declined") in old and demo.case("card_expired_or_declined") not in new
    assert (
        demo.case("retry_storm") in new and demo.case("retry_storm") not in old
    )  # opened at the month's end
    assert "No case matches" in support.get("/", params={"age": "under_24h", "team": "finance"}).text
    bad = support.get("/", params={"status": "lost"})
    assert bad.status_code == 400 and "status" in bad.text


def test_support_sees_no_lift_button_and_cannot_lift(demo: Demo) -> None:
    org = fresh_org(demo, "Flagged Co")
    flag = demo.desk.books.raise_flag(SYSTEM, demo.desk.now(), org, "policy_violation", source="automated")
    with client(demo, demo.token("support")) as c:
        page = c.get(f"/orgs/{org}").text
        assert "Lift this flag" not in page and 'data-lift="' not in page
        assert "Only Trust &amp; Safety or an administrator may lift" in page
        r = c.post(f"/orgs/{org}/flags/{flag}/lift", data={"reason": "looks fine", "csrf": csrf(c)})
        assert r.status_code == 403 and "trust_and_safety" in r.text
    with client(demo, demo.token("trust_and_safety")) as c:
        page = c.get(f"/orgs/{org}").text
        assert f'data-lift="{flag}"' in page
        no_csrf = c.post(f"/orgs/{org}/flags/{flag}/lift", data={"reason": "reviewed", "csrf": "forged"})
        assert no_csrf.status_code == 403
        assert _active(demo, flag)
        r = c.post(f"/orgs/{org}/flags/{flag}/lift", data={"reason": "reviewed", "csrf": csrf(c)})
        assert r.status_code == 303 and r.headers["location"].startswith(f"/orgs/{org}?done=flag_lifted")
    assert not _active(demo, flag)


def _active(demo: Demo, flag_id: int) -> bool:
    with transaction(demo.desk.engine) as conn:
        return bool(conn.execute(select(flags.c.active).where(flags.c.id == flag_id)).scalar())


def test_goodwill_credit_is_for_billing_only(demo: Demo) -> None:
    org = fresh_org(demo, "Goodwill Co")
    with client(demo, demo.token("support")) as c:
        assert "Approve a goodwill credit" not in c.get(f"/orgs/{org}").text
        r = c.post(f"/orgs/{org}/grants", data={"amount": "5", "reason": "sorry", "csrf": csrf(c)})
        assert r.status_code == 403
    with client(demo, demo.token("billing_team")) as c:
        assert "Approve a goodwill credit" in c.get(f"/orgs/{org}").text
        bad = c.post(f"/orgs/{org}/grants", data={"amount": "-5", "reason": "sorry", "csrf": csrf(c)})
        assert bad.status_code == 400 and "amount" in bad.text
        r = c.post(f"/orgs/{org}/grants", data={"amount": "5", "reason": "sorry", "csrf": csrf(c)})
        assert r.status_code == 303
        assert "$10.00" in c.get(f"/orgs/{org}").text  # the $5 trial and the $5 goodwill credit


def test_unsafe_reply_is_refused_and_nothing_is_sent(support: TestClient, demo: Demo) -> None:
    case_id = demo.case("retry_storm")
    before = demo.desk.case(SYSTEM, case_id)["history"]
    r = support.post(
        f"/cases/{case_id}/reply",
        data={"text": "We will refund the full amount today.", "send": "1", "csrf": csrf(support)},
    )
    assert r.status_code == 422
    assert "Refused:" in r.text and "refund" in r.text.lower()
    assert "We will refund the full amount today." in r.text  # the engineer's text is kept
    assert demo.desk.case(SYSTEM, case_id)["history"] == before


def test_note_escalate_and_resolve_rules(demo: Demo) -> None:
    with client(demo, demo.token("support")) as c:
        case_id = demo.case("hard_limit_reached")
        r = c.post(f"/cases/{case_id}/resolve", data={"csrf": csrf(c)})
        assert r.status_code == 409 and "access" in r.text  # the hard limit still refuses
        missing = c.post(f"/cases/{case_id}/note", data={"csrf": csrf(c)})
        assert missing.status_code == 400 and "text" in missing.text
        ticket = {"body": "Our API calls fail with 401 since this morning", "subject": "401s"}
        opened = demo.desk.open_case(SYSTEM, ticket)
        r = c.post(f"/cases/{opened['id']}/escalate", data={"team": "nowhere", "csrf": csrf(c)})
        assert r.status_code == 400 and "team" in r.text
        r = c.post(
            f"/cases/{opened['id']}/escalate", data={"team": "security", "note": "keys?", "csrf": csrf(c)}
        )
        assert r.status_code == 303
        page = c.get(r.headers["location"]).text
        assert "Case escalated." in page and "Sent to <strong>Security</strong>" in page
        assert c.get("/cases/case_missing").status_code == 404


def test_case_page_links_evidence_into_the_account_and_usage(support: TestClient, demo: Demo) -> None:
    page = support.get(f"/cases/{demo.case('card_expired_or_declined')}").text
    org = demo.org("card_expired_or_declined")
    assert f'href="/orgs/{org}#payments"' in page and f'href="/orgs/{org}#payment-methods"' in page
    storm = support.get(f"/cases/{demo.case('retry_storm')}").text
    assert re.search(rf'href="/orgs/{demo.org("retry_storm")}/usage\?from=\d{{4}}-\d\d-\d\d&amp;to=', storm)
    assert "Your role: Support" in page and "You may not lift flag:policy violation" in page


def test_bad_usage_ranges_name_the_field(support: TestClient, demo: Demo) -> None:
    org = demo.org("retry_storm")
    r = support.get(f"/orgs/{org}/usage", params={"from": "2026-13-01"})
    assert r.status_code == 400 and "<code>from</code>" in r.text
    r = support.get(f"/orgs/{org}/usage", params={"from": "2026-03-05", "to": "2026-03-01"})
    assert r.status_code == 400 and "<code>to</code>" in r.text
    r = support.get(f"/orgs/{org}/usage", params={"from": "x" * 100})
    assert r.status_code == 400
    assert support.get("/orgs/org_missing").status_code == 404
    assert support.get("/orgs/org_missing/usage").status_code == 404


def test_practice_round_is_graded(support: TestClient) -> None:
    first = support.get("/practice")
    assert first.status_code == 303 and re.fullmatch(r"/practice\?seed=\d+", first.headers["location"])
    page = support.get("/practice", params={"seed": 11}).text
    assert "Your diagnosis" in page
    r = support.post(
        "/practice",
        data={
            "seed": "11",
            "incident": "needs_info",
            "root_cause": "undetermined",
            "route": "none",
            "reply": "We will refund you in full.",
            "csrf": csrf(support),
        },
    )
    assert r.status_code == 200 and "of 3 points" in r.text and 'data-guard="refused"' in r.text
    assert support.get("/practice", params={"seed": 0}).status_code == 400
    assert support.post("/practice", data={"seed": "11", "csrf": csrf(support)}).status_code == 400
