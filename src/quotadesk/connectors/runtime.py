"""The connectors of one desk process: configured from settings, started and stopped with the app.

``Connectors.from_settings(desk)`` reads every connector setting once (``docs/connectors.md``)
and wires: the webhook receivers (``stripe``, ``ticket``), the note writer listening to the
desk, the outbox with a sender per desk and for alerts, the status poller (which becomes the
desk's status source) and the alert dispatcher. ``start`` runs the background work in
threads (the outbox worker, the poller, the dispatcher); ``stop`` ends them and waits, so a
SIGTERM to ``quotadesk serve`` leaves no call half-made: a row in flight is either marked
or retried after its lease.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from quotadesk import settings
from quotadesk.connectors import stripe_hook, tickets
from quotadesk.connectors.chatwoot import Client as ChatwootClient
from quotadesk.connectors.freshdesk import Client as FreshdeskClient
from quotadesk.connectors.helpdesk import mapping_setting
from quotadesk.connectors.outbox import Outbox
from quotadesk.connectors.tickets import DeskSetup, Received
from quotadesk.connectors.verify import SCHEMES, secrets_of, verify
from quotadesk.connectors.zammad import Client as ZammadClient
from quotadesk.connectors.zendesk import Client as ZendeskClient
from quotadesk.desk.service import Desk

DESKS = ("zendesk", "zammad", "freshdesk", "chatwoot")


@dataclass(frozen=True, slots=True)
class Config:
    """Every connector setting, read once (``values``: setting name → value)."""

    values: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, **overrides: str) -> Config:
        names = [n for n in settings.SETTINGS if n not in ("db", "usage_dir", "usage_engine", "intent_model")]
        return cls({n: overrides.get(n, settings.get(n)) for n in names})

    def get(self, name: str) -> str:
        return self.values.get(name, settings.SETTINGS[name].default).strip()

    def number(self, name: str) -> float:
        try:
            return float(self.get(name))
        except ValueError:
            return float(settings.SETTINGS[name].default)


def desk_client(name: str, config: Config, transport: httpx.BaseTransport | None) -> Any:
    """The desk's API client, or None when its URL and credentials are not all set."""
    timeout = config.number("outbound_timeout_seconds")
    url = config.get(f"{name}_url")
    if not url:
        return None
    if name == "zammad" and config.get("zammad_token"):
        return ZammadClient(url, config.get("zammad_token"), timeout=timeout, transport=transport)
    if name == "zendesk" and config.get("zendesk_email") and config.get("zendesk_token"):
        return ZendeskClient(
            url,
            config.get("zendesk_email"),
            config.get("zendesk_token"),
            timeout=timeout,
            transport=transport,
        )
    if name == "freshdesk" and config.get("freshdesk_api_key"):
        return FreshdeskClient(url, config.get("freshdesk_api_key"), timeout=timeout, transport=transport)
    if name == "chatwoot" and config.get("chatwoot_token") and config.get("chatwoot_account_id"):
        return ChatwootClient(
            url,
            config.get("chatwoot_token"),
            config.get("chatwoot_account_id"),
            timeout=timeout,
            transport=transport,
        )
    return None


class Connectors:
    """See the module docstring. ``wall`` is the clock signatures are checked against (real
    time, even when the desk's books run on a demo clock); ``transport`` routes outbound HTTP
    (tests point it at their fake desks); ``smtp`` makes the SMTP connection for alerts."""

    def __init__(
        self,
        desk: Desk,
        config: Config | None = None,
        *,
        wall: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
        smtp: Callable[..., Any] | None = None,
    ) -> None:
        from quotadesk.connectors.alerts import Alerts
        from quotadesk.connectors.status import LiveStatus

        self.desk = desk
        self.config = config or Config.from_settings()
        self.wall = wall
        self.outbox = Outbox(
            desk.engine, desk.now, max_attempts=int(self.config.number("outbound_max_attempts"))
        )
        self.setups: dict[str, DeskSetup] = {}
        groups_setting = {"chatwoot": "chatwoot_teams"}
        for name in DESKS:
            setup = DeskSetup(
                name,
                desk_client(name, self.config, transport),
                org_field=self.config.get(f"{name}_org_field"),
                groups=mapping_setting(self.config.get(groups_setting.get(name, f"{name}_groups"))),
                tag_prefix=self.config.get("helpdesk_tag_prefix"),
            )
            self.setups[name] = setup
            if setup.client is not None:
                self.outbox.register(name, tickets.sender(setup))
        self.notes = tickets.NoteWriter(desk, self.setups)
        desk.listeners.append(self.notes)
        self.status = LiveStatus.from_config(desk, self.config, transport=transport)
        if self.status is not None:
            desk.status = self.status
        if self.config.get("stripe_api_key"):
            from quotadesk.connectors.stripe_processor import StripeProcessor

            desk.books.processor = StripeProcessor(
                self.config.get("stripe_api_key"), timeout=self.config.number("outbound_timeout_seconds")
            )
        self.alerts = Alerts(desk, self.config, self.outbox, transport=transport, smtp=smtp)
        self._started = False

    @classmethod
    def from_settings(cls, desk: Desk) -> Connectors:
        return cls(desk, Config.from_settings())

    # ------------------------------------------------------------------ webhooks

    def _verify(
        self, service: str, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]
    ) -> str | None:
        secret = self.config.get(f"{service}_webhook_secret")
        verified = verify(SCHEMES[service], headers, body, secrets_of(secret), self.wall(), query=query)
        return verified.delivery_id

    def stripe(self, headers: Mapping[str, str], body: bytes) -> Received:
        self._verify("stripe", headers, body, {})
        return stripe_hook.receive(self.desk, body)

    def ticket(
        self, service: str, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]
    ) -> Received:
        delivery = self._verify(service, headers, body, query)
        return tickets.receive(self.desk, self.setups[service], body, delivery)

    # ------------------------------------------------------------------ background work

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self.outbox.start()
        if self.status is not None:
            self.status.start()
        self.alerts.start()

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self.alerts.stop()
        if self.status is not None:
            self.status.stop()
        self.outbox.stop()

    def run_once(self) -> None:
        """One pass of all background work, in order (tests, and ``quotadesk connectors run-once``)."""
        if self.status is not None:
            self.status.poll()
        self.alerts.dispatch()
        self.outbox.run_due()
