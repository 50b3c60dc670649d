"""Stripe events into the books: real-shaped, signed by the SDK's helper; refusals change nothing;
any order and any repetition give the same books."""

from __future__ import annotations

import itertools
import json
from typing import Any

from sqlalchemy import select

from quotadesk.connectors.stripe_hook import apply_kept
from quotadesk.store.access import SYSTEM
from quotadesk.store.schema import (
    credit_grants,
    invoices,
    notices,
    payment_methods,
    payments,
    webhook_deliveries,
)
from quotadesk.store.timeline import timeline

from .conftest import WALL, World
from .payloads import (
    CUS,
    NOW,
    T0,
    charge_failed,
    event,
    invoice,
    payment_intent_failed,
    payment_intent_succeeded,
    payment_method,
    source_expiring,
)

PI, CH = "pi_3MtwBwLkdIwHu7ix28a3tqPa", "ch_3MtwBwLkdIwHu7ix2nS5qzN1"


def books_state(world: World, org: str) -> dict[str, Any]:
    """Everything an event may change, without the ids the books make up."""
    with world.books.engine.connect() as conn:
        pays = sorted(
            (
                r.at.isoformat(),
                r.amount,
                r.purpose,
                r.status,
                r.failure_code,
                r.decline_code,
                r.advice_code,
                r.processor_ref,
                r.invoice_id,
            )
            for r in conn.execute(select(payments).where(payments.c.org_id == org))
        )
        cards = sorted(
            (r.processor_token, r.last4, r.exp_month, r.exp_year, r.status)
            for r in conn.execute(select(payment_methods))
        )
        grants = sorted(
            (r.kind, r.amount, r.remaining)
            for r in conn.execute(select(credit_grants).where(credit_grants.c.org_id == org))
        )
        kinds = sorted(
            (r.kind, r.at.isoformat()) for r in conn.execute(select(notices).where(notices.c.org_id == org))
        )
        invs = sorted(
            (r.id, r.status, r.amount) for r in conn.execute(select(invoices).where(invoices.c.org_id == org))
        )
    return {"payments": pays, "cards": cards, "grants": grants, "notices": kinds, "invoices": invs}


def test_a_declined_card_reaches_payments_notices_card_and_timeline(world: World) -> None:
    org = world.org()
    r = world.stripe(event("charge.failed", charge_failed(PI, CH), eid="evt_1"))
    assert r.status_code == 200 and r.json()["outcome"] == "applied"
    r = world.stripe(event("payment_intent.payment_failed", payment_intent_failed(PI, CH), eid="evt_2"))
    assert r.status_code == 200
    with world.books.engine.connect() as conn:
        pay = conn.execute(select(payments)).one()
        card = conn.execute(select(payment_methods)).one()
    assert (pay.status, pay.failure_code, pay.decline_code, pay.advice_code) == (
        "failed",
        "insufficient_funds",
        "insufficient_funds",
        "try_again_later",
    )
    assert pay.amount == 20 * 10**9 and pay.processor_ref == f"{PI}/{CH}"
    assert (card.last4, card.status, card.processor_token) == (
        "0341",
        "declined",
        "pm_1MqLiJLkdIwHu7ixUEgbFdYF",
    )
    account = world.books.organization(org)
    assert [n.kind for n in account.notices] == ["payment_failed"]
    kinds = [e.kind for e in timeline(world.books.engine, org).events]
    assert "payment_failed" in kinds and "notice" in kinds


def test_a_top_up_succeeds_into_a_purchased_grant_and_the_card_is_valid_again(world: World) -> None:
    org = world.org()
    world.stripe(event("charge.failed", charge_failed(PI, CH), eid="evt_1"))
    r = world.stripe(
        event(
            "payment_intent.succeeded", payment_intent_succeeded("pi_2", "ch_2"), eid="evt_3", created=T0 + 60
        )
    )
    assert r.json()["outcome"] == "applied"
    state = books_state(world, org)
    assert state["grants"] == [("purchased", 50 * 10**9, 50 * 10**9)]
    assert state["cards"][0][-1] == "valid"
    assert world.books.verify().ok


def test_invoices_paid_failed_overdue(world: World) -> None:
    org = world.org(billing_mode="invoiced")
    inv = "in_1MtHbELkdIwHu7ixl4OzzPMv"
    world.stripe(
        event("invoice.payment_failed", invoice(inv, status="open", pi="pi_inv", ch="ch_inv"), eid="evt_a")
    )
    world.stripe(
        event(
            "charge.failed", {**charge_failed("pi_inv", "ch_inv", amount=125000), "invoice": inv}, eid="evt_b"
        )
    )
    world.stripe(event("invoice.overdue", invoice(inv, status="open"), eid="evt_c"))
    state = books_state(world, org)
    assert state["invoices"] == [(inv, "overdue", 1250 * 10**9)]
    assert [p[2:5] for p in state["payments"]] == [("invoice", "failed", "insufficient_funds")]
    assert {k for k, _ in state["notices"]} == {"payment_failed", "invoice_overdue"}
    world.stripe(
        event(
            "invoice.paid",
            invoice(inv, status="paid", pi="pi_inv2", paid_at=T0 + 3600),
            eid="evt_d",
            created=T0 + 3600,
        )
    )
    assert books_state(world, org)["invoices"] == [(inv, "paid", 1250 * 10**9)]
    assert world.books.verify().ok


def test_expiring_and_updated_cards(world: World) -> None:
    org = world.org()
    world.stripe(event("customer.source.expiring", source_expiring(), eid="evt_e"))
    assert [n.kind for n in world.books.organization(org).notices] == ["card_expiring"]
    world.stripe(event("payment_method.attached", payment_method(exp_year=2026), eid="evt_f"))
    world.stripe(
        event(
            "payment_method.automatically_updated",
            payment_method(exp_year=2031, last4="4444"),
            eid="evt_g",
            created=T0 + 10,
        )
    )
    cards = {c[0]: c for c in books_state(world, org)["cards"]}
    assert cards["pm_1MqLiJLkdIwHu7ixUEgbFdYF"][1:] == ("4444", 12, 2031, "valid")


EVENTS = [
    event("charge.failed", charge_failed(PI, CH), eid="evt_1"),
    event("payment_intent.payment_failed", payment_intent_failed(PI, CH), eid="evt_2"),
    event("payment_intent.succeeded", payment_intent_succeeded("pi_2", "ch_2"), eid="evt_3", created=T0 + 60),
    event("invoice.overdue", invoice("in_1", status="open"), eid="evt_4"),
    event(
        "invoice.paid",
        invoice("in_1", status="paid", pi="pi_9", paid_at=T0 + 100),
        eid="evt_5",
        created=T0 + 100,
    ),
    event("payment_method.automatically_updated", payment_method(exp_year=2031), eid="evt_6", created=T0 + 5),
]


def test_any_order_and_twice_give_the_same_books(make_world: Any) -> None:
    states = []
    orders = list(itertools.permutations(range(len(EVENTS))))[::97][:8]
    for order in orders:
        world = make_world()
        org = world.org()
        for i in order:
            assert world.stripe(EVENTS[i]).status_code == 200
        first = books_state(world, org)
        for i in reversed(order):
            again = world.stripe(EVENTS[i])
            assert again.json()["duplicate"] is True
        assert books_state(world, org) == first
        assert world.books.verify().ok
        states.append(first)
    assert all(s == states[0] for s in states), "the order of arrival changed the books"


def test_refusals_change_nothing(world: World) -> None:
    org = world.org()
    doc = event("charge.failed", charge_failed(PI, CH), eid="evt_1")
    body = json.dumps(doc).encode()
    import stripe

    bad = [
        {
            "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(
                body.decode(), "whsec_wrong", int(WALL)
            )
        },
        {
            "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(
                body.decode(), "whsec_test_5iYxhKZ0JjVQ2eD8qJ", int(WALL) - 301
            )
        },
        {},
        {"Stripe-Signature": "t=abc,v1=zz"},
    ]
    for headers in bad:
        r = world.client.post("/hooks/stripe", content=body, headers=headers)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["field"] == "stripe-signature"
    ok = stripe.WebhookSignature.generate_signature_header(
        "{not json", "whsec_test_5iYxhKZ0JjVQ2eD8qJ", int(WALL)
    )
    r = world.client.post("/hooks/stripe", content=b"{not json", headers={"Stripe-Signature": ok})
    assert r.status_code == 400 and r.json()["error"]["field"] == "body"
    assert books_state(world, org)["payments"] == []
    with world.books.engine.connect() as conn:
        assert conn.execute(select(webhook_deliveries)).first() is None


def test_an_unknown_customer_is_kept_and_applied_once_linked(world: World) -> None:
    org = world.org(customer=None)
    r = world.stripe(event("charge.failed", charge_failed(PI, CH), eid="evt_1"))
    assert r.status_code == 200 and r.json()["outcome"] == "unmatched"
    assert books_state(world, org)["payments"] == []
    world.books.link_stripe(SYSTEM, NOW, org, CUS)
    assert apply_kept(world.desk) == 1
    assert [p[3] for p in books_state(world, org)["payments"]] == ["failed"]
    assert apply_kept(world.desk) == 0


def test_a_failed_payment_retriages_the_orgs_open_cases(world: World) -> None:
    org = world.org()
    case = world.desk.open_case(
        SYSTEM, {"subject": "402", "body": "Our requests fail with 402 payment required."}, org_id=org
    )
    world.stripe(event("charge.failed", charge_failed(PI, CH), eid="evt_1"))
    assert world.desk.case(SYSTEM, case["id"], checked=True)["triages"] == 2
