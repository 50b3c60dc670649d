"""One webhook verifier, over the raw request bytes, with each service's scheme as data.

Every service signs (or authenticates) its deliveries differently, but the questions are the
same: which header carries the signature, what exactly was signed (the body alone, or a
timestamp joined to it), which digest and encoding, whether several signatures may be sent
at once (Stripe sends one ``v1`` per active secret while a secret is rotated), how old a
signed timestamp may be, and where the delivery's id is (a header, or the event's own id in
the body). ``Scheme`` holds those answers; ``verify`` is the one function that applies them.

    Stripe     Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]   HMAC-SHA256 of "t.body", 300 s
    Zendesk    X-Zendesk-Webhook-Signature: <base64>               HMAC-SHA256 of timestamp + body
               X-Zendesk-Webhook-Signature-Timestamp: <RFC 3339>   300 s
    Zammad     X-Hub-Signature: sha1=<hex>                         HMAC-SHA1 of the body (no time)
    Chatwoot   X-Chatwoot-Signature: sha256=<hex>                  HMAC-SHA256 of "timestamp.body"
               X-Chatwoot-Timestamp: <unix>                        300 s
    Freshdesk  no signature: a shared secret in X-Quotadesk-Secret or the URL's ?secret=
    quotadesk  X-Quotadesk-Signature: t=<unix>,v1=<hex>            our own alerts out (Stripe's form)

Comparison is constant-time (``hmac.compare_digest``) for every candidate. A refusal is a
``SignatureError`` (HTTP 400) whose message names what was wrong, never a secret or the
signature received: it is logged as is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quotadesk.errors import InputError

TOLERANCE_S = 300
"""How far a signed timestamp may be from the receiver's clock (Stripe's own default)."""


class SignatureError(InputError):
    """The delivery is not authentic (or not fresh): 400, nothing changes."""


@dataclass(frozen=True, slots=True)
class Scheme:
    """How one service signs a delivery.

    ``header``: where the signature is; ``form``: how the header is written (``stripe``: the
    ``t=…,v1=…`` list; ``prefixed``: ``<prefix><digest>``; ``plain``: the digest alone;
    ``secret``: the shared secret itself, no signature). ``timestamp_header``: the header
    holding the signed timestamp when it is not inside the signature header. ``joiner``: the
    bytes between timestamp and body in the signed message (None: only the body is signed).
    ``digest``/``encoding``: the HMAC's hash and how it is written. ``tolerance``: seconds a
    timestamp may be off (None: the scheme has no timestamp). ``delivery_header``: the header
    naming the delivery (the replay log's key), when the service sends one.
    """

    service: str
    header: str
    form: str
    digest: Callable[[], Any] = hashlib.sha256
    encoding: str = "hex"
    prefix: str = ""
    timestamp_header: str | None = None
    joiner: bytes | None = None
    tolerance: int | None = None
    delivery_header: str | None = None
    query_secret: str | None = None


STRIPE = Scheme("stripe", "stripe-signature", "stripe", joiner=b".", tolerance=TOLERANCE_S)
ZENDESK = Scheme(
    "zendesk",
    "x-zendesk-webhook-signature",
    "plain",
    encoding="base64",
    timestamp_header="x-zendesk-webhook-signature-timestamp",
    joiner=b"",
    tolerance=TOLERANCE_S,
    delivery_header="x-zendesk-webhook-invocation-id",
)
ZAMMAD = Scheme(
    "zammad",
    "x-hub-signature",
    "prefixed",
    digest=hashlib.sha1,
    prefix="sha1=",
    delivery_header="x-zammad-delivery",
)
CHATWOOT = Scheme(
    "chatwoot",
    "x-chatwoot-signature",
    "prefixed",
    prefix="sha256=",
    timestamp_header="x-chatwoot-timestamp",
    joiner=b".",
    tolerance=TOLERANCE_S,
    delivery_header="x-chatwoot-delivery",
)
FRESHDESK = Scheme("freshdesk", "x-quotadesk-secret", "secret", query_secret="secret")
QUOTADESK = Scheme("quotadesk", "x-quotadesk-signature", "stripe", joiner=b".", tolerance=TOLERANCE_S)

SCHEMES = {s.service: s for s in (STRIPE, ZENDESK, ZAMMAD, CHATWOOT, FRESHDESK)}


@dataclass(frozen=True, slots=True)
class Verified:
    """An authentic delivery: the timestamp it was signed at (unix seconds, when the scheme
    has one) and the delivery id its headers gave (None: the body's own id will serve)."""

    service: str
    timestamp: int | None
    delivery_id: str | None


def secrets_of(setting: str) -> list[str]:
    """A setting's secrets: one, or several separated by commas while a secret is rotated."""
    return [s.strip() for s in setting.split(",") if s.strip()]


def _mac(scheme: Scheme, secret: str, message: bytes) -> str:
    raw = hmac.new(secret.encode(), message, scheme.digest).digest()
    return base64.b64encode(raw).decode() if scheme.encoding == "base64" else raw.hex()


def _timestamp(scheme: Scheme, text: str) -> int:
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SignatureError(
            "the signed timestamp is not a time", scheme.timestamp_header or scheme.header
        ) from exc
    if when.tzinfo is None:
        raise SignatureError(
            "the signed timestamp has no time zone", scheme.timestamp_header or scheme.header
        )
    return int(when.timestamp())


def _stripe_form(scheme: Scheme, value: str) -> tuple[str, list[str]]:
    """``t=…,v1=…,v1=…`` → (timestamp text, the v1 signatures); other schemes (v0) are ignored."""
    stamp: str | None = None
    sigs: list[str] = []
    for part in value.split(","):
        key, sep, item = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            stamp = item
        elif key == "v1":
            sigs.append(item)
    if stamp is None or not stamp.isdigit():
        raise SignatureError("no t=<timestamp> in the signature header", scheme.header)
    if not sigs:
        raise SignatureError("no v1 signature in the signature header", scheme.header)
    return stamp, sigs


def verify(
    scheme: Scheme,
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    now: float,
    *,
    query: Mapping[str, str] | None = None,
) -> Verified:
    """Check ``body`` against ``scheme`` with any of ``secrets`` at unix time ``now``.

    ``headers`` are looked up in lower case. Raises ``SignatureError`` naming the header (or
    the setting, when no secret is configured); returns what the delivery said about itself.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    if not secrets:
        raise SignatureError(
            f"{scheme.service} webhooks are not configured: set {scheme.service}_webhook_secret",
            f"{scheme.service}_webhook_secret",
        )
    delivery = lower.get(scheme.delivery_header) if scheme.delivery_header else None
    delivery = delivery.strip()[:200] if delivery and delivery.strip() else None
    if scheme.form == "secret":
        given = lower.get(scheme.header) or (query or {}).get(scheme.query_secret or "", "")
        if not given:
            raise SignatureError("no shared secret in the header or the URL", scheme.header)
        if not any(hmac.compare_digest(given.encode(), s.encode()) for s in secrets):
            raise SignatureError("the shared secret does not match", scheme.header)
        return Verified(scheme.service, None, delivery)
    value = lower.get(scheme.header)
    if not value or not value.strip():
        raise SignatureError("no signature header", scheme.header)
    value = value.strip()
    stamp_text: str | None = None
    if scheme.form == "stripe":
        stamp_text, candidates = _stripe_form(scheme, value)
    elif scheme.form == "prefixed":
        if not value.startswith(scheme.prefix):
            raise SignatureError(f"the signature does not start with {scheme.prefix!r}", scheme.header)
        candidates = [value.removeprefix(scheme.prefix)]
    else:
        candidates = [value]
    if scheme.timestamp_header is not None:
        stamp_text = lower.get(scheme.timestamp_header)
        if not stamp_text or not stamp_text.strip():
            raise SignatureError("no signed timestamp header", scheme.timestamp_header)
        stamp_text = stamp_text.strip()
    stamp = _timestamp(scheme, stamp_text) if stamp_text is not None else None
    if scheme.joiner is None or stamp_text is None:
        message = body
    else:
        message = stamp_text.encode() + scheme.joiner + body
    expected = [_mac(scheme, s, message) for s in secrets]
    matched = False
    for candidate in candidates:
        for e in expected:
            # every pair is compared, so the time taken says nothing about which one matched
            matched |= hmac.compare_digest(candidate.encode(), e.encode())
    if not matched:
        raise SignatureError("the signature does not match the body", scheme.header)
    if scheme.tolerance is not None and stamp is not None and abs(now - stamp) > scheme.tolerance:
        where = scheme.timestamp_header or scheme.header
        raise SignatureError(
            f"the signature is {int(abs(now - stamp))} s from this server's clock (at most {scheme.tolerance} s)",
            where,
        )
    return Verified(scheme.service, stamp, delivery)


def sign(scheme: Scheme, body: bytes, secret: str, now: int) -> dict[str, str]:
    """The headers that make ``body`` verify under ``scheme`` (our own alerts out, and tests)."""
    stamp = str(int(now))
    if scheme.form == "secret":
        return {scheme.header: secret}
    message = body if scheme.joiner is None else stamp.encode() + scheme.joiner + body
    mac = _mac(scheme, secret, message)
    if scheme.form == "stripe":
        return {scheme.header: f"t={stamp},v1={mac}"}
    headers = {scheme.header: scheme.prefix + mac}
    if scheme.timestamp_header is not None:
        headers[scheme.timestamp_header] = stamp
    return headers
