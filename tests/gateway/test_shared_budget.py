"""Many processes, one budget: gateways on one database never spend past a balance together.

Two gateways (one of them with two forked workers) share an organization whose balance pays for
about a hundred requests; racing clients spend it. The sum settled never exceeds the balance,
every admitted request is settled exactly once, the ledger balances, and what is left at the end
is less than what one request might cost plus the slices other processes still held. With Redis,
a rate limit holds across the processes.
"""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
from conftest import ADMIN, Gateway, Upstream, start_gateway, stop
from sqlalchemy import func, select

from quotadesk.billing.grants import spendable_balance
from quotadesk.store.schema import gateway_leases, usage_events

BODY = {"model": "gpt-4o-mini", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


def test_two_gateways_never_overspend_one_balance(gateway: Gateway, upstream: Upstream, tmp_path: Path) -> None:
    db = gateway.books.engine.url.render_as_string(hide_password=False)
    other_url, other = start_gateway(db, upstream, tmp_path / "b", workers=2)
    try:
        org = gateway.org(credit="0.002")  # ~100 requests at $0.0000195, each holding ~$0.000025
        secret = gateway.key(org)
        ok: list[str] = []
        refused: list[int] = []
        lock = threading.Lock()

        def client(url: str) -> None:
            with httpx.Client(headers={"authorization": f"Bearer {secret}"}, timeout=30) as c:
                for _ in range(40):
                    r = c.post(url + "/v1/chat/completions", json=BODY)
                    with lock:
                        if r.status_code == 200:
                            ok.append(r.headers["x-request-id"])
                        else:
                            assert r.status_code == 402, r.text
                            refused.append(r.status_code)

        threads = [threading.Thread(target=client, args=(u,)) for u in [gateway.url, other_url] * 6]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert ok and refused
        for rid in ok:
            gateway.event(rid)
    finally:
        assert stop(other) == 0  # its leases are returned
    with gateway.books.engine.connect() as conn:
        settled = conn.execute(select(func.sum(usage_events.c.cost), func.count()).where(usage_events.c.org_id == org)).one()
        leases = conn.execute(select(gateway_leases).where(gateway_leases.c.org_id == org)).all()
    assert settled[1] == len(ok)  # every admitted request settled, once
    assert settled[0] <= 2_000_000  # never past the balance
    org_now = gateway.books.organization(org)
    left = spendable_balance(org_now.credit_grants, org_now.created_at)
    assert left == 2_000_000 - settled[0]
    # Refusals came only at the end: what is left is within the worst cases the 12 clients could
    # have in flight (each ~$0.000025) plus what a holder still leases.
    still_leased = sum(max(0, le.amount - le.settled) for le in leases if le.status == "open")
    assert left < 25_000 * 13 + still_leased
    assert gateway.books.verify().ok


@pytest.fixture
def redis_url() -> str:
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    return url


def test_a_rate_limit_holds_across_processes_through_redis(
    gateway: Gateway, upstream: Upstream, tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUOTADESK_GATEWAY_REDIS_URL", redis_url)
    db = gateway.books.engine.url.render_as_string(hide_password=False)
    a_url, a = start_gateway(db, upstream, tmp_path / "a")
    b_url, b = start_gateway(db, upstream, tmp_path / "b")
    try:
        secret = gateway.key(gateway.org(rate_limits={"gpt-4o-mini": {"rpm": 4, "tpm": 1_000_000}}))
        h = {"authorization": f"Bearer {secret}"}
        codes = [httpx.post(a_url + "/v1/chat/completions", headers=h, json=BODY).status_code for _ in range(4)]
        assert codes == [200] * 4
        # B has not served this org yet: its first request reads the shared minute from Redis.
        for _ in range(100):
            r = httpx.post(b_url + "/v1/chat/completions", headers=h, json=BODY)
            if r.status_code == 429:
                break
            a_pushed = r.status_code  # A's counts not in Redis yet (pushed every 100 ms): try again
            assert a_pushed == 200
        assert r.status_code == 429 and r.headers["x-ratelimit-limit-requests"] == "4"
    finally:
        stop(a)
        stop(b)


def test_spend_never_passes_a_hard_limit(gateway: Gateway) -> None:
    org = gateway.org(billing_mode="invoiced", credit=None)
    from datetime import UTC, datetime


    gateway.books.set_limits(ADMIN, datetime.now(UTC), org, hard="0.0005")  # ~25 requests
    secret = gateway.key(org)
    ok, refused = [], 0
    with httpx.Client(headers={"authorization": f"Bearer {secret}"}, timeout=30) as c:
        for _ in range(60):
            r = c.post(gateway.url + "/v1/chat/completions", json=BODY)
            if r.status_code == 200:
                ok.append(r.headers["x-request-id"])
            else:
                assert r.status_code == 402 and r.json()["error"]["code"] == "billing_hard_limit_reached"
                refused += 1
    assert ok and refused
    for rid in ok:
        gateway.event(rid)
    with gateway.books.engine.connect() as conn:
        total = conn.execute(select(func.sum(usage_events.c.cost)).where(usage_events.c.org_id == org)).scalar()
    assert total <= 500_000
    assert 500_000 - total < 25_000  # refused only when the next worst case no longer fitted
