"""Admitted requests settle exactly once, by request id, at the cost the upstream reported.

Streaming and not, OpenAI and Anthropic shapes, the usage chunk the gateway asked for stripped
from a client that did not ask, a client that leaves mid-stream charged for what was produced,
an upstream error metered at nothing, and the books still balanced at the end.
"""

from __future__ import annotations

import json
import socket
from decimal import Decimal

import anthropic
import httpx
import openai
from conftest import Gateway, Upstream
from sqlalchemy import select

from quotadesk.billing.pricing import DEFAULT_TABLE
from quotadesk.money import from_nanos
from quotadesk.store.schema import usage_events

MSG = [{"role": "user", "content": "hi"}]


def _cost(model: str, inp: int = 50, out: int = 20) -> int:
    return DEFAULT_TABLE.get(model).cost_nanos(inp, out, 0)


def _oa(gw: Gateway, secret: str) -> openai.OpenAI:
    client: openai.OpenAI = gw.openai(secret)
    return client


def test_chat_settles_the_reported_usage_once(gateway: Gateway) -> None:
    org = gateway.org(credit="1.00")
    secret = gateway.key(org)
    raw = _oa(gateway, secret).chat.completions.with_raw_response.create(model="gpt-4o-mini", max_tokens=20, messages=MSG)
    reply = raw.parse()
    assert reply.choices[0].message.content == "Hello."
    rid = raw.headers["x-request-id"]
    row = gateway.event(rid)
    assert (row.org_id, row.input_tokens, row.output_tokens, row.status) == (org, 50, 20, 200)
    assert row.cost == _cost("gpt-4o-mini")
    assert Decimal(raw.headers["x-quotadesk-cost"]) == from_nanos(row.cost)
    assert Decimal(raw.headers["x-quotadesk-balance"]) == Decimal("1.00") - from_nanos(row.cost)
    assert Decimal(raw.headers["x-quotadesk-hold"]) >= from_nanos(row.cost)
    with gateway.books.engine.connect() as conn:
        n = conn.execute(select(usage_events.c.request_id).where(usage_events.c.org_id == org)).all()
    assert len(n) == 1


def test_stream_settles_and_strips_the_usage_chunk_nobody_asked_for(gateway: Gateway) -> None:
    secret = gateway.key(gateway.org())
    stream = _oa(gateway, secret).chat.completions.create(model="gpt-4o-mini", messages=MSG, stream=True)
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello there."
    assert all(c.usage is None for c in chunks)  # the gateway asked for usage; the client did not
    row = gateway.event(stream.response.headers["x-request-id"])
    assert (row.input_tokens, row.output_tokens, row.cost) == (50, 20, _cost("gpt-4o-mini"))


def test_stream_keeps_the_usage_chunk_a_client_asked_for(gateway: Gateway) -> None:
    secret = gateway.key(gateway.org())
    stream = _oa(gateway, secret).chat.completions.create(
        model="gpt-4o-mini", messages=MSG, stream=True, stream_options={"include_usage": True}
    )
    usage = [c.usage for c in stream if c.usage is not None]
    assert len(usage) == 1 and usage[0].prompt_tokens == 50
    row = gateway.event(stream.response.headers["x-request-id"])
    assert row.cost == _cost("gpt-4o-mini")


def test_stream_ends_with_a_comment_carrying_the_cost(gateway: Gateway) -> None:
    secret = gateway.key(gateway.org())
    body = {"model": "gpt-4o-mini", "messages": MSG, "stream": True}
    r = httpx.post(gateway.url + "/v1/chat/completions", headers={"authorization": f"Bearer {secret}"}, json=body)
    last = [ln for ln in r.text.splitlines() if ln.startswith(": quotadesk")]
    assert len(last) == 1 and f"request_id={r.headers['x-request-id']}" in last[0]
    cost = Decimal(last[0].split("cost=")[1].split()[0])
    assert cost == from_nanos(_cost("gpt-4o-mini"))
    assert r.text.index("data: [DONE]") < r.text.index(": quotadesk")


def test_messages_settle_streaming_and_not(gateway: Gateway) -> None:
    secret = gateway.key(gateway.org())
    client: anthropic.Anthropic = gateway.anthropic(secret)
    raw = client.messages.with_raw_response.create(model="gpt-4o-mini", max_tokens=20, messages=MSG)
    assert raw.parse().content[0].text == "Hello."
    assert gateway.event(raw.headers["x-request-id"]).cost == _cost("gpt-4o-mini")
    with client.messages.stream(model="gpt-4o-mini", max_tokens=20, messages=MSG) as stream:
        text = "".join(stream.text_stream)
        rid = stream.response.headers["x-request-id"]
    assert text == "Hello there."
    row = gateway.event(rid)
    assert (row.input_tokens, row.output_tokens, row.cost) == (50, 20, _cost("gpt-4o-mini"))


def test_embeddings_settle_input_tokens(gateway: Gateway) -> None:
    # The price table has no embedding model yet; any priced model exercises the path.
    secret = gateway.key(gateway.org())
    raw = _oa(gateway, secret).embeddings.with_raw_response.create(model="gpt-4o-mini", input="hello")
    row = gateway.event(raw.headers["x-request-id"])
    assert (row.input_tokens, row.output_tokens) == (50, 0)
    assert row.cost == _cost("gpt-4o-mini", 50, 0)


def test_a_client_leaving_mid_stream_is_charged_for_what_was_produced(gateway: Gateway) -> None:
    secret = gateway.key(gateway.org())
    host, port = gateway.url.removeprefix("http://").split(":")
    body = json.dumps({"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "SLOW_STREAM"}]})
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {secret}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n{body}"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        seen = b""
        while b"Hello" not in seen:
            seen += sock.recv(65536)
    rid = seen.split(b"x-request-id: ")[1].split(b"\r\n")[0].decode()
    row = gateway.event(rid)
    assert row.status == 499 and row.output_tokens >= 1 and row.input_tokens >= 1 and row.cost > 0


def test_an_upstream_error_passes_through_and_costs_nothing(gateway: Gateway) -> None:
    secret = gateway.key(gateway.org())
    try:
        _oa(gateway, secret).chat.completions.create(
            model="gpt-4o-mini", max_tokens=5, messages=[{"role": "user", "content": "FAIL_500"}]
        )
    except openai.InternalServerError as exc:
        rid = exc.response.headers["x-request-id"]
    else:  # pragma: no cover
        raise AssertionError("expected the upstream's 500")
    row = gateway.event(rid)
    assert (row.status, row.cost) == (500, 0)


def test_the_books_balance_after_all_of_it(gateway: Gateway) -> None:
    secret = gateway.key(gateway.org())
    rid = _oa(gateway, secret).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", max_tokens=5, messages=MSG
    ).headers["x-request-id"]
    gateway.event(rid)
    report = gateway.books.verify()
    assert report.ok, report.findings


def test_a_retry_before_any_byte_keeps_the_request_id_and_charges_once(gateway: Gateway, upstream: Upstream) -> None:
    secret = gateway.key(gateway.org())
    raw = _oa(gateway, secret).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", max_tokens=5, messages=[{"role": "user", "content": "DROP_ONCE"}]
    )
    rid = raw.headers["x-request-id"]
    seen = httpx.get(upstream.url + "/seen").json()
    assert seen.count(rid) == 2  # sent twice upstream, same id
    row = gateway.event(rid)
    assert row.cost == _cost("gpt-4o-mini")
    with gateway.books.engine.connect() as conn:
        assert len(conn.execute(select(usage_events).where(usage_events.c.request_id == rid)).all()) == 1
