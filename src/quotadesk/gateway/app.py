"""The request path: read the request, admit it, send it upstream, meter it, answer.

One coroutine per request (``Gateway.handle``). For a proxied call:

1. the body is parsed and bounded (``estimate``): a bad one is a 400 naming the field;
2. the key (``Authorization: Bearer`` or, on ``/v1/messages``, ``x-api-key``) is looked up by
   the hash of the secret (cached), and the rulebook decides (``budget``); a refusal is
   answered here, never sent upstream;
3. the request goes upstream on a kept-alive connection (``upstream``), non-streaming answers
   read whole, streaming ones relayed event by event (``stream``);
4. the usage the upstream reports is settled: costed, journaled (durable against a crash),
   counted on the lease and queued for the group commit, and only then is the answer (or
   the stream's last event) released to the client.

Every answer carries ``x-request-id``, ``x-quotadesk-cost``, ``x-quotadesk-hold`` and
``x-quotadesk-balance`` (see docs/gateway.md).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from quotadesk.billing.decision import Deny, Rule
from quotadesk.billing.keys import hash_secret, redact
from quotadesk.billing.model import BillingMode, Organization
from quotadesk.billing.policy import RATE_WINDOW_S, AdmissionRequest, _rate_limit
from quotadesk.billing.pricing import DEFAULT_TABLE, PriceTable, UnknownModelError
from quotadesk.billing.tiers import DEFAULT_TIERS, TierTable
from quotadesk.gateway import estimate
from quotadesk.gateway.accesslog import AccessLog
from quotadesk.gateway.budget import Budgets, OrgBudget
from quotadesk.gateway.config import GatewayConfig, Upstream
from quotadesk.gateway.errors import ANTHROPIC, OPENAI, deny_answer, error_answer
from quotadesk.gateway.http import Connection, Request
from quotadesk.gateway.journal import Entry, Journal
from quotadesk.gateway.metrics import Metrics
from quotadesk.gateway.rates import RateWindows
from quotadesk.gateway.settlement import SettlementWriter
from quotadesk.gateway.stream import Relay
from quotadesk.gateway.upstream import UpstreamError, UpstreamPool
from quotadesk.money import from_nanos
from quotadesk.store.metering import UsageEvent

log = logging.getLogger("quotadesk.gateway")

JSON = ("content-type", "application/json")
ENDPOINTS = {
    "/v1/chat/completions": ("chat", OPENAI),
    "/v1/messages": ("messages", ANTHROPIC),
    "/v1/embeddings": ("embeddings", OPENAI),
}


def dollars(nanos: int) -> str:
    return format(from_nanos(nanos).normalize(), "f")


class Admitted:
    """An admitted request in flight: its budget, hold, window entry and what it asked for."""

    __slots__ = ("budget", "cost_hint", "entry", "hold", "key_id", "key_label", "model", "settled")

    def __init__(self, budget: OrgBudget, hold: int, entry: list[float], model: str,
                 key_id: str | None, key_label: str) -> None:
        self.budget = budget
        self.hold = hold
        self.entry = entry
        self.model = model
        self.key_id = key_id
        self.key_label = key_label
        self.cost_hint = 0
        self.settled = False


class Gateway:
    """Everything one gateway process shares across requests."""

    def __init__(
        self,
        config: GatewayConfig,
        writer: SettlementWriter,
        journal: Journal | None,
        budgets: Budgets,
        rates: RateWindows,
        pool: UpstreamPool,
        *,
        access_log: AccessLog | None = None,
        prices: PriceTable = DEFAULT_TABLE,
        tiers: TierTable = DEFAULT_TIERS,
    ) -> None:
        self.config = config
        self.writer = writer
        self.journal = journal
        self.budgets = budgets
        self.rates = rates
        self.pool = pool
        self.access_log = access_log
        self.prices = prices
        self.tiers = tiers
        self.metrics = Metrics()
        # Request ids: a random prefix per process (made here, after any fork) and a counter. Unique
        # across processes and restarts without a system call per request.
        self._rid_prefix = "req_" + os.urandom(8).hex()
        self._rid_next = itertools.count(1).__next__
        self.ready = False
        self.inflight = 0
        self.metrics.gauges["holds_open"] = lambda: float(self.inflight)
        self.metrics.gauges["leases_open"] = lambda: float(
            sum(1 for b in budgets.orgs.values() if b.lease_id is not None)
        )
        self.metrics.gauges["settles_committed"] = lambda: float(writer.committed)
        self.metrics.gauges["settle_batches"] = lambda: float(writer.batches)
        self.metrics.gauges["settles_failed"] = lambda: float(len(writer.failed))

    # ------------------------------------------------------------------ routing

    async def handle(self, req: Request, conn: Connection) -> None:
        path = req.path
        try:
            ep = ENDPOINTS.get(path)
            if ep is not None and req.method == "POST":
                await self.proxy(req, conn, ep[0], ep[1])
            elif path == "/healthz" and req.method == "GET":
                if self.ready:
                    conn.send(200, [JSON], b'{"status":"ok"}')
                else:
                    conn.send(503, [JSON], b'{"status":"starting"}')
            elif path == "/metrics" and req.method == "GET":
                conn.send(200, [("content-type", "text/plain; version=0.0.4")], self.metrics.render())
            elif path == "/v1/models" and req.method == "GET":
                await self.models(req, conn)
            elif ep is not None or path in ("/v1/models", "/healthz", "/metrics"):
                conn.send(405, [JSON], error_answer(OPENAI, 405, f"{req.method} is not allowed on {path}"))
            else:
                shape = ANTHROPIC if path.startswith("/v1/messages") else OPENAI
                conn.send(404, [JSON], error_answer(shape, 404, f"no such endpoint: {path}"))
        except Exception:
            log.exception("request %s %s failed", req.method, path)
            if not conn.closed:
                conn.send(500, [JSON], error_answer(OPENAI, 500, "internal error in the gateway"))

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _secret(req: Request, shape: str) -> str | None:
        auth = req.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip() or None
        if shape == ANTHROPIC:
            return req.headers.get("x-api-key", "").strip() or None
        return None

    def _base_headers(self, rid: str, b: OrgBudget | None, cost: int, hold: int) -> list[tuple[str, str]]:
        bal = b.remaining_balance() if b is not None else None
        if b is not None and b.org.billing_mode == BillingMode.INVOICED:
            balance = "unlimited"
        else:
            balance = dollars(bal or 0)
        return [
            ("x-request-id", rid),
            ("x-quotadesk-cost", dollars(cost)),
            ("x-quotadesk-hold", dollars(hold)),
            ("x-quotadesk-balance", balance),
        ]

    def _rate_headers(self, org: Organization, model: str, reqs: int, toks: int) -> list[tuple[str, str]]:
        limit = _rate_limit(org, model, self.tiers)
        if limit is None:
            return []
        out: list[tuple[str, str]] = []
        if limit.rpm is not None:
            out += [
                ("x-ratelimit-limit-requests", str(limit.rpm)),
                ("x-ratelimit-remaining-requests", str(max(0, limit.rpm - reqs))),
                ("x-ratelimit-reset-requests", f"{RATE_WINDOW_S}s"),
            ]
        if limit.tpm is not None:
            out += [
                ("x-ratelimit-limit-tokens", str(limit.tpm)),
                ("x-ratelimit-remaining-tokens", str(max(0, limit.tpm - toks))),
                ("x-ratelimit-reset-tokens", f"{RATE_WINDOW_S}s"),
            ]
        return out

    def _log(self, rid: str, req: Request, status: int, started: float, **fields: Any) -> None:
        if self.access_log is not None:
            self.access_log.write(rid, req.method, req.path, status, time.perf_counter() - started, fields)

    # ------------------------------------------------------------------ admission

    async def admit(
        self, secret: str | None, est: estimate.Estimate, now: datetime
    ) -> tuple[Admitted | None, Deny | None, OrgBudget | None, list[tuple[str, str]]]:
        """Decide; on Allow, hold the worst case on the lease and count the rate window."""
        secret_hash = hash_secret(secret) if secret else None
        org_id = await self.budgets.org_of(secret_hash) if secret_hash else None
        request = AdmissionRequest(
            model=est.model,
            secret_hash=secret_hash,
            estimated_input_tokens=est.prompt_bound,
            estimated_output_tokens=est.output_bound,
        )
        if org_id is None:
            # the rulebook names an unknown key by its label: the redacted secret, never the secret
            request = replace(request, key_id=redact(secret) if secret else None)
            d = self.budgets.decide_for(None, request, 0, now)
            assert isinstance(d, Deny)
            return None, d, None, []
        try:
            cost = self.prices.cost_nanos(est.model, est.prompt_bound, est.output_bound)
        except UnknownModelError:
            cost = 0  # decide refuses an unpriced model by its own rule
        b = await self.budgets.budget(org_id)
        b.last_used = time.monotonic()
        t = time.time()
        reqs, toks = self.rates.counts(org_id, est.model, t)
        request = AdmissionRequest(
            model=est.model,
            secret_hash=secret_hash,
            estimated_input_tokens=est.prompt_bound,
            estimated_output_tokens=est.output_bound,
            requests_in_last_minute=reqs,
            tokens_in_last_minute=toks,
        )
        d = self.budgets.decide_for(b, request, cost, now)
        if not isinstance(d, Deny) and d.hold > b.left:
            await self.budgets.renew(b, d.hold)
            d = self.budgets.decide_for(b, request, cost, now)
            if not isinstance(d, Deny) and d.hold > b.left:
                d = self.budgets.over_lease(b, request, cost, now)
        self.budgets.notices(b, d, now)
        tokens = est.prompt_bound + est.output_bound
        if isinstance(d, Deny):
            return None, d, b, self._rate_headers(b.org, est.model, reqs, toks)
        b.inflight += d.hold
        b.last_cost = d.hold
        entry = self.rates.add(org_id, est.model, t, tokens)
        key = next((k for k in b.org.api_keys if k.secret_hash == secret_hash), None)
        label = key.redacted if key is not None and key.redacted else "***"
        rate = self._rate_headers(b.org, est.model, reqs + 1, toks + tokens)
        return Admitted(b, d.hold, entry, est.model, key.id if key else None, label), None, b, rate

    def settle(self, a: Admitted, rid: str, usage: estimate.Usage, status: int, ip: str) -> int:
        """Cost the usage, journal it, count it on the lease and queue it: returns the cost."""
        try:
            cost = self.prices.get(a.model).cost_nanos(usage.input, usage.output, usage.cached)
        except UnknownModelError:  # pragma: no cover - decide refused unpriced models
            cost = 0
        if a.settled:  # pragma: no cover - a guard: each request settles once
            return 0
        a.settled = True
        b = a.budget
        b.inflight -= a.hold
        b.settled_total += cost
        self.inflight -= 1
        event = UsageEvent(
            request_id=rid,
            org_id=b.org_id,
            model=a.model,
            ts=datetime.now(UTC),
            input_tokens=usage.input,
            output_tokens=usage.output,
            cached_tokens=usage.cached,
            key_id=a.key_id,
            status=status,
            ip=ip or None,
            hold_id=b.lease_id,
        )
        entry = Entry(event, b.lease_id, cost)
        if self.journal is not None:
            self.journal.append(entry)
        self.writer.settle(entry)
        self.rates.adjust(b.org_id, a.model, a.entry, usage.input + usage.output + usage.cached)
        return cost

    # ------------------------------------------------------------------ proxying

    async def proxy(self, req: Request, conn: Connection, kind: str, shape: str) -> None:
        started = time.perf_counter()
        rid = f"{self._rid_prefix}{self._rid_next():08x}"
        try:
            body = json.loads(req.body)
        except (ValueError, UnicodeDecodeError):
            self._bad(conn, req, rid, shape, started, "body: not valid JSON", "body")
            return
        if not isinstance(body, dict):
            self._bad(conn, req, rid, shape, started, "body: expected a JSON object", "body")
            return
        try:
            if kind == "chat":
                est = estimate.chat(body, len(req.body), 0)
                if est.rewrite and "max_completion_tokens" in est.rewrite:
                    bound = self.config.output_bound(est.model)
                    est = estimate.chat(body, len(req.body), bound)
            elif kind == "messages":
                est = estimate.messages(body, len(req.body))
            else:
                est = estimate.embeddings(body, len(req.body))
        except estimate.BadRequest as exc:
            self._bad(conn, req, rid, shape, started, exc.message, exc.param)
            return
        api = ANTHROPIC if kind == "messages" else OPENAI
        up = self.config.upstream_for(api, est.model)
        if up is None:
            msg = f"no upstream is configured for the {api} API (start with --upstream {api}=URL)"
            conn.send(503, [JSON, ("x-request-id", rid)], error_answer(shape, 503, msg))
            self.metrics.request(kind, 503)
            return
        now = datetime.now(UTC)
        admitted, deny, b, rate = await self.admit(self._secret(req, shape), est, now)
        if deny is not None:
            status, headers, payload = deny_answer(deny, self.config.dialect, shape)
            out = [*headers.items(), *self._base_headers(rid, b, 0, 0), *rate]
            conn.send(status, out, payload)
            self.metrics.request(kind, status)
            self.metrics.refusal(str(deny.rule))
            self._log(rid, req, status, started, org=b.org_id if b else None, model=est.model, rule=str(deny.rule))
            return
        assert admitted is not None and b is not None
        self.inflight += 1
        send_body = req.body
        if est.rewrite:
            send_body = json.dumps({**body, **est.rewrite}, separators=(",", ":")).encode()
        up_headers = self._upstream_headers(req, up, rid, api)
        try:
            if est.stream:
                await self._stream(req, conn, kind, shape, up, up_headers, send_body, admitted, rid, rate, started, body)
            else:
                await self._whole(req, conn, kind, shape, up, up_headers, send_body, admitted, rid, rate, started)
        finally:
            if not admitted.settled:  # a bug or a cancellation: the hold must not leak
                self.settle(admitted, rid, estimate.Usage(0, 0, 0), 500, conn.peer)

    def _upstream_headers(self, req: Request, up: Upstream, rid: str, api: str) -> list[tuple[str, str]]:
        h = [("content-type", "application/json"), ("x-request-id", rid)]
        if api == ANTHROPIC:
            h.append(("anthropic-version", req.headers.get("anthropic-version", "2023-06-01")))
            beta = req.headers.get("anthropic-beta")
            if beta:
                h.append(("anthropic-beta", beta))
            if up.api_key:
                h.append(("x-api-key", up.api_key))
        elif up.api_key:
            h.append(("authorization", f"Bearer {up.api_key}"))
        return h

    def _bad(self, conn: Connection, req: Request, rid: str, shape: str, started: float,
             message: str, param: str | None) -> None:
        conn.send(400, [JSON, ("x-request-id", rid)], error_answer(shape, 400, message, param=param))
        self.metrics.request(ENDPOINTS.get(req.path, ("?",))[0], 400)
        self._log(rid, req, 400, started, error=message)

    def _usage_of(self, kind: str, status: int, payload: bytes) -> estimate.Usage:
        if status >= 400:
            return estimate.Usage(0, 0, 0)
        try:
            doc = json.loads(payload)
        except ValueError:
            return estimate.Usage(0, 0, 0)
        usage = doc.get("usage") if isinstance(doc, dict) else None
        found = estimate.anthropic_usage(usage) if kind == "messages" else estimate.openai_usage(usage)
        return found or estimate.Usage(0, 0, 0)

    async def _whole(self, req: Request, conn: Connection, kind: str, shape: str, up: Upstream,
                     headers: list[tuple[str, str]], send_body: bytes, a: Admitted, rid: str,
                     rate: list[tuple[str, str]], started: float) -> None:
        t0 = time.perf_counter()
        try:
            ex, _ = await self.pool.send(up, "POST", req.path, headers, send_body)
            await ex.done
        except UpstreamError as exc:
            self.metrics.upstream(kind, time.perf_counter() - t0)
            cost = self.settle(a, rid, estimate.Usage(0, 0, 0), 502, conn.peer)
            out = [JSON, *self._base_headers(rid, a.budget, cost, a.hold)]
            conn.send(502, out, error_answer(shape, 502, f"upstream error: {exc}"))
            self.metrics.request(kind, 502)
            self._log(rid, req, 502, started, org=a.budget.org_id, key=a.key_label, model=a.model, error=str(exc))
            return
        self.metrics.upstream(kind, time.perf_counter() - t0)
        payload = ex.body
        usage = self._usage_of(kind, ex.status, payload)
        cost = self.settle(a, rid, usage, ex.status, conn.peer)
        ctype = ex.headers.get("content-type", "application/json")
        out = [("content-type", ctype), *self._base_headers(rid, a.budget, cost, a.hold), *rate]
        conn.send(ex.status, out, payload)
        self.metrics.request(kind, ex.status)
        self._log(rid, req, ex.status, started, org=a.budget.org_id, key=a.key_label, model=a.model,
                  cost=dollars(cost), input_tokens=usage.input, output_tokens=usage.output)

    async def _stream(self, req: Request, conn: Connection, kind: str, shape: str, up: Upstream,
                      headers: list[tuple[str, str]], send_body: bytes, a: Admitted, rid: str,
                      rate: list[tuple[str, str]], started: float, body: dict[str, Any]) -> None:
        opts = body.get("stream_options")
        wants_usage = isinstance(opts, dict) and bool(opts.get("include_usage"))
        head = [*self._base_headers(rid, a.budget, a.hold, a.hold), *rate]
        relay = Relay(
            conn, kind, head, wants_usage,
            lambda usage, status: self._stream_settled(a, rid, usage, status, conn),
            estimate.guess_tokens(len(req.body)),
        )
        t0 = time.perf_counter()
        uconn = None
        conn.on_close = relay.client_gone
        try:
            ex, uconn = await self.pool.send(up, "POST", req.path, headers, send_body, sink=relay.feed)
            relay.upstream = uconn
            if conn.closed:
                uconn.abort()
            await ex.done
            status = ex.status
        except UpstreamError as exc:
            status = 499 if conn.closed else 502
            if not relay.settled and not relay.head_sent:
                cost = self.settle(a, rid, relay.usage_so_far(), status, conn.peer)
                relay.settled = True
                out = [JSON, *self._base_headers(rid, a.budget, cost, a.hold)]
                conn.send(502, out, error_answer(shape, 502, f"upstream error: {exc}"))
            elif not relay.settled:
                relay.finish(status)
        finally:
            conn.on_close = None
        self.metrics.upstream(kind, time.perf_counter() - t0)
        if not relay.settled:
            relay.finish(status)
        if not conn.closed:
            relay.end()
        self.metrics.request(kind, status)
        self._log(rid, req, status, started, org=a.budget.org_id, key=a.key_label, model=a.model,
                  cost=dollars(relay.cost), stream=True)

    def _stream_settled(self, a: Admitted, rid: str, usage: estimate.Usage, status: int, conn: Connection) -> tuple[int, str]:
        cost = self.settle(a, rid, usage, status, conn.peer)
        bal = a.budget.remaining_balance()
        return cost, f"request_id={rid} cost={dollars(cost)} balance={'unlimited' if bal is None else dollars(bal)}"

    # ------------------------------------------------------------------ models

    async def models(self, req: Request, conn: Connection) -> None:
        secret = self._secret(req, OPENAI) or req.headers.get("x-api-key") or None
        now = datetime.now(UTC)
        rid = f"{self._rid_prefix}{self._rid_next():08x}"
        est = estimate.Estimate(model="gpt-4o-mini", stream=False, prompt_bound=0, output_bound=0)
        secret_hash = hash_secret(secret) if secret else None
        org_id = await self.budgets.org_of(secret_hash) if secret_hash else None
        b = await self.budgets.budget(org_id) if org_id else None
        request = AdmissionRequest(model=est.model, secret_hash=secret_hash)
        d = self.budgets.decide_for(b, request, 0, now) if b is None else None
        if b is not None:
            from quotadesk.billing.keys import find_key, key_usable

            key = find_key(b.org.api_keys, secret_hash=secret_hash)
            if key_usable(key) is not None:
                d = self.budgets.decide_for(None, request, 0, now)
        if d is not None and isinstance(d, Deny) and d.rule in (Rule.INVALID_KEY, Rule.DEPARTED_MEMBER_KEY):
            status, headers, payload = deny_answer(d, self.config.dialect, OPENAI)
            conn.send(status, [*headers.items(), ("x-request-id", rid)], payload)
            return
        assert b is not None
        if b.org.model_access is not None:
            names = sorted(b.org.model_access)
        else:
            spec = self.tiers.get(b.org.tier.current)
            names = sorted(spec.models) if spec.models is not None else sorted(self.prices.names())
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "quotadesk"} for n in names]
        conn.send(200, [JSON, ("x-request-id", rid)], json.dumps({"object": "list", "data": data}).encode())
