"""Every refusal rule of the rulebook, through the gateway, with the SDKs as clients.

For each rule ``decide`` can return (``billing.decision.Rule``: invalid/missing/revoked key,
departed member's key, suspension, model not in tier or unpriced, invoice overdue, hard limit,
credits exhausted, rate limit on RPM and on TPM) the OpenAI and the Anthropic endpoint each
answer with the rulebook's status, the endpoint's error shape, the SDK's exception class and
the headers; and the upstream never sees the request. (``payment_failed``, ``free_tier_limit``,
``overloaded`` and ``unknown`` are rules triage reads from providers' errors; ``decide`` never
returns them, so the gateway cannot refuse by them.)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anthropic
import httpx
import openai
import pytest
from conftest import ADMIN, Gateway, Upstream, start_gateway, stop
from sqlalchemy import insert

from quotadesk.store.schema import invoices


def _revoked(gw: Gateway) -> str:
    org = gw.org()
    key = gw.books.create_key(ADMIN, datetime.now(UTC), org)
    gw.books.revoke_key(ADMIN, datetime.now(UTC), key.id)
    return key.secret


def _departed(gw: Gateway) -> str:
    org = gw.org()
    secret = gw.key(org, scope="personal", owner="bob@example.com")
    gw.books.member_left(ADMIN, datetime.now(UTC), org, "bob@example.com")
    return secret


def _suspended(gw: Gateway) -> str:
    org = gw.org()
    secret = gw.key(org)
    gw.books.raise_flag(ADMIN, datetime.now(UTC), org, "fraud", source="manual")
    return secret


def _overdue(gw: Gateway) -> str:
    org = gw.org(billing_mode="invoiced", credit=None)
    now = datetime.now(UTC)
    with gw.books.engine.begin() as conn:
        conn.execute(
            insert(invoices).values(
                id=f"inv_{org}", org_id=org, period_start=now - timedelta(days=70), period_end=now - timedelta(days=40),
                amount=12_000_000_000, status="open", issued_at=now - timedelta(days=40), due_at=now - timedelta(days=10),
            )
        )
    return gw.key(org)


def _hard_limit(gw: Gateway) -> str:
    org = gw.org()
    gw.books.set_limits(ADMIN, datetime.now(UTC), org, hard="0.00001")
    return gw.key(org)


def _rpm(gw: Gateway) -> str:
    org = gw.org(rate_limits={"gpt-4o-mini": {"rpm": 1, "tpm": 1_000_000}})
    secret = gw.key(org)
    r = httpx.post(gw.url + "/v1/chat/completions", headers={"authorization": f"Bearer {secret}"},
                   json={"model": "gpt-4o-mini", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200  # the first of the minute goes through
    return secret


def _tpm(gw: Gateway) -> str:
    return gw.key(gw.org(rate_limits={"gpt-4o-mini": {"rpm": 100, "tpm": 10}}))


# (case, make key, model, status, code, openai exception, anthropic exception, anthropic type)
CASES: list[tuple[str, Callable[[Gateway], str | None], str, int, str, type, type, str]] = [
    ("unknown_key", lambda gw: "sk-qd-not-a-key-of-these-books", "gpt-4o-mini", 401, "invalid_api_key",
     openai.AuthenticationError, anthropic.AuthenticationError, "authentication_error"),
    ("missing_key", lambda gw: None, "gpt-4o-mini", 401, "invalid_api_key",
     openai.AuthenticationError, anthropic.AuthenticationError, "authentication_error"),
    ("revoked_key", _revoked, "gpt-4o-mini", 401, "invalid_api_key",
     openai.AuthenticationError, anthropic.AuthenticationError, "authentication_error"),
    ("departed_member_key", _departed, "gpt-4o-mini", 401, "invalid_api_key",
     openai.AuthenticationError, anthropic.AuthenticationError, "authentication_error"),
    ("suspended", _suspended, "gpt-4o-mini", 401, "account_suspended",
     openai.AuthenticationError, anthropic.AuthenticationError, "authentication_error"),
    ("model_not_in_tier", lambda gw: gw.key(gw.org(rate_limits=None)), "gpt-4o", 403, "model_not_available",
     openai.PermissionDeniedError, anthropic.PermissionDeniedError, "permission_error"),
    ("model_unpriced", lambda gw: gw.key(gw.org()), "no-such-model-7", 403, "model_not_available",
     openai.PermissionDeniedError, anthropic.PermissionDeniedError, "permission_error"),
    ("invoice_overdue", _overdue, "gpt-4o-mini", 402, "invoice_overdue",
     openai.APIStatusError, anthropic.APIStatusError, "billing_error"),
    ("hard_limit", _hard_limit, "gpt-4o-mini", 402, "billing_hard_limit_reached",
     openai.APIStatusError, anthropic.APIStatusError, "billing_error"),
    ("credits_exhausted", lambda gw: gw.key(gw.org(credit=None)), "gpt-4o-mini", 402, "insufficient_credits",
     openai.APIStatusError, anthropic.APIStatusError, "billing_error"),
    ("rate_limit_rpm", _rpm, "gpt-4o-mini", 429, "rate_limit_exceeded",
     openai.RateLimitError, anthropic.RateLimitError, "rate_limit_error"),
    ("rate_limit_tpm", _tpm, "gpt-4o-mini", 429, "rate_limit_exceeded",
     openai.RateLimitError, anthropic.RateLimitError, "rate_limit_error"),
]
IDS = [c[0] for c in CASES]


def _check_headers(headers: Any, status: int) -> None:
    assert headers["x-request-id"].startswith("req_")
    assert headers["x-quotadesk-cost"] == "0"
    assert "x-quotadesk-balance" in headers
    if status == 429:
        assert headers["x-should-retry"] == "true"
        assert int(headers["retry-after"]) > 0
        assert "x-ratelimit-limit-requests" in headers and "x-ratelimit-remaining-tokens" in headers
    else:
        assert headers["x-should-retry"] == "false"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_openai_endpoint_refuses_by_the_rulebook(gateway: Gateway, upstream: Upstream, case: Any) -> None:
    _, make, model, status, code, exc_openai, _, _ = case
    secret = make(gateway)
    before = upstream.hits()
    if secret is None:  # the SDK insists on a key; send none at all
        client = gateway.openai("unused", default_headers={"Authorization": ""})
    else:
        client = gateway.openai(secret)
    with pytest.raises(exc_openai) as info:
        client.chat.completions.create(model=model, max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    err = info.value
    assert isinstance(err, openai.APIStatusError) and err.status_code == status
    body = err.response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "code", "param"}
    assert body["error"]["code"] == code and body["error"]["message"]
    _check_headers(err.response.headers, status)
    assert upstream.hits() == before, "a refusal reached the upstream"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_anthropic_endpoint_refuses_by_the_rulebook(gateway: Gateway, upstream: Upstream, case: Any) -> None:
    _, make, model, status, _code, _, exc_anthropic, etype = case
    secret = make(gateway)
    before = upstream.hits()
    if secret is None:
        client = gateway.anthropic("unused", default_headers={"x-api-key": ""})
    else:
        client = gateway.anthropic(secret)
    with pytest.raises(exc_anthropic) as info:
        client.messages.create(model=model, max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    err = info.value
    assert isinstance(err, anthropic.APIStatusError) and err.status_code == status
    body = err.response.json()
    assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
    assert body["error"]["type"] == etype and body["error"]["message"]
    _check_headers(err.response.headers, status)
    assert upstream.hits() == before, "a refusal reached the upstream"


def test_messages_name_the_limit_and_when_it_resets(gateway: Gateway) -> None:
    secret = _hard_limit(gateway)
    r = httpx.post(gateway.url + "/v1/chat/completions", headers={"authorization": f"Bearer {secret}"},
                   json={"model": "gpt-4o-mini", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
    message = r.json()["error"]["message"]
    assert r.status_code == 402 and "hard limit of $0.00001" in message and "00:00 UTC" in message
    secret = _rpm(gateway)
    r = httpx.post(gateway.url + "/v1/chat/completions", headers={"authorization": f"Bearer {secret}"},
                   json={"model": "gpt-4o-mini", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 429 and "limit 1" in r.json()["error"]["message"] and r.headers["retry-after"] == "60"


def test_a_billing_refusal_served_as_429_says_do_not_retry(
    gateway: Gateway, upstream: Upstream, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the openai dialect credits run out as 429 insufficient_quota, which SDKs would retry."""

    monkeypatch.setenv("QUOTADESK_GATEWAY_DIALECT", "openai")
    db = gateway.books.engine.url.render_as_string(hide_password=False)
    url, proc = start_gateway(db, upstream, tmp_path)
    try:
        secret = gateway.key(gateway.org(credit=None))
        client = openai.OpenAI(base_url=url + "/v1", api_key=secret, max_retries=0)
        with client, pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(model="gpt-4o-mini", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
        err = info.value
        assert err.status_code == 429 and err.response.json()["error"]["code"] == "insufficient_quota"
        assert err.response.headers["x-should-retry"] == "false"
        anth = anthropic.Anthropic(base_url=url, api_key=secret, max_retries=0)
        with anth, pytest.raises(anthropic.RateLimitError) as ainfo:
            anth.messages.create(model="gpt-4o-mini", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
        assert ainfo.value.response.json()["type"] == "error"
        assert ainfo.value.response.headers["x-should-retry"] == "false"
    finally:
        assert stop(proc) == 0
