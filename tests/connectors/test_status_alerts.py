"""Status pages polled with ETags into each case; stale pages said so; a new incident re-triages;
alerts mailed through a real local SMTP server and posted, signed, to a webhook; background work
stops with the app."""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import select

from quotadesk.connectors.contacts import add_contact
from quotadesk.connectors.verify import QUOTADESK, verify
from quotadesk.store.access import SYSTEM
from quotadesk.store.schema import outbox, status_incidents

from .conftest import World
from .fakes import FakeServer, FakeStatusPage
from .payloads import NOW, charge_failed, event

INCIDENT = {
    "id": "p31zjtct2jer",
    "name": "Elevated API error rates",
    "status": "investigating",
    "impact": "major",
    "created_at": "2026-11-14T08:30:00Z",
    "updated_at": "2026-11-14T08:31:00Z",
    "resolved_at": None,
    "shortlink": "https://stspg.io/p31zjtct2jer",
    "components": [{"id": "b13yz5g2cw10", "name": "API", "status": "major_outage"}],
    "incident_updates": [
        {
            "id": "u1",
            "status": "investigating",
            "body": "We are investigating.",
            "created_at": "2026-11-14T08:30:00Z",
            "updated_at": "2026-11-14T08:30:00Z",
        }
    ],
}


def _status_world(make_world: Any, page: FakeStatusPage) -> World:
    world: World = make_world(
        status_page=f"{page.url}/api/v2/summary.json", status_poll_seconds="30", status_stale_seconds="600"
    )
    return world


def test_polls_with_etag_and_each_case_gets_the_status_of_its_time(
    make_world: Any, status_page: FakeStatusPage
) -> None:
    world = _status_world(make_world, status_page)
    before = world.desk.open_case(SYSTEM, {"subject": "errors", "body": "Our requests fail with 500 errors."})
    assert before["sources"]["status_page"]["state"] == "unavailable"  # not read yet: said so
    world.connectors.status.poll()  # type: ignore[union-attr]
    world.connectors.status.poll()  # type: ignore[union-attr]
    gets = [q for q in status_page.requests if q["path"].endswith("summary.json")]
    assert "if-none-match" not in gets[0]["headers"] and gets[1]["headers"]["if-none-match"]
    quiet = world.desk.open_case(SYSTEM, {"subject": "errors", "body": "Our requests fail with 500 errors."})
    assert quiet["sources"]["status_page"]["state"] == "read"

    status_page.incidents.append(dict(INCIDENT))
    world.clock.advance(seconds=30)
    new = world.connectors.status.poll()  # type: ignore[union-attr]
    assert [i["id"] for i in new] == ["p31zjtct2jer"]
    assert (
        world.desk.case(SYSTEM, quiet["id"], checked=True)["triages"] == 2
    )  # re-triaged by the new incident
    case = world.desk.open_case(
        SYSTEM, {"subject": "errors", "body": "All our API requests fail with 500 errors right now."}
    )
    assert case["triage"]["incident"] == "provider_outage"

    # resolved: it leaves summary.json, its last state is read from incidents.json and kept
    status_page.incidents[0] |= {
        "status": "resolved",
        "resolved_at": "2026-11-14T09:20:00Z",
        "updated_at": "2026-11-14T09:20:00Z",
    }
    world.clock.advance(seconds=30)
    world.connectors.status.poll()  # type: ignore[union-attr]
    with world.books.engine.connect() as conn:
        assert conn.execute(select(status_incidents.c.status)).scalars().all() == ["resolved"]


def test_a_stale_or_unreachable_page_is_said_so(make_world: Any, status_page: FakeStatusPage) -> None:
    world = _status_world(make_world, status_page)
    world.connectors.status.poll()  # type: ignore[union-attr]
    status_page.down = True
    world.clock.advance(seconds=601)
    world.connectors.status.poll()  # type: ignore[union-attr]
    case = world.desk.open_case(SYSTEM, {"subject": "errors", "body": "Our requests fail with 500 errors."})
    info = case["sources"]["status_page"]
    assert info["state"] == "unavailable" and "stale" in info["problem"] and "HTTP 503" in info["problem"]
    assert "status_page" not in json.dumps(case["triage"].get("evidence", []))


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_alerts_by_smtp_and_signed_webhook(make_world: Any) -> None:
    inbox = Inbox()
    port = _free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    hook = FakeServer()
    hook.routes.append(("POST", r"/alerts", lambda m, b, h: (204, None, {})))
    try:
        world = make_world(
            smtp_url=f"smtp://127.0.0.1:{port}",
            alerts_webhook_url=f"{hook.url}/alerts",
            alerts_webhook_secret="alert-secret",
            alerts_from="billing@example.com",
        )
        org = world.org()
        add_contact(world.books.engine, SYSTEM, NOW, org, "email", "dana@acme.io")
        world.stripe(event("charge.failed", charge_failed("pi_1", "ch_1"), eid="evt_1"))
        world.connectors.run_once()
        world.connectors.run_once()  # once: nothing queued twice
        assert len(inbox.messages) == 1
        mail = inbox.messages[0]
        assert mail.rcpt_tos == ["dana@acme.io"] and mail.mail_from == "billing@example.com"
        text = mail.content.decode()
        assert "A payment failed" in text and "insufficient funds" in text
        posts = [q for q in hook.requests if q["method"] == "POST"]
        assert len(posts) == 1
        raw = json.dumps(posts[0]["body"], sort_keys=True).encode()
        assert verify(QUOTADESK, posts[0]["headers"], raw, ["alert-secret"], NOW.timestamp())
        assert posts[0]["body"]["type"] == "notice.payment_failed" and posts[0]["body"]["org_id"] == org
        with world.books.engine.connect() as conn:
            assert sorted(conn.execute(select(outbox.c.channel, outbox.c.status)).all()) == [
                ("email", "sent"),
                ("webhook", "sent"),
            ]
    finally:
        smtp.stop()
        hook.close()


def test_background_work_stops_with_the_app(make_world: Any, status_page: FakeStatusPage) -> None:
    world = _status_world(make_world, status_page)
    with world.client:  # the lifespan: connectors start
        names = {t.name for t in threading.enumerate()}
        assert {"quotadesk-outbox", "quotadesk-status"} <= names
    names = {t.name for t in threading.enumerate()}
    assert not names & {"quotadesk-outbox", "quotadesk-status", "quotadesk-alerts"}
