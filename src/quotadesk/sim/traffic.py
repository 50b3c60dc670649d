"""Synthetic traffic: streams of requests, bucketed per hour, driven through the real books.

A ``Stream`` is one client of one key calling one model: requests per day, which hours of
the day it works, tokens per request, growth, weekends. Each day it becomes hourly
``Bucket``s (one usage row each, ``requests`` > 1), so a simulated month of a dozen
organizations is a few thousand rows, not millions.

``Driver`` pushes buckets through the books exactly as a gateway would, with one saving:

- **Admission** is ``Books.admit`` (the rulebook's ``decide`` against the store). It runs for
  the first bucket of every key and model after the books were last read: after anything
  happened to the organization (a flag, a card, a revoked key, a month close), when a grant
  expires or a month begins, while the last answer was a refusal, and whenever the
  projected balance or month-to-date spend comes near an edge (the balance running out, the
  auto-recharge threshold, the hard limit). In between, nothing the rulebook looks at has
  moved, so the answer cannot change and buckets are metered without asking again; a
  refusal stands the same way (except a rate limit, which lifts within the minute). Every 402/401/403/429
  in the simulation is therefore a ``Deny`` the rulebook returned; the driver keeps them
  (``denies``) so a ticket can paste the one the customer saw.
- A refused bucket is logged with the refusal's status and no tokens (it cost nothing).
- When the balance runs out inside a bucket, the bucket is split: the requests the
  remaining credit covers (each admitted only while the balance still covers its
  estimate) are metered, and the rest are refused by a real ``admit``.
- **Metering** is ``Books.record_usage_batch``: exact cost, exactly once, and auto-recharge
  after every batch. Events wait in a per-organization buffer that is flushed before
  anything reads that organization (admission, an action, the month close, an export).

Provider trouble (a status-page incident) is not the rulebook's: during one, a share of
each bucket fails with a 5xx from the provider, and a stream that retries without backoff
sends the same bodies again at once (a retry storm).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from quotadesk.billing.decision import Deny, Rule
from quotadesk.billing.grants import spendable_balance
from quotadesk.billing.limits import month_start
from quotadesk.billing.model import BillingMode
from quotadesk.store import ledger
from quotadesk.store.admission import Admitted
from quotadesk.store.books import Books
from quotadesk.store.db import transaction
from quotadesk.store.metering import UsageEvent
from quotadesk.store.payments import open_holds
from quotadesk.store.snapshot import load_grants, org_row

TRANSIENT = frozenset({Rule.RATE_LIMIT})
"""Refusals that lift by themselves within the minute: asked again for every bucket."""

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

BUSINESS_HOURS: tuple[int, ...] = (8, 9, 10, 11, 12, 13, 14, 15, 16, 17)
ALL_DAY: tuple[int, ...] = tuple(range(24))
EVENING: tuple[int, ...] = (18, 19, 20, 21, 22)
CI_HOURS: tuple[int, ...] = (2, 9, 13, 17)


@dataclass(frozen=True, slots=True)
class Stream:
    """One client's requests: ``per_day`` requests on a weekday at ``start`` (``growth`` per
    day compounds, ``weekend`` scales Saturdays and Sundays) spread over ``hours`` (UTC),
    each with about ``input_tokens``/``output_tokens``/``cached_tokens``. ``minute`` places
    the bucket rows inside their hour; ``bodies`` says whether requests carry distinct
    fingerprints (``"distinct"``), none (``""``), or repeat a few bodies (``"repeat"``).
    ``retries`` is how many times a failed request is sent again at once (0: it backs off)."""

    key: str
    model: str
    start: datetime
    end: datetime
    per_day: float
    hours: tuple[int, ...] = BUSINESS_HOURS
    input_tokens: int = 900
    output_tokens: int = 300
    cached_tokens: int = 0
    growth: float = 0.0
    weekend: float = 0.35
    minute: int = 0
    ip: str = "203.0.113.10"
    bodies: str = ""
    retries: int = 0
    jitter: float = 0.12
    max_output: int = 0

    def estimate_output(self) -> int:
        """What the gateway holds for output: the client's max_tokens, above the typical answer."""
        return self.max_output or max(64, -(-self.output_tokens * 2 // 64) * 64)


@dataclass(frozen=True, slots=True)
class Bucket:
    """One hour of one stream: ``requests`` requests with these token totals at ``ts``."""

    org_id: str
    stream: Stream
    ts: datetime
    requests: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    fingerprint: str = ""
    status: int = 200

    def per_request(self) -> tuple[int, int, int]:
        n = max(1, self.requests)
        return (
            -(-self.input_tokens // n),
            -(-self.output_tokens // n),
            -(-self.cached_tokens // n),
        )

    def part(self, requests: int, status: int | None = None) -> Bucket:
        """The first ``requests`` of this bucket (tokens pro rata); refused parts carry none."""
        if status is not None and status >= 400:
            return replace(
                self, requests=requests, input_tokens=0, output_tokens=0, cached_tokens=0, status=status
            )
        n = max(1, self.requests)
        return replace(
            self,
            requests=requests,
            input_tokens=self.input_tokens * requests // n,
            output_tokens=self.output_tokens * requests // n,
            cached_tokens=self.cached_tokens * requests // n,
        )


def _day_volume(s: Stream, day: datetime, rng: random.Random) -> float:
    days = (day - utc_day(s.start)).days
    volume = s.per_day * (1.0 + s.growth) ** max(0, days)
    if day.weekday() >= 5:
        volume *= s.weekend
    return volume * (1.0 + rng.uniform(-s.jitter, s.jitter))


_SHAPE = {h: w for h, w in zip(range(24), (
    0.35, 0.3, 0.3, 0.3, 0.35, 0.45, 0.6, 0.8, 1.0, 1.1, 1.15, 1.15,
    1.1, 1.15, 1.2, 1.15, 1.1, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4,
), strict=True)}  # fmt: skip
"""Relative load by hour of day: a working day's curve, flattened for round-the-clock streams."""


def fingerprint(*parts: object) -> str:
    """A stable 16-hex body hash (identical requests share it)."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def day_buckets(org_id: str, s: Stream, day: datetime, rng: random.Random) -> list[Bucket]:
    """The buckets of stream ``s`` on ``day`` (00:00 UTC), within the stream's active span."""
    volume = _day_volume(s, day, rng)
    hours = [h for h in s.hours if s.start <= day + h * HOUR + s.minute * timedelta(minutes=1) < s.end]
    if not hours or volume <= 0:
        return []
    weights = [_SHAPE[h] for h in s.hours]
    total_w = sum(weights)
    out = []
    for h in hours:
        share = _SHAPE[h] / total_w
        n = int(volume * share * rng.uniform(0.85, 1.15) + rng.random())
        if n <= 0:
            continue
        ts = day + h * HOUR + timedelta(minutes=s.minute, seconds=rng.randrange(0, 50))
        scale = rng.uniform(0.9, 1.1)
        fp = ""
        if s.bodies == "distinct":
            fp = fingerprint(org_id, s.key, ts.isoformat())
        elif s.bodies == "repeat":
            fp = fingerprint(org_id, s.key, "body", rng.randrange(3))
        out.append(
            Bucket(
                org_id=org_id,
                stream=s,
                ts=ts,
                requests=n,
                input_tokens=int(n * s.input_tokens * scale),
                output_tokens=int(n * s.output_tokens * rng.uniform(0.85, 1.15)),
                cached_tokens=int(n * s.cached_tokens * scale),
                fingerprint=fp,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Outage:
    """Provider trouble between ``start`` and ``end``: ``fail_share`` of requests get ``status``.

    ``org_id``/``key`` narrow it to one client (a request shape the provider keeps timing out
    on); without them it is a status-page incident and every organization meets it."""

    start: datetime
    end: datetime
    fail_share: float
    status: int = 503
    org_id: str | None = None
    key: str | None = None

    def covers(self, b: Bucket) -> bool:
        if self.org_id is not None and self.org_id != b.org_id:
            return False
        if self.key is not None and self.key != b.stream.key:
            return False
        return self.start <= b.ts < self.end


@dataclass(frozen=True, slots=True)
class Refusal:
    """A Deny the rulebook returned to a request of this organization, and when."""

    at: datetime
    key: str
    model: str
    deny: Deny


@dataclass
class _OrgState:
    """What the driver projects for one organization between two reads of the books."""

    valid_until: datetime | None = None
    balance: int = 0
    mtd: int = 0
    hard: int | None = None
    threshold: int | None = None
    prepaid: bool = True
    projected: int = 0
    admitted: set[tuple[str, str]] = field(default_factory=set)
    last_denied: set[tuple[str, str]] = field(default_factory=set)
    standing: dict[tuple[str, str], Deny] = field(default_factory=dict)
    dirty: bool = True


@dataclass
class Driver:
    """Drives buckets through ``books`` (see the module docstring). ``secrets`` maps
    ``(org_id, key name)`` to the secret the client presents and ``key_ids`` to its id."""

    books: Books
    secrets: dict[tuple[str, str], str] = field(default_factory=dict)
    key_ids: dict[tuple[str, str], str] = field(default_factory=dict)
    outages: list[Outage] = field(default_factory=list)
    pending: dict[str, list[UsageEvent]] = field(default_factory=dict)
    denies: dict[str, list[Refusal]] = field(default_factory=dict)
    watchers: dict[str, list[Callable[[Refusal], bool]]] = field(default_factory=dict)
    admits: int = 0
    _state: dict[str, _OrgState] = field(default_factory=dict)
    _seq: int = 0

    # ---------------------------------------------------------------- bookkeeping

    def _rid(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}_{self._seq:08d}"

    def touch(self, org_id: str) -> None:
        """Something happened to the organization: read it again, and ask admission again."""
        st = self._state.setdefault(org_id, _OrgState())
        st.dirty = True
        st.admitted.clear()

    def flush(self, org_id: str | None = None, now: datetime | None = None) -> None:
        """Meter the buffered events (of one organization, or all) in one batch. The projection
        already counts them, so nothing needs reading back, except where auto-recharge may
        have run (the projection crossed its threshold: that bucket was an edge, read after)."""
        orgs = [org_id] if org_id is not None else sorted(self.pending)
        batch: list[UsageEvent] = []
        for o in orgs:
            batch.extend(self.pending.pop(o, ()))
        if not batch:
            return
        at = max(e.ts for e in batch)
        self.books.record_usage_batch(max(at, now) if now is not None else at, batch)

    def _read(self, org_id: str, now: datetime) -> _OrgState:
        """The books' figures for ``org_id`` at ``now`` (after metering what is buffered)."""
        self.flush(org_id, now)
        st = self._state.setdefault(org_id, _OrgState())
        with transaction(self.books.engine) as conn:
            row = org_row(conn, org_id)
            grants = load_grants(conn, org_id)
            held = open_holds(conn, org_id, now)
            st.mtd = ledger.balance(conn, ledger.spend_account(org_id, month_start(now)))
        st.balance = spendable_balance(grants, now) - held
        expiries = [
            g.expires_at for g in grants if g.expires_at is not None and g.expires_at > now and g.remaining
        ]
        st.valid_until = min([month_start(now + 32 * DAY), *expiries])
        st.prepaid = row.billing_mode == BillingMode.PREPAID.value
        st.hard = row.hard_limit
        st.threshold = row.auto_recharge_threshold if row.auto_recharge_enabled else None
        st.projected = 0
        st.dirty = False
        return st

    def _refused(self, org_id: str, r: Refusal) -> None:
        self.denies.setdefault(org_id, []).append(r)
        waiting = self.watchers.get(org_id)
        if waiting:
            self.watchers[org_id] = [w for w in waiting if not w(r)]

    def _event(self, b: Bucket, part: Bucket, status: int, key_id: str | None) -> UsageEvent:
        return UsageEvent(
            request_id=self._rid("req"),
            org_id=b.org_id,
            model=b.stream.model,
            ts=part.ts,
            input_tokens=part.input_tokens if status < 400 else 0,
            output_tokens=part.output_tokens if status < 400 else 0,
            cached_tokens=part.cached_tokens if status < 400 else 0,
            key_id=key_id,
            requests=part.requests,
            status=status,
            fingerprint=part.fingerprint or None,
            ip=b.stream.ip,
        )

    def _keep(self, b: Bucket, part: Bucket, status: int) -> None:
        if part.requests <= 0:
            return
        key_id = self.key_ids.get((b.org_id, b.stream.key))
        if key_id is None:
            return  # an unknown key belongs to no organization's log
        self.pending.setdefault(b.org_id, []).append(self._event(b, part, status, key_id))

    def cost(self, b: Bucket) -> int:
        return self.books.prices.cost_nanos(b.stream.model, b.input_tokens, b.output_tokens, b.cached_tokens)

    def admit(self, b: Bucket, *, release: bool = False) -> Admitted | Deny:
        """One request of ``b`` presented to the real admission. Its hold is given back only on
        request: left alone it lapses after ten minutes, before the stream's next bucket."""
        org_id, s = b.org_id, b.stream
        self.flush(org_id)
        inp, _, cached = b.per_request()
        self.admits += 1
        result = self.books.admit(
            b.ts,
            secret=self.secrets[(org_id, s.key)],
            model=s.model,
            input_tokens=inp,
            output_tokens=s.estimate_output(),
            cached_tokens=cached,
        )
        st = self._state.setdefault(org_id, _OrgState())
        if isinstance(result, Deny):
            self._refused(org_id, Refusal(b.ts, s.key, s.model, result))
            st.last_denied.add((s.key, s.model))
        else:
            st.last_denied.discard((s.key, s.model))
            if release:
                self.books.release(b.ts, result.hold.id)
        return result

    # ---------------------------------------------------------------- buckets

    def run(self, b: Bucket) -> None:
        """Push one bucket through admission and metering (with provider trouble applied)."""
        outage = next((o for o in self.outages if o.covers(b)), None)
        if outage is not None and b.status < 400:
            self._through_outage(b, outage)
            return
        self._admitted(b)

    def _through_outage(self, b: Bucket, o: Outage) -> None:
        """Requests the provider fails (5xx, not billed). A client that retries at once sends
        each failed body ``retries`` more times with the same fingerprint; while the trouble
        lasts an attempt the client gave up on may still be processed and billed (``200``).
        The billed part goes through admission first; the failures are logged after it, so
        they do not count against the minute the admission looks at."""
        failed = round(b.requests * o.fail_share)
        if failed <= 0:
            self._admitted(b)
            return
        if b.stream.retries <= 0:
            if b.requests > failed:
                self._admitted(b.part(b.requests - failed))
            self._keep(b, b.part(failed, o.status), o.status)
            return
        groups = max(1, min(b.requests, 30))
        failures: list[Bucket] = []
        for i in range(groups):
            n = b.requests // groups + (1 if i < b.requests % groups else 0)
            if n <= 0:
                continue
            fp = fingerprint(b.org_id, b.stream.key, b.ts.isoformat(), i)
            attempts = n * (1 + b.stream.retries)
            billed = round(attempts * (1 - o.fail_share))
            one = replace(b.part(n), fingerprint=fp, requests=n)
            if billed:
                self._admitted(replace(one.part(billed), fingerprint=fp))
            if attempts > billed:
                failures.append(replace(one.part(attempts - billed, o.status), fingerprint=fp))
        for f in failures:
            self._keep(b, f, o.status)

    def _near_edge(self, b: Bucket, st: _OrgState, cost: int) -> bool:
        inp, _, cached = b.per_request()
        estimate = self.books.prices.cost_nanos(b.stream.model, inp, b.stream.estimate_output(), cached)
        if st.prepaid:
            floor = max(st.threshold or 0, 2 * estimate)
            if st.balance - st.projected - cost < floor:
                return True
        return st.hard is not None and st.mtd + st.projected + cost >= st.hard - 2 * estimate

    def _admitted(self, b: Bucket) -> None:
        st = self._state.setdefault(b.org_id, _OrgState())
        if st.valid_until is not None and b.ts >= st.valid_until:
            st.dirty = True  # a grant expired or a month began: the figures have moved
        if st.dirty:
            st.admitted.clear()
            st.standing.clear()
            st = self._read(b.org_id, b.ts)
        cost = self.cost(b)
        pair = (b.stream.key, b.stream.model)
        standing = st.standing.get(pair)
        if standing is not None:
            # Refused, and nothing the refusal depends on has moved since: the same answer.
            self._refused(b.org_id, Refusal(b.ts, b.stream.key, b.stream.model, standing))
            self._keep(b, b.part(b.requests, standing.status), standing.status)
            return
        edge = self._near_edge(b, st, cost)
        if not edge and pair in st.admitted and pair not in st.last_denied:
            st.projected += cost
            self._keep(b, b, 200)
            return
        if not edge:
            result = self.admit(b)
            if isinstance(result, Deny):
                self._keep(b, b.part(b.requests, result.status), result.status)
                if result.rule not in TRANSIENT:
                    st.standing[pair] = result
                return
            st.admitted.add(pair)
            st.projected += cost
            self._keep(b, b, 200)
            return
        self._precise(b)

    def _precise(self, b: Bucket) -> None:
        """At an edge (credit running out, the auto-recharge threshold, the hard limit): admit
        for real, meter at once, read the books back, and split the bucket as the credit goes."""
        remaining = b
        for _ in range(6):
            result = self.admit(remaining, release=True)
            if isinstance(result, Deny):
                self._keep(b, remaining.part(remaining.requests, result.status), result.status)
                st = self._read(b.org_id, remaining.ts)
                if result.rule not in TRANSIENT:
                    st.standing[(b.stream.key, b.stream.model)] = result
                return
            st = self._read(b.org_id, remaining.ts)
            st.admitted.add((b.stream.key, b.stream.model))
            fit = self._fits(remaining, st)
            part = remaining if fit >= remaining.requests else remaining.part(fit)
            self._keep(b, part, 200)
            self.flush(b.org_id, remaining.ts)
            st.dirty = True
            if part is remaining:
                return
            remaining = replace(
                remaining,
                requests=remaining.requests - fit,
                input_tokens=remaining.input_tokens - part.input_tokens,
                output_tokens=remaining.output_tokens - part.output_tokens,
                cached_tokens=remaining.cached_tokens - part.cached_tokens,
                ts=remaining.ts + timedelta(seconds=1),
            )
        self._keep(b, remaining, 200)

    def _fits(self, b: Bucket, st: _OrgState) -> int:
        """How many of ``b``'s requests the gateway would admit one by one before the credit
        no longer covers the next one's estimate (all of them on an invoiced account)."""
        if not st.prepaid:
            return b.requests
        inp, _, cached = b.per_request()
        estimate = self.books.prices.cost_nanos(b.stream.model, inp, b.stream.estimate_output(), cached)
        actual = max(1, self.cost(b) // max(1, b.requests))
        if st.balance < estimate:
            return 1  # admission just allowed one: the balance covered it a moment ago
        return max(1, min(b.requests, (st.balance - estimate) // actual + 1))

    # ---------------------------------------------------------------- one by one

    def burst(
        self,
        org_id: str,
        stream: Stream,
        at: datetime,
        count: int,
        *,
        spacing: timedelta = timedelta(seconds=4),
        input_tokens: int | None = None,
    ) -> list[Admitted | Deny]:
        """``count`` single requests, ``spacing`` apart, each admitted and (when allowed)
        settled on its own: how rate limits and per-request refusals are met for real."""
        self.flush(org_id)
        out: list[Admitted | Deny] = []
        inp = stream.input_tokens if input_tokens is None else input_tokens
        key_id = self.key_ids.get((org_id, stream.key))
        for i in range(count):
            ts = at + spacing * i
            self.admits += 1
            result = self.books.admit(
                ts,
                secret=self.secrets[(org_id, stream.key)],
                model=stream.model,
                input_tokens=inp,
                output_tokens=stream.estimate_output(),
                cached_tokens=stream.cached_tokens,
            )
            out.append(result)
            if isinstance(result, Deny):
                self._refused(org_id, Refusal(ts, stream.key, stream.model, result))
                if key_id is not None:
                    self.books.record_usage(
                        ts,
                        UsageEvent(
                            request_id=self._rid("req"),
                            org_id=org_id,
                            model=stream.model,
                            ts=ts,
                            input_tokens=0,
                            output_tokens=0,
                            key_id=key_id,
                            status=result.status,
                            ip=stream.ip,
                        ),
                    )
                continue
            self.books.settle(
                ts + timedelta(seconds=2),
                result.hold.id,
                input_tokens=inp,
                output_tokens=stream.output_tokens,
                cached_tokens=stream.cached_tokens,
                request_id=self._rid("req"),
            )
        self.touch(org_id)
        return out

    def last_deny(self, org_id: str, before: datetime, rules: Iterable[str] = ()) -> Refusal | None:
        """The latest refusal of ``org_id`` up to ``before`` (of one of ``rules`` if given)."""
        wanted = set(rules)
        found = [
            r for r in self.denies.get(org_id, ()) if r.at <= before and (not wanted or r.deny.rule in wanted)
        ]
        return found[-1] if found else None


def utc_day(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def active_days(streams: Sequence[Stream]) -> list[datetime]:
    """Every day (00:00 UTC) on which one of ``streams`` is active, in order."""
    days: set[datetime] = set()
    for s in streams:
        d = utc_day(s.start)
        while d < s.end:
            days.add(d)
            d += DAY
    return sorted(days)


Hook = Callable[[], None]
