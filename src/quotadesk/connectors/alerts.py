"""Alerts out: the notices the books write (soft limit, credits low, payment failed, suspension)
are really sent, by email to the organization's contacts and to a webhook.

The books write a notice where the rule fires (the month close, a failed charge, a Stripe
event, a flag). The dispatcher reads notices after its cursor (``connector_state``
``alerts:notices``), and for each of the kinds in setting ``alert_kinds`` queues one email per
organization (to its ``email`` contacts, ``quotadesk contact add``) and one webhook call, in the
outbox under ``alert:<notice>:email`` / ``alert:<notice>:webhook``: a notice is sent once,
however many processes dispatch. On its first run the cursor starts a day back, so turning
alerts on does not mail a year of old notices.

The message states only what the notice records (its kind, time and figures): no advice
the books cannot back. The webhook body is JSON signed like Stripe's (``X-Quotadesk-Signature:
t=…,v1=…``, HMAC-SHA256 of ``t.body`` with ``alerts_webhook_secret``).
"""

from __future__ import annotations

import json
import logging
import smtplib
from collections.abc import Callable, Mapping
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlparse

import httpx
from sqlalchemy import func, select

from quotadesk.connectors.background import Loop, get_state, put_state
from quotadesk.connectors.outbound import OutboundError
from quotadesk.connectors.outbox import Item, Outbox, enqueue
from quotadesk.connectors.verify import QUOTADESK, sign
from quotadesk.desk.service import Desk
from quotadesk.store.db import transaction
from quotadesk.store.schema import notices, org_contacts, organizations

log = logging.getLogger("quotadesk.connectors")
CURSOR = "alerts:notices"
FIRST_LOOKBACK = timedelta(days=1)

SUBJECTS = {
    "soft_limit_reached": "Your monthly soft spending limit has been reached",
    "credits_low": "Your credit balance is running low",
    "payment_failed": "A payment failed",
    "auto_recharge_failed": "An automatic recharge failed",
    "suspension_policy": "Your account has been suspended",
    "suspension_fraud": "Your account has been suspended",
    "suspension_payment": "Your account has been suspended for an unpaid balance",
    "hard_limit_reached": "Your monthly hard spending limit has been reached",
    "credits_exhausted": "Your credit balance is used up",
    "invoice_overdue": "An invoice is overdue",
    "card_expiring": "A card on file expires soon",
}
FIGURES = (
    "payment",
    "failure_code",
    "decline_code",
    "invoice",
    "last4",
    "exp_month",
    "exp_year",
    "tier",
    "reason",
)


def render(kind: str, org_name: str, at: str, detail: Mapping[str, Any]) -> tuple[str, str]:
    """Subject and text of the email: the notice's own facts, nothing more."""
    subject = SUBJECTS.get(kind, kind.replace("_", " ").capitalize())
    lines = [f"{subject} ({org_name}).", "", f"When: {at}"]
    for key in FIGURES:
        if detail.get(key) not in (None, ""):
            lines.append(f"{key.replace('_', ' ').capitalize()}: {str(detail[key]).replace('_', ' ')}")
    lines += ["", "This message was sent because your account's billing settings changed state."]
    return subject, "\n".join(lines)


def parse_smtp(url: str) -> dict[str, Any]:
    p = urlparse(url)
    if p.scheme not in ("smtp", "smtps", "smtp+starttls") or not p.hostname:
        raise ValueError("smtp_url: expected smtp://, smtp+starttls:// or smtps://host[:port]")
    default = 465 if p.scheme == "smtps" else 587 if p.scheme == "smtp+starttls" else 25
    return {
        "scheme": p.scheme,
        "host": p.hostname,
        "port": p.port or default,
        "user": unquote(p.username) if p.username else None,
        "password": unquote(p.password) if p.password else None,
    }


class Alerts:
    """The dispatcher and the two senders (see the module docstring)."""

    def __init__(
        self,
        desk: Desk,
        config: Any,
        outbox: Outbox,
        *,
        transport: httpx.BaseTransport | None = None,
        smtp: Callable[..., Any] | None = None,
    ) -> None:
        self.desk = desk
        self.kinds = {k.strip() for k in config.get("alert_kinds").split(",") if k.strip()}
        self.sender_address = config.get("alerts_from")
        self.timeout = config.number("outbound_timeout_seconds")
        smtp_url = config.get("smtp_url")
        self.smtp = parse_smtp(smtp_url) if smtp_url else None
        self.smtp_factory = smtp
        self.webhook_url = config.get("alerts_webhook_url")
        self.webhook_secret = config.get("alerts_webhook_secret")
        self.transport = transport
        self._loop = Loop("quotadesk-alerts", self.dispatch, 5.0)
        if self.smtp is not None:
            outbox.register("email", self.send_email)
        if self.webhook_url:
            outbox.register("webhook", self.send_webhook)

    @property
    def enabled(self) -> bool:
        return bool(self.smtp or self.webhook_url) and bool(self.kinds)

    def dispatch(self, limit: int = 500) -> int:
        """Queue the alerts of notices written since the last pass; returns how many were queued."""
        if not self.enabled:
            return 0
        now = self.desk.now()
        queued = 0
        with transaction(self.desk.engine) as conn:
            value = get_state(conn, CURSOR)
            if not value:
                start = conn.execute(
                    select(func.max(notices.c.id)).where(notices.c.at < now - FIRST_LOOKBACK)
                ).scalar()
                cursor = int(start or 0)
            else:
                cursor = int(value["after"])
            rows = conn.execute(
                select(notices, organizations.c.name)
                .join(organizations, organizations.c.id == notices.c.org_id)
                .where(notices.c.id > cursor)
                .order_by(notices.c.id)
                .limit(limit)
            ).all()
            for r in rows:
                cursor = int(r.id)
                if r.kind not in self.kinds:
                    continue
                detail = json.loads(r.detail or "{}")
                at = r.at.isoformat().replace("+00:00", "Z")
                if self.smtp is not None:
                    to = sorted(
                        conn.execute(
                            select(org_contacts.c.value).where(
                                org_contacts.c.org_id == r.org_id, org_contacts.c.kind == "email"
                            )
                        ).scalars()
                    )
                    if to:
                        subject, text = render(r.kind, r.name or r.org_id, at, detail)
                        payload = {"to": to, "subject": subject, "text": text}
                        queued += enqueue(conn, "email", f"alert:{r.id}:email", payload, now, org_id=r.org_id)
                if self.webhook_url:
                    event = {
                        "type": f"notice.{r.kind}",
                        "notice_id": int(r.id),
                        "org_id": r.org_id,
                        "at": at,
                        "detail": detail,
                    }
                    queued += enqueue(conn, "webhook", f"alert:{r.id}:webhook", event, now, org_id=r.org_id)
            put_state(conn, CURSOR, {"after": cursor}, now)
        return queued

    def send_email(self, item: Item) -> str:
        assert self.smtp is not None
        p = item.payload
        msg = EmailMessage()
        msg["From"] = self.sender_address
        msg["To"] = ", ".join(p["to"])
        msg["Subject"] = p["subject"]
        msg["Message-ID"] = (
            f"<quotadesk-alert-{item.id}@{self.sender_address.rpartition('@')[2] or 'localhost'}>"
        )
        msg.set_content(p["text"])
        cfg = self.smtp
        factory = self.smtp_factory or (smtplib.SMTP_SSL if cfg["scheme"] == "smtps" else smtplib.SMTP)
        try:
            with factory(cfg["host"], cfg["port"], timeout=self.timeout) as server:
                if cfg["scheme"] == "smtp+starttls":
                    server.starttls()
                if cfg["user"]:
                    server.login(cfg["user"], cfg["password"] or "")
                refused = server.send_message(msg)
        except smtplib.SMTPResponseException as exc:
            raise OutboundError(
                f"SMTP {exc.smtp_code}", retry=exc.smtp_code >= 400 and exc.smtp_code < 500
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise OutboundError(f"SMTP: {type(exc).__name__}", retry=True) from exc
        if refused:
            log.warning("alert %s: refused recipients %s", item.id, sorted(refused))
        return str(msg["Message-ID"])

    def send_webhook(self, item: Item) -> str:
        body = json.dumps(item.payload, sort_keys=True).encode()
        headers = {"Content-Type": "application/json"}
        if self.webhook_secret:
            headers |= sign(QUOTADESK, body, self.webhook_secret, int(self.desk.now().timestamp()))
        client = httpx.Client(timeout=self.timeout, transport=self.transport)
        try:
            response = client.post(self.webhook_url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise OutboundError(f"POST alert webhook: {type(exc).__name__}", retry=True) from exc
        finally:
            client.close()
        if response.status_code >= 400:
            retry = response.status_code >= 500 or response.status_code == 429
            raise OutboundError(f"POST alert webhook: HTTP {response.status_code}", retry=retry)
        return f"HTTP {response.status_code}"

    def start(self) -> None:
        if self.enabled:
            self._loop.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._loop.stop(timeout)
