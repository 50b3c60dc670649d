"""Each help desk in and out against a local fake that speaks its API: a signed new ticket opens a
case for the requester's org and gets one internal note; a replay, an agent's reply or our own
note echoed back changes nothing; a bad signature is a 400; the customer writing again re-triages;
a failed call is retried with backoff and never posts twice."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from quotadesk.connectors.outbox import backoff
from quotadesk.store.access import SYSTEM
from quotadesk.store.schema import cases, outbox, webhook_deliveries

from .conftest import World, sign_desk
from .payloads import (
    chatwoot_created,
    chatwoot_message,
    dumps,
    freshdesk_ticket,
    zammad_ticket,
    zendesk_comment,
    zendesk_created,
)

BODY = "Our API calls fail with 402 since this morning, what happened to our credits?"
AGAIN = "Still failing. We need this fixed today, the card should be fine."

NEW: dict[str, Any] = {
    "zammad": (lambda: zammad_ticket(body=BODY), "4711"),
    "zendesk": (lambda: zendesk_created(body=BODY), "35436"),
    "freshdesk": (lambda: freshdesk_ticket(body=BODY), "48"),
    "chatwoot": (lambda: chatwoot_created(body=BODY), "21"),
}
MESSAGE: dict[str, Any] = {
    "zammad": lambda: zammad_ticket(body=AGAIN, article_count=3, article_id=106),
    "zendesk": lambda: zendesk_comment(body=AGAIN),
    "freshdesk": lambda: freshdesk_ticket(
        body=BODY, event="{reply_sent:customer}", latest=f"Dana Ng : <p>{AGAIN}</p>"
    ),
    "chatwoot": lambda: chatwoot_message(body=AGAIN),
}
ECHO: dict[str, Any] = {
    "zammad": lambda: zammad_ticket(
        body="quotadesk diagnosis", article_count=2, sender="Agent", internal=True, article_id=105
    ),
    "zendesk": lambda: zendesk_comment(body="quotadesk diagnosis", staff=True, public=False, eid="01HNXYZ9"),
    "chatwoot": lambda: chatwoot_message(
        body="quotadesk diagnosis", message_type="outgoing", private=True, mid=1502
    ),
}
DESKS = sorted(NEW)


def _count(world: World, table: Any) -> int:
    with world.books.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


@pytest.mark.parametrize("name", DESKS)
def test_a_new_ticket_becomes_a_case_with_one_internal_note(world: World, name: str) -> None:
    org = world.org()
    make, ticket = NEW[name]
    r = world.hook(name, make(), delivery="dlv-1")
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "applied"
    case = world.desk.case(SYSTEM, r.json()["case_id"], checked=True)
    assert case["org_id"] == org and case["external_ref"] == f"{name}:{ticket}"
    assert any("email domain acme.io" in n["text"] for n in case["notes"])
    world.connectors.run_once()
    fake = world.desks[name]
    notes = fake.notes[ticket]
    assert len(notes) == 1 and notes[0]["private"] is True
    assert case["triage"]["incident"] in notes[0]["body"] and "Draft reply" in notes[0]["body"]
    assert f"[quotadesk {case['id']} triage 1]" in notes[0]["body"]

    # the desk re-sends the same delivery: 200, nothing new
    again = world.hook(name, make(), delivery="dlv-1")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    world.connectors.run_once()
    assert len(fake.notes[ticket]) == 1 and _count(world, cases) == 1


@pytest.mark.parametrize("name", DESKS)
def test_wrong_signatures_are_refused_and_change_nothing(world: World, name: str) -> None:
    world.org()
    make, _ = NEW[name]
    body = dumps(make())
    for headers in ({}, sign_desk(name, body, secret="wrong")):
        r = world.client.post(f"/hooks/{name}", content=body, headers=headers)
        assert r.status_code == 400, r.text
        assert set(r.json()["error"]) >= {"code", "message", "field"}
    if name != "freshdesk":
        r = world.client.post(f"/hooks/{name}", content=body + b" ", headers=sign_desk(name, body))
        assert r.status_code == 400
    assert _count(world, cases) == 0 and _count(world, webhook_deliveries) == 0 and _count(world, outbox) == 0


def test_freshdesk_secret_in_the_url(world: World) -> None:
    world.org()
    body = dumps(freshdesk_ticket(body=BODY))
    assert world.client.post("/hooks/freshdesk?secret=nope", content=body).status_code == 400
    r = world.client.post("/hooks/freshdesk?secret=fd-shared-9", content=body)
    assert r.status_code == 200 and r.json()["case_id"]


@pytest.mark.parametrize("name", DESKS)
def test_malformed_payloads_are_400_naming_the_field(world: World, name: str) -> None:
    for doc in (b"[]", b"{not json", dumps({"unexpected": True})):
        r = world.client.post(f"/hooks/{name}", content=doc, headers=sign_desk(name, doc))
        assert r.status_code == 400, (doc, r.text)
        assert r.json()["error"]["field"]
    assert _count(world, cases) == 0


@pytest.mark.parametrize("name", DESKS)
def test_the_customer_writing_again_retriages_and_our_echo_is_skipped(world: World, name: str) -> None:
    world.org()
    make, _ = NEW[name]
    case_id = world.hook(name, make(), delivery="dlv-1").json()["case_id"]
    if name in ECHO:
        echo = world.hook(name, ECHO[name](), delivery="dlv-echo")
        assert echo.json()["outcome"] == "ignored"
    r = world.hook(name, MESSAGE[name](), delivery="dlv-2")
    assert r.status_code == 200 and r.json()["case_id"] == case_id, r.text
    case = world.desk.case(SYSTEM, case_id, checked=True)
    assert case["triages"] == 2
    assert case["ticket"]["messages"][-1]["body"] == AGAIN
    # the desk re-sending that message under a new delivery id adds nothing
    world.hook(name, MESSAGE[name](), delivery="dlv-3")
    assert world.desk.case(SYSTEM, case_id, checked=True)["triages"] == 2


def test_zendesk_requester_is_read_from_the_api(world: World) -> None:
    org = world.org()
    r = world.hook("zendesk", zendesk_created(body=BODY), delivery="x")
    assert world.desk.case(SYSTEM, r.json()["case_id"], checked=True)["org_id"] == org
    assert any(q["path"] == "/api/v2/users/9001.json" for q in world.desks["zendesk"].requests)


def test_the_org_from_a_custom_field_or_the_ticket_text(make_world: Any) -> None:
    world = make_world(zammad_org_field="quotadesk_org")
    org = world.org(domain=None)
    doc = zammad_ticket(body=BODY, email="someone@elsewhere.example")
    doc["ticket"]["quotadesk_org"] = org
    case = world.desk.case(SYSTEM, world.hook("zammad", doc, delivery="a").json()["case_id"], checked=True)
    assert case["org_id"] == org
    doc = zammad_ticket(
        ticket_id=4712, body=f"{BODY} Our organization id is {org}.", email="x@elsewhere.example"
    )
    case = world.desk.case(SYSTEM, world.hook("zammad", doc, delivery="b").json()["case_id"], checked=True)
    assert case["org_id"] == org and any("not verified" in n["text"] for n in case["notes"])
    doc = zammad_ticket(ticket_id=4713, body=BODY, email="x@elsewhere.example")
    assert (
        world.desk.case(SYSTEM, world.hook("zammad", doc, delivery="c").json()["case_id"], checked=True)[
            "org_id"
        ]
        is None
    )


def test_tag_and_group_when_configured(make_world: Any) -> None:
    world = make_world(helpdesk_tag_prefix="quotadesk_", zendesk_groups="none=360001,billing_team=360002")
    world.org()
    case_id = world.hook("zendesk", zendesk_created(body=BODY), delivery="x").json()["case_id"]
    world.connectors.run_once()
    incident = world.desk.case(SYSTEM, case_id, checked=True)["triage"]["incident"]
    assert world.desks["zendesk"].tags["35436"] == [f"quotadesk_{incident}"]
    assert world.desks["zendesk"].groups.get("35436") in (360001, 360002)


def test_retries_back_off_and_never_post_twice(world: World) -> None:
    world.org()
    fake = world.desks["zammad"]
    world.hook("zammad", zammad_ticket(body=BODY), delivery="dlv-1")
    fake.fail_next = [503]
    world.connectors.run_once()
    with world.books.engine.connect() as conn:
        row = conn.execute(select(outbox)).one()
    assert (row.status, row.attempts) == ("pending", 1) and "HTTP 503" in row.last_error
    assert row.next_at == world.clock.now() + backoff(1)
    world.connectors.run_once()  # not due yet
    assert "4711" not in fake.notes
    world.clock.advance(seconds=31)
    world.connectors.run_once()
    assert len(fake.notes["4711"]) == 1
    # a lost answer: the note got there, the row did not hear it; the retry finds the marker
    from sqlalchemy import update

    with world.books.engine.begin() as conn:
        conn.execute(update(outbox).values(status="pending", attempts=1, next_at=world.clock.now()))
    world.connectors.run_once()
    assert len(fake.notes["4711"]) == 1


def test_a_permanent_refusal_is_kept_as_failed(make_world: Any) -> None:
    world = make_world(zammad_token="wrong-token")
    world.org()
    world.hook("zammad", zammad_ticket(body=BODY), delivery="dlv-1")
    world.connectors.run_once()
    with world.books.engine.connect() as conn:
        row = conn.execute(select(outbox)).one()
    assert row.status == "failed" and "HTTP 401" in row.last_error and "wrong-token" not in row.last_error
