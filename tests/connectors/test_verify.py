"""The one verifier: each service's scheme, right and wrong, over the raw bytes."""

from __future__ import annotations

import pytest
import stripe

from quotadesk.connectors.verify import QUOTADESK, SCHEMES, SignatureError, secrets_of, sign, verify

from .conftest import SECRETS, STRIPE_SECRET, WALL, sign_desk

BODY = b'{"id": "evt_1", "type": "charge.failed"}'


def _secret(name: str) -> str:
    return STRIPE_SECRET if name == "stripe" else SECRETS[name]


def _headers(name: str, body: bytes = BODY, **kw: object) -> dict[str, str]:
    if name == "stripe":
        at = kw.get("at", WALL)
        secret = str(kw.get("secret", STRIPE_SECRET))
        return {
            "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(
                body.decode(), secret, int(at)
            )
        }  # type: ignore[call-overload]
    return sign_desk(name, body, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_a_correct_signature_verifies(name: str) -> None:
    got = verify(SCHEMES[name], _headers(name), BODY, [_secret(name)], WALL)
    assert got.service == name


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_wrong_secret_tampered_body_and_missing_header_are_refused(name: str) -> None:
    with pytest.raises(SignatureError):
        verify(SCHEMES[name], _headers(name, secret="not-the-secret"), BODY, [_secret(name)], WALL)
    if name != "freshdesk":
        with pytest.raises(SignatureError):
            verify(SCHEMES[name], _headers(name), BODY + b" ", [_secret(name)], WALL)
    with pytest.raises(SignatureError) as exc:
        verify(SCHEMES[name], {}, BODY, [_secret(name)], WALL)
    assert _secret(name) not in str(exc.value)
    with pytest.raises(SignatureError, match="not configured"):
        verify(SCHEMES[name], _headers(name), BODY, [], WALL)


@pytest.mark.parametrize("name", ["stripe", "zendesk", "chatwoot"])
def test_timestamps_older_than_300_s_are_refused(name: str) -> None:
    verify(SCHEMES[name], _headers(name, at=WALL - 299), BODY, [_secret(name)], WALL)
    with pytest.raises(SignatureError, match="at most 300 s"):
        verify(SCHEMES[name], _headers(name, at=WALL - 301), BODY, [_secret(name)], WALL)


def test_stripe_several_v1_signatures_during_rotation() -> None:
    old = stripe.WebhookSignature.generate_signature_header(BODY.decode(), "whsec_old", int(WALL))
    new = stripe.WebhookSignature.generate_signature_header(BODY.decode(), STRIPE_SECRET, int(WALL))
    both = f"{old},v1={new.split('v1=')[1]},v0=deadbeef"
    assert verify(SCHEMES["stripe"], {"stripe-signature": both}, BODY, [STRIPE_SECRET], WALL)
    # our side rotates too: two secrets in the setting
    assert verify(
        SCHEMES["stripe"], {"Stripe-Signature": old}, BODY, secrets_of(f"{STRIPE_SECRET}, whsec_old"), WALL
    )
    with pytest.raises(SignatureError, match="no v1"):
        verify(SCHEMES["stripe"], {"Stripe-Signature": f"t={int(WALL)},v0=abc"}, BODY, [STRIPE_SECRET], WALL)


def test_freshdesk_secret_in_the_url() -> None:
    assert verify(SCHEMES["freshdesk"], {}, BODY, ["fd"], WALL, query={"secret": "fd"})
    with pytest.raises(SignatureError):
        verify(SCHEMES["freshdesk"], {}, BODY, ["fd"], WALL, query={"secret": "fe"})


def test_our_own_alert_signature_round_trips() -> None:
    headers = sign(QUOTADESK, BODY, "s3", int(WALL))
    assert verify(QUOTADESK, headers, BODY, ["s3"], WALL)
