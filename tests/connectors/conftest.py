"""A desk on fresh SQLite books with the connectors configured against local fake servers."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import stripe
from fastapi.testclient import TestClient

from quotadesk.connectors.runtime import Config, Connectors
from quotadesk.desk.clock import FixedClock
from quotadesk.desk.service import Desk
from quotadesk.store.access import SYSTEM
from quotadesk.store.books import Books
from quotadesk.web.app import create_app

from .fakes import FakeDesk, FakeServer, FakeStatusPage
from .payloads import CUS, NOW, dumps

WALL = 1_790_000_000.0  # the receiver's clock for signature windows (a fixed "real" time)
STRIPE_SECRET = "whsec_test_5iYxhKZ0JjVQ2eD8qJ"
SECRETS = {
    "zammad": "zammad-token-1",
    "zendesk": "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmc=",
    "chatwoot": "cw-secret",
    "freshdesk": "fd-shared-9",
}
AUTH = {
    "zammad": "Token token=zt-123",
    "zendesk": "Basic " + base64.b64encode(b"agent@example.com/token:zd-456").decode(),
    "freshdesk": "Basic " + base64.b64encode(b"fd-key-789:X").decode(),
    "chatwoot": "cw-access-1",
}


def sign_stripe(body: bytes, *, secret: str = STRIPE_SECRET, at: float = WALL) -> dict[str, str]:
    """Stripe's own signing helper (the SDK's), never the network."""
    return {
        "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(body.decode(), secret, int(at))
    }


def sign_desk(
    name: str, body: bytes, *, secret: str | None = None, at: float = WALL, delivery: str = "d-1"
) -> dict[str, str]:
    """Each desk's signature, as its docs define it."""
    key = (secret or SECRETS[name]).encode()
    if name == "zammad":
        return {
            "X-Hub-Signature": "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest(),
            "X-Zammad-Delivery": delivery,
            "X-Zammad-Trigger": "quotadesk",
        }
    if name == "zendesk":
        stamp = (
            __import__("datetime")
            .datetime.fromtimestamp(at, __import__("datetime").UTC)
            .strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        sig = base64.b64encode(hmac.new(key, stamp.encode() + body, hashlib.sha256).digest()).decode()
        return {
            "X-Zendesk-Webhook-Signature": sig,
            "X-Zendesk-Webhook-Signature-Timestamp": stamp,
            "X-Zendesk-Webhook-Id": "01GK8E6BKWMJZD2T8Y5AXJQMG5",
            "X-Zendesk-Webhook-Invocation-Id": delivery,
        }
    if name == "chatwoot":
        stamp = str(int(at))
        sig = "sha256=" + hmac.new(key, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return {"X-Chatwoot-Signature": sig, "X-Chatwoot-Timestamp": stamp, "X-Chatwoot-Delivery": delivery}
    return {"X-Quotadesk-Secret": secret or SECRETS["freshdesk"]}


@dataclass
class World:
    books: Books
    desk: Desk
    clock: FixedClock
    connectors: Connectors
    client: TestClient
    desks: dict[str, FakeDesk]
    servers: list[FakeServer] = field(default_factory=list)

    def stripe(self, doc: dict[str, Any], **kw: Any) -> Any:
        body = dumps(doc)
        return self.client.post(
            "/hooks/stripe",
            content=body,
            headers={**sign_stripe(body, **kw), "Content-Type": "application/json"},
        )

    def hook(self, name: str, doc: dict[str, Any], **kw: Any) -> Any:
        body = dumps(doc)
        return self.client.post(
            f"/hooks/{name}",
            content=body,
            headers={**sign_desk(name, body, **kw), "Content-Type": "application/json"},
        )

    def org(
        self, name: str = "Acme", *, customer: str | None = CUS, domain: str | None = "acme.io", **kw: Any
    ) -> str:
        from quotadesk.connectors.contacts import add_contact

        org = self.books.create_org(SYSTEM, NOW, name=name, stripe_customer=customer, **kw)
        if domain:
            add_contact(self.books.engine, SYSTEM, NOW, org, "domain", domain)
        return org


@pytest.fixture
def make_world(tmp_path: Any) -> Iterator[Callable[..., World]]:
    made: list[World] = []

    def make(**config: str) -> World:
        books = Books.open(f"sqlite:///{tmp_path}/books-{len(made)}.db")
        clock = FixedClock(NOW)
        desk = Desk(books, clock=clock)
        desks = {n: FakeDesk(n, AUTH[n]) for n in ("zammad", "zendesk", "freshdesk", "chatwoot")}
        values = {
            "stripe_webhook_secret": STRIPE_SECRET,
            **{f"{n}_webhook_secret": s for n, s in SECRETS.items()},
            "zammad_url": desks["zammad"].url,
            "zammad_token": "zt-123",
            "zendesk_url": desks["zendesk"].url,
            "zendesk_email": "agent@example.com",
            "zendesk_token": "zd-456",
            "freshdesk_url": desks["freshdesk"].url,
            "freshdesk_api_key": "fd-key-789",
            "chatwoot_url": desks["chatwoot"].url,
            "chatwoot_token": "cw-access-1",
            "chatwoot_account_id": "1",
            "outbound_timeout_seconds": "5",
            **config,
        }
        connectors = Connectors(desk, Config(values), wall=lambda: WALL)
        client = TestClient(create_app(desk, connectors=connectors))
        world = World(books, desk, clock, connectors, client, desks, list(desks.values()))
        made.append(world)
        return world

    yield make
    for w in made:
        w.connectors.stop()
        for s in w.servers:
            s.close()
        w.books.close()


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()


@pytest.fixture
def status_page() -> Iterator[FakeStatusPage]:
    page = FakeStatusPage()
    yield page
    page.close()
