"""A simulated world: one set of books, one clock, a dozen organizations, their tickets.

Everything happens on one timeline, in order: organizations are created, cards attached,
credit bought, traffic flows (``traffic.Driver``), the month close runs (``Books.tick``:
every ``tick_every`` days in the busy window, at every month start, and whenever a
scenario needs it: an expiry, a due date, a tier's settle period), scenario events happen (a
card is replaced, a flag raised, a key revoked), and customers write tickets. A ticket is
exported (``store.export.bundle_export``) at the moment the support engineer looks at it,
so the bundle shows the books as they were then. Because the clock only moves forward
and the month close runs for every organization at once, no action may be dated before
one already done: ``World.at`` refuses it.

Nothing here reads the wall clock and every random choice comes from the world's seeded
``random.Random``, so a world is a pure function of its seed and its scenarios (up to the
random ids and key secrets the books mint, which a test normalizes).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from quotadesk.billing.limits import month_start
from quotadesk.errors import InputError
from quotadesk.sim.traffic import DAY, Bucket, Driver, Outage, Stream, day_buckets, utc_day
from quotadesk.store.access import SYSTEM, Actor, Role
from quotadesk.store.books import Books, NewKey
from quotadesk.store.export import bundle_export, rfc3339

Action = Callable[[], object]

TICK, SETUP, DAYGEN, BUCKET, EXPORT = 0, 1, 2, 3, 4
"""Order of things due at the same instant: the month close first, exports last."""


@dataclass(frozen=True, slots=True)
class Truth:
    """What a case really is: the contract's incident, root cause and route, and whether the
    customer pasted a full API key."""

    incident: str
    root_cause: str
    route: str = "none"
    key_exposed: bool = False

    def expected(self) -> dict[str, Any]:
        """The scorer's ``NAME.expected.json``."""
        return {
            "incident": self.incident,
            "root_cause": self.root_cause,
            "route": self.route,
            "mention": [],
            "key_exposed": self.key_exposed,
        }


@dataclass
class Case:
    """One ticket of the world: who raises it, when, how it is worded, and the truth.

    ``compose`` writes the ticket (a contract ``ticket`` object) at export time, from what the
    world did (the refusal the customer met, the card, the figures). ``bundle`` holds the
    exported case bundle once the world has run; ``figure`` is the one line the desk
    summary shows for it.
    """

    name: str
    scenario: str
    truth: Truth
    org_id: str
    customer: str
    received_at: datetime
    as_of: datetime
    provider: str
    compose: Callable[[Case], dict[str, Any]]
    notes: dict[str, Any] = field(default_factory=dict)
    bundle: dict[str, Any] | None = None
    ticket_id: str = ""


@dataclass(frozen=True, slots=True)
class Incident:
    """A status-page incident of the world (Atlassian Statuspage v2 fields at export)."""

    id: str
    name: str
    impact: str
    components: tuple[str, ...]
    start: datetime
    end: datetime

    def at(self, as_of: datetime) -> dict[str, Any] | None:
        if self.start > as_of:
            return None
        resolved = self.end <= as_of
        elapsed = as_of - self.start
        status = (
            "resolved"
            if resolved
            else "investigating"
            if elapsed < timedelta(minutes=40)
            else "identified"
            if elapsed < timedelta(hours=2)
            else "monitoring"
        )
        return {
            "id": self.id,
            "name": self.name,
            "status": status,
            "impact": self.impact,
            "created_at": rfc3339(self.start),
            "resolved_at": rfc3339(self.end) if resolved else None,
            "components": [{"name": c} for c in self.components],
        }


@dataclass
class SimOrg:
    """A simulated organization: its id in the books, its keys (secrets kept for the client),
    cards by label, the people who act for it."""

    id: str
    name: str
    created: datetime
    keys: dict[str, NewKey] = field(default_factory=dict)
    cards: dict[str, str] = field(default_factory=dict)
    owner: Actor = SYSTEM
    streams: list[Stream] = field(default_factory=list)


class World:
    """One simulation (see the module docstring)."""

    def __init__(
        self, books: Books, seed: int, *, end: datetime, daily_from: datetime, tick_every: int = 3
    ) -> None:
        self.books = books
        self.seed = seed
        self.rng = random.Random(seed)
        self.end = end
        self.daily_from = utc_day(daily_from)
        self.tick_every = tick_every
        self.driver = Driver(books)
        self.orgs: dict[str, SimOrg] = {}
        self.cases: list[Case] = []
        self.incidents: list[Incident] = []
        self.now: datetime | None = None
        self._queue: list[tuple[datetime, int, int, Action]] = []
        self._seq = 0
        self._ticks: set[datetime] = set()
        self.on_day: Callable[[datetime], None] | None = None
        self.ran = False

    # ------------------------------------------------------------------ scheduling

    def at(self, when: datetime, action: Action, order: int = SETUP) -> None:
        """Run ``action`` when the clock reaches ``when`` (never in the past)."""
        if self.now is not None and when < self.now:
            raise InputError(f"cannot schedule at {when.isoformat()}, the clock is at {self.now.isoformat()}")
        self._seq += 1
        heapq.heappush(self._queue, (when, order, self._seq, action))

    def act(self, org: SimOrg, when: datetime, action: Action) -> None:
        """An action on one organization: its buffered usage is metered first, and admission is
        asked again afterwards."""

        def run() -> None:
            self.driver.flush(org.id, when)
            action()
            self.driver.touch(org.id)

        self.at(when, run)

    def tick_at(self, when: datetime, *, force: bool = False) -> None:
        """Run the month close at ``when`` (as well as the regular ones). Before the busy
        window nothing but month starts is needed: a tier's settle period that ends there is
        applied by the window's first close (the rulebook dates it from when it was met)."""
        if when < self.daily_from and not force:
            return
        if when not in self._ticks:
            self._ticks.add(when)
            self.at(when, lambda: self._tick(when), TICK)

    def _tick(self, when: datetime) -> None:
        self.driver.flush(None, when)
        self.books.tick(when)
        for org_id in self.orgs:
            self.driver.touch(org_id)

    def stream(self, org: SimOrg, s: Stream) -> None:
        """Add a stream: each active day, its buckets join the timeline.

        Its rows are kept a few minutes apart from the organization's other streams: a bucket
        stands for an hour of requests at one instant, and admission counts the last minute."""
        taken = {o.minute for o in org.streams if o.start < s.end and s.start < o.end}
        minute = s.minute
        while any(min(abs(minute - t), 60 - abs(minute - t)) < 3 for t in taken) and len(taken) < 15:
            minute = (minute + 4) % 60
        if minute != s.minute:
            s = replace(s, minute=minute)
        org.streams.append(s)
        day = utc_day(s.start)
        while day < s.end:
            self.at(day, self._daygen(org.id, s, day), DAYGEN)
            day += DAY

    def _daygen(self, org_id: str, s: Stream, day: datetime) -> Action:
        rng = random.Random(f"{self.seed}:{org_id}:{s.key}:{s.model}:{s.minute}:{day.date()}")

        def gen() -> None:
            for b in day_buckets(org_id, s, day, rng):
                self.at(b.ts, self._bucket(b), BUCKET)

        return gen

    def _bucket(self, b: Bucket) -> Action:
        return lambda: self.driver.run(b)

    def incident(self, inc: Incident, fail_share: float, status: int = 503) -> None:
        """A status-page incident; every organization's requests meet it while it lasts."""
        self.incidents.append(inc)
        self.driver.outages.append(Outage(inc.start, inc.end, fail_share, status))

    def busy(self, start: datetime, end: datetime) -> bool:
        """Does an incident overlap ``[start, end]`` (tickets of other cases avoid them)?"""
        return any(i.start <= end and start <= i.end for i in self.incidents)

    # ------------------------------------------------------------------ organizations

    def new_org(
        self,
        org_id: str,
        name: str,
        created: datetime,
        *,
        billing_mode: str = "prepaid",
        free_trial: str | None = None,
        trial_days: int | None = 90,
        rate_limits: Mapping[str, Mapping[str, int | None]] | None = None,
        model_access: tuple[str, ...] | None = None,
    ) -> SimOrg:
        owner = Actor(f"owner@{org_id.removeprefix('org_')}.example", Role.CUSTOMER)
        org = SimOrg(org_id, name, created, owner=owner)
        self.orgs[org_id] = org

        def create() -> None:
            self.books.create_org(
                SYSTEM,
                created,
                name=name,
                org_id=org_id,
                billing_mode=billing_mode,
                free_trial=free_trial,
                trial_days=trial_days,
                rate_limits=rate_limits,
                model_access=model_access,
            )

        self.at(created, create)
        return org

    def key(
        self,
        org: SimOrg,
        label: str,
        when: datetime,
        *,
        environment: str | None = "production",
        scope: str = "organization",
        owner: str | None = None,
        name: str | None = None,
    ) -> None:
        """Create a key; the client presents its secret from then on."""

        def create() -> None:
            actor = org.owner
            new = self.books.create_key(
                actor, when, org.id, name=name or label, scope=scope, owner=owner, environment=environment
            )
            org.keys[label] = new
            self.driver.secrets[(org.id, label)] = new.secret
            self.driver.key_ids[(org.id, label)] = new.id

        self.act(org, when, create)

    def ghost_key(self, org: SimOrg, label: str, secret: str) -> None:
        """A key the client uses that the books never issued (a typo, another org's)."""
        self.driver.secrets[(org.id, label)] = secret

    def card(self, org: SimOrg, label: str, when: datetime, number: str, month: int, year: int) -> None:
        def attach() -> None:
            org.cards[label] = self.books.add_payment_method(org.owner, when, org.id, number, month, year)

        self.act(org, when, attach)

    def top_up(self, org: SimOrg, when: datetime, amount: str) -> None:
        self.act(org, when, lambda: self.books.top_up(org.owner, when, org.id, amount))

    # ------------------------------------------------------------------ tickets

    def status_page(self, as_of: datetime) -> dict[str, Any]:
        shown = [i.at(as_of) for i in sorted(self.incidents, key=lambda i: i.start)]
        return {"incidents": [s for s in reversed(shown) if s is not None]}

    def raise_ticket(self, case: Case) -> None:
        self.cases.append(case)

        def export() -> None:
            self.driver.flush(case.org_id, case.as_of)
            ticket = case.compose(case)
            ticket.setdefault("received_at", rfc3339(case.received_at))
            case.ticket_id = str(ticket["id"])
            case.bundle = bundle_export(
                self.books,
                case.org_id,
                ticket,
                case.as_of,
                provider=case.provider,
                status_page=self.status_page(case.as_of),
            )

        self.at(case.as_of, export, EXPORT)

    # ------------------------------------------------------------------ running

    def _schedule_ticks(self) -> None:
        # Month closes from the first month with traffic (before it there is nothing to close).
        first = min((s.start for o in self.orgs.values() for s in o.streams), default=self.daily_from)
        m = month_start(first)
        while m <= self.end:
            if m >= first:
                self.tick_at(m, force=True)
            m = month_start(m + timedelta(days=32))
        d = self.daily_from
        while d <= self.end:
            self.tick_at(d)
            d += self.tick_every * DAY

    def run(self, until: datetime | None = None) -> None:
        """Play the timeline up to ``until`` (default: the world's end)."""
        stop = until or self.end
        if not self.ran:
            self._schedule_ticks()
            self.ran = True
        last_day: datetime | None = None
        while self._queue and self._queue[0][0] <= stop:
            when, _, _, action = heapq.heappop(self._queue)
            self.now = when
            if self.on_day is not None and when >= self.daily_from:
                day = utc_day(when)
                if day != last_day:
                    last_day = day
                    self.on_day(day)
            action()
        self.driver.flush(None, stop)
