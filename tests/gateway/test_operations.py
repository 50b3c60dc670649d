"""Operating the gateway: health, metrics, bad bodies, SIGTERM, and recovery after a crash."""

from __future__ import annotations

import json
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from conftest import Gateway, Upstream, start_gateway, stop
from sqlalchemy import insert, select

from quotadesk.gateway.journal import Entry, encode, holder_file
from quotadesk.store.metering import UsageEvent
from quotadesk.store.schema import gateway_leases, usage_events


def test_healthz_and_metrics(gateway: Gateway) -> None:
    r = httpx.get(gateway.url + "/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    secret = gateway.key(gateway.org(rate_limits={"gpt-4o-mini": {"rpm": 1, "tpm": 100_000}}))
    for _ in range(2):
        httpx.post(gateway.url + "/v1/chat/completions", headers={"authorization": f"Bearer {secret}"},
                   json={"model": "gpt-4o-mini", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
    text = httpx.get(gateway.url + "/metrics").text
    assert 'quotadesk_gateway_requests_total{' in text and 'endpoint="chat",status="200"' in text
    assert 'quotadesk_gateway_refusals_total{' in text and 'rule="rate_limit"' in text
    assert "quotadesk_gateway_upstream_seconds_bucket" in text and "quotadesk_gateway_holds_open" in text


def test_models_lists_what_the_tier_may_call(gateway: Gateway) -> None:
    secret = gateway.key(gateway.org(rate_limits=None))
    r = httpx.get(gateway.url + "/v1/models", headers={"authorization": f"Bearer {secret}"})
    ids = {m["id"] for m in r.json()["data"]}
    assert r.status_code == 200 and "gpt-4o-mini" in ids and "gpt-4o" not in ids
    bad = httpx.get(gateway.url + "/v1/models", headers={"authorization": "Bearer sk-nope-000000000000"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_api_key"


BAD = [
    ("/v1/chat/completions", b"{not json", "body"),
    ("/v1/chat/completions", b"[1, 2]", "body"),
    ("/v1/chat/completions", b'{"model": 5, "messages": [{"role": "user", "content": "x"}]}', "model"),
    ("/v1/chat/completions", b'{"model": "gpt-4o-mini", "messages": "hi"}', "messages"),
    ("/v1/chat/completions", b'{"model": "gpt-4o-mini", "messages": [{}], "stream": "yes"}', "stream"),
    ("/v1/chat/completions", b'{"model": "gpt-4o-mini", "messages": [{}], "max_tokens": -1}', "max_tokens"),
    ("/v1/messages", b"\xff\xfe", "body"),
    ("/v1/messages", b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}', "max_tokens"),
    ("/v1/messages", b'{"model": "gpt-4o-mini", "max_tokens": "10", "messages": [{}]}', "max_tokens"),
    ("/v1/embeddings", b'{"model": "gpt-4o-mini", "input": 3}', "input"),
]


@pytest.mark.parametrize(("path", "body", "field"), BAD)
def test_a_bad_body_is_a_400_naming_the_field(gateway: Gateway, upstream: Upstream, path: str, body: bytes, field: str) -> None:
    before = upstream.hits()
    r = httpx.post(gateway.url + path, content=body, headers={"authorization": "Bearer sk-x", "content-type": "application/json"})
    assert r.status_code == 400
    doc = r.json()
    if path == "/v1/messages":
        assert doc["type"] == "error" and doc["error"]["type"] == "invalid_request_error"
        assert doc["error"]["message"].startswith(field)
    else:
        assert doc["error"]["param"] == field and doc["error"]["type"] == "invalid_request_error"
    assert upstream.hits() == before


def test_unknown_paths_and_methods(gateway: Gateway) -> None:
    assert httpx.get(gateway.url + "/v1/nothing").status_code == 404
    assert httpx.get(gateway.url + "/v1/chat/completions").status_code == 405


def test_sigterm_lets_requests_in_flight_finish_and_settle(gateway: Gateway, upstream: Upstream,
                                                            tmp_path: Path) -> None:
    db = str(gateway.books.engine.url.render_as_string(hide_password=False))
    url, proc = start_gateway(db, upstream, tmp_path)
    secret = gateway.key(gateway.org())
    out: dict[str, httpx.Response] = {}
    before = upstream.hits()

    def call() -> None:
        out["r"] = httpx.post(url + "/v1/chat/completions", headers={"authorization": f"Bearer {secret}"}, timeout=30,
                              json={"model": "gpt-4o-mini", "max_tokens": 5,
                                    "messages": [{"role": "user", "content": "SLOW_ANSWER"}]})

    t = threading.Thread(target=call)
    t.start()
    while upstream.hits() == before:  # the request is at the upstream
        pass
    proc.send_signal(signal.SIGTERM)
    t.join()
    assert stop(proc) == 0
    r = out["r"]
    assert r.status_code == 200
    row = gateway.event(r.headers["x-request-id"])
    assert row.cost > 0
    with gateway.books.engine.connect() as conn:
        leases = conn.execute(select(gateway_leases).where(gateway_leases.c.org_id == row.org_id)).all()
    assert leases and all(le.status == "returned" for le in leases)
    assert not list((tmp_path / "journal").glob("*.jsonl"))  # everything committed: journal removed


def test_start_up_replays_a_dead_holders_journal_and_releases_its_lease(gateway: Gateway, upstream: Upstream,
                                                                         tmp_path: Path) -> None:
    org = gateway.org()
    now = datetime.now(UTC)
    holder = "elsewhere:4242:dead01"
    with gateway.books.engine.begin() as conn:
        conn.execute(insert(gateway_leases).values(
            id="lease_dead01", org_id=org, holder=holder, amount=500_000_000, settled=0, created_at=now,
            renewed_at=now, expires_at=now + timedelta(minutes=5), status="open"))
    folder = tmp_path / "journal"
    folder.mkdir()
    event = UsageEvent(request_id="req_dead01_1", org_id=org, model="gpt-4o-mini", ts=now, input_tokens=50,
                       output_tokens=20, status=200, hold_id="lease_dead01")
    torn = b'["req_dead01_2", "' + org.encode()  # killed mid-write: skipped
    holder_file(folder, holder).write_bytes(
        json.dumps({"holder": holder}).encode() + b"\n" + encode(Entry(event, "lease_dead01", 19_500)) + torn
    )
    db = str(gateway.books.engine.url.render_as_string(hide_password=False))
    _, proc = start_gateway(db, upstream, tmp_path)  # healthz ok means recovery ran
    try:
        with gateway.books.engine.connect() as conn:
            row = conn.execute(select(usage_events).where(usage_events.c.request_id == "req_dead01_1")).one()
            lease = conn.execute(select(gateway_leases).where(gateway_leases.c.id == "lease_dead01")).one()
        assert row.cost == 19_500 and lease.status == "released"
        assert "1 journaled settles replayed" in lease.closed_reason
        assert not holder_file(folder, holder).exists()
    finally:
        assert stop(proc) == 0
