"""The issue's end-to-end case: an org linked to its Stripe customer, a failed payment delivered,
a ticket opened through a help-desk webhook, the declined-card diagnosis in the internal note."""

from __future__ import annotations

from quotadesk.store.access import SYSTEM, Role
from quotadesk.store.staff import add_staff

from .conftest import World
from .payloads import CUS, NOW, charge_failed, event, payment_intent_failed, zammad_ticket


def test_failed_payment_then_ticket_gives_the_declined_card_note(world: World) -> None:
    token = add_staff(world.books.engine, SYSTEM, NOW, "bea", Role.BILLING_TEAM).token
    made = world.client.post(
        "/api/v1/orgs",
        json={"name": "Acme", "billing_mode": "prepaid", "stripe_customer": CUS},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert made.status_code == 201, made.text
    org = made.json()["id"]
    from quotadesk.connectors.contacts import add_contact

    add_contact(world.books.engine, SYSTEM, NOW, org, "domain", "acme.io")

    pi, ch = "pi_3MtwBwLkdIwHu7ix28a3tqPa", "ch_3MtwBwLkdIwHu7ix2nS5qzN1"
    r = world.stripe(
        event(
            "payment_intent.payment_failed",
            payment_intent_failed(pi, ch, decline="generic_decline"),
            eid="evt_1",
        )
    )
    assert r.status_code == 200 and r.json()["outcome"] == "applied", r.text
    r = world.stripe(event("charge.failed", charge_failed(pi, ch, reason="generic_decline"), eid="evt_2"))
    assert r.status_code == 200, r.text
    account = world.books.organization(org)
    assert [(p.status.value, p.failure_code) for p in account.payments] == [("failed", "card_declined")]

    body = "Hi, all our API calls fail with 402 since this morning. We topped up but it did not go through."
    r = world.hook("zammad", zammad_ticket(body=body), delivery="zd-001")
    assert r.status_code == 200, r.text
    case_id = r.json()["case_id"]
    case = world.desk.case(SYSTEM, case_id, checked=True)
    assert case["org_id"] == org
    assert case["triage"]["incident"] == "payment_failure"
    assert case["triage"]["root_cause"] == "card_expired_or_declined"

    world.connectors.run_once()
    notes = world.desks["zammad"].notes["4711"]
    assert len(notes) == 1 and notes[0]["private"] is True
    assert "card_expired_or_declined" in notes[0]["body"]
    assert "declined" in notes[0]["body"].lower()
    posted = [q for q in world.desks["zammad"].requests if q["method"] == "POST"]
    assert posted[0]["path"] == "/api/v1/ticket_articles"
    assert posted[0]["body"]["type"] == "note" and posted[0]["body"]["internal"] is True
    assert posted[0]["headers"]["authorization"] == "Token token=zt-123"

    # the same delivery again, and another pass of the outbox: nothing new
    again = world.hook("zammad", zammad_ticket(body=body), delivery="zd-001")
    assert again.json()["duplicate"] is True
    world.connectors.run_once()
    assert len(world.desks["zammad"].notes["4711"]) == 1
