"""What every scenario shares: its plan, the registry, and the usual ways to set up an org.

A scenario is a function ``(world, plan) -> None`` that creates one organization in the
world, schedules its history (cards, credit, traffic), makes its event happen and arranges
for the customer's ticket. Most tickets are written when the customer first meets the
refusal (``ticket_on_refusal``): the time depends on the traffic, so the scenario cannot
know it in advance, and neither can anyone reading the ticket.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from quotadesk.billing.decision import Deny, Rule
from quotadesk.billing.limits import month_start
from quotadesk.billing.pricing import DEFAULT_PRICES
from quotadesk.money import plain
from quotadesk.sim import tickets
from quotadesk.sim.traffic import BUSINESS_HOURS, DAY, HOUR, Refusal, Stream, utc_day
from quotadesk.sim.world import Case, SimOrg, Truth, World

MINUTE = timedelta(minutes=1)

VISA = "4242424242424242"
MASTERCARD = "5555555555554444"
AMEX = "378282246310005"
DECLINES_LATER = "4000000000000341"
GOOD_CARDS = (VISA, MASTERCARD, AMEX)

TIER_FUNDING: dict[str, tuple[str, int]] = {
    "tier1": ("20.00", 0),
    "tier2": ("60.00", 7),
    "tier3": ("150.00", 7),
    "tier4": ("300.00", 14),
}
"""Credit to buy and account age (days) to reach a tier (the default tier table's criteria)."""

PROVIDERS = ("generic", "generic", "openai", "openai", "anthropic", "google", "openrouter", "deepseek", "mistral",
             "cohere", "together", "groq", "azure", "xai")  # fmt: skip
"""Dialects the simulated provider speaks, common ones weighted up."""


@dataclass(frozen=True, slots=True)
class Plan:
    """One case to stage: its index and names, the provider dialect, the window in which the
    ticket must fall (``earliest``..``latest``) and a seeded random source of its own."""

    index: int
    name: str
    ticket_id: str
    org_id: str
    customer: str
    provider: str
    earliest: datetime
    latest: datetime
    seed: int
    variant: int = 0
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def rng(self) -> random.Random:
        return random.Random(f"{self.seed}:{self.index}:{self.name}")


Build = Callable[[World, Plan], None]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A root cause's scenario: the contract incident, the builder, how much history it needs
    (days of traffic before the ticket) and whether it needs a status-page incident."""

    root_cause: str
    incident: str
    build: Build
    history_days: int = 21
    outage: bool = False
    variants: int = 2
    needs: str = ""


REGISTRY: dict[str, Scenario] = {}


def scenario(root_cause: str, incident: str, *, history_days: int = 21, outage: bool = False,
             variants: int = 2, needs: str = "") -> Callable[[Build], Build]:  # fmt: skip
    """Register a builder for ``root_cause`` (one per root cause). ``needs`` names what the
    provider's models must include (``premium``, ``swap``: a cheaper model and a pricier one,
    ``standard``), so the case is staged under a provider that has it."""

    def register(fn: Build) -> Build:
        if root_cause in REGISTRY:
            raise ValueError(f"two scenarios for {root_cause}")
        REGISTRY[root_cause] = Scenario(root_cause, incident, fn, history_days, outage, variants, needs)
        return fn

    return register


# ----------------------------------------------------------------------------- org set-up


FAMILIES: dict[str, tuple[str, ...]] = {
    "openai": ("gpt-", "o1", "o3", "o4"),
    "azure": ("gpt-", "o1", "o3", "o4"),
    "anthropic": ("claude-",),
    "google": ("gemini-",),
    "deepseek": ("deepseek-",),
    "mistral": ("mistral-",),
    "groq": ("llama-",),
    "together": ("llama-", "deepseek-"),
}
"""Models a provider's customers call (a dialect not listed here fronts every model)."""


def family(provider: str) -> list[str]:
    prefixes = FAMILIES.get(provider)
    names = sorted(DEFAULT_PRICES)
    return names if prefixes is None else [m for m in names if m.startswith(prefixes)]


def pick_model(rng: random.Random, klass: str = "economy", family_prefix: str | None = None,
               provider: str | None = None) -> str:  # fmt: skip
    """A model of price class ``klass`` that ``provider``'s customers would call (the nearest
    class the provider has when it has none of that class)."""
    names = family(provider) if provider else sorted(DEFAULT_PRICES)
    if family_prefix is not None:
        names = [m for m in names if m.startswith(family_prefix)] or names
    of_class = [m for m in names if DEFAULT_PRICES[m].price_class == klass]
    return rng.choice(of_class or names)


def supports(provider: str, needs: str) -> bool:
    """Can a case that needs ``needs`` (comma-separated: a price class, or ``swap``: a cheaper
    model with a pricier sibling) be staged under ``provider``?"""
    names = family(provider)
    for need in filter(None, needs.split(",")):
        if need == "swap":
            ok = any(m in PRICIER for m in names)
        else:
            ok = any(DEFAULT_PRICES[m].price_class == need for m in names)
        if not ok:
            return False
    return True


PRICIER = {
    "gpt-4o-mini": "gpt-4o",
    "gpt-4.1-mini": "gpt-4.1",
    "gpt-4.1-nano": "gpt-4.1",
    "claude-haiku": "claude-sonnet",
    "gemini-flash": "gemini-pro",
    "gemini-flash-lite": "gemini-pro",
    "deepseek-chat": "deepseek-reasoner",
}
"""A cheaper model and the pricier one a deploy might swap it for."""

PREMIUM = ("o1", "claude-opus")


def premium_model(rng: random.Random, provider: str) -> str:
    names = [m for m in family(provider) if m in PREMIUM]
    return rng.choice(names or list(PREMIUM))


def pricier_pair(rng: random.Random, provider: str) -> tuple[str, str]:
    names = [m for m in family(provider) if m in PRICIER] or sorted(PRICIER)
    cheap = rng.choice(names)
    return cheap, PRICIER[cheap]


def prepaid_org(
    w: World,
    p: Plan,
    *,
    created: datetime,
    tier: str = "tier2",
    card: str = VISA,
    exp: tuple[int, int] = (12, 2030),
    credit: str | None = None,
    key_name: str | None = None,
) -> Any:
    """A prepaid organization with a production key and a card, funded to reach ``tier``
    (the month close applies the upgrade once its criteria have held a day)."""
    rng = p.rng
    org = w.new_org(p.org_id, p.customer, created)
    w.key(
        org,
        "prod",
        created + 5 * MINUTE,
        name=key_name or rng.choice(("production", "backend", "api-server", "prod")),
    )
    if tier == "free":
        return org
    amount, age = TIER_FUNDING[tier]
    w.card(org, "main", created + 10 * MINUTE, card, *exp)
    w.top_up(org, created + 15 * MINUTE, credit or amount)
    w.tick_at(created + (age + 1) * DAY + HOUR)
    return org


def invoiced_org(w: World, p: Plan, *, created: datetime, pay_until: datetime | None, model: str,
                 per_day: float, end: datetime) -> Any:  # fmt: skip
    """An invoiced (enterprise) organization with months of usage, paying each monthly
    invoice a few days after it is issued, up to ``pay_until`` (None: always)."""
    rng = p.rng
    # Enterprise contracts carry their own limits and every model, whatever tier the paid
    # invoices have earned so far.
    org = w.new_org(
        p.org_id,
        p.customer,
        created,
        billing_mode="invoiced",
        rate_limits={model: {"rpm": 10_000, "tpm": 20_000_000}},
        model_access=tuple(sorted(DEFAULT_PRICES)),
    )
    w.key(org, "prod", created + 5 * MINUTE, name=rng.choice(("production", "platform", "backend")))
    w.card(org, "main", created + 10 * MINUTE, rng.choice(GOOD_CARDS), 11, 2031)
    minute = rng.randrange(5, 55)
    recent = end - 35 * DAY
    if recent > created + DAY:
        # Older months at one row a day: the invoices are what matters there.
        w.stream(org, Stream("prod", model, created + DAY, recent, per_day, hours=(12,), minute=minute))
    w.stream(org, Stream("prod", model, max(recent, created + DAY), end, per_day, minute=minute))
    m = month_start(month_start(created) + 32 * DAY)
    while m < end:
        if pay_until is None or m < pay_until:
            when = m + rng.randrange(2, 9) * DAY + rng.randrange(8, 17) * HOUR
            w.act(org, when, _pay_open(w, org, when))
        m = month_start(m + 32 * DAY)
    return org


def _pay_open(w: World, org: SimOrg, when: datetime) -> Callable[[], None]:
    def pay() -> None:
        for inv in w.books.organization(org.id).invoices:
            if inv.status.value in ("open", "overdue"):
                w.books.pay_invoice(org.owner, when, inv.id)

    return pay


def day_spend(model: str, per_day: float, inp: int, out: int) -> int:
    """Nano-dollars a stream of ``per_day`` requests of these sizes costs in a day."""
    return DEFAULT_PRICES[model].cost_nanos(int(per_day * inp), int(per_day * out))


def dollars_for(nanos: int) -> str:
    return plain(max(nanos, 10_000_000))


# ----------------------------------------------------------------------------- tickets


def watch(
    w: World, org: SimOrg, rules: Iterable[Rule], after: datetime, fn: Callable[[Refusal], None]
) -> None:
    """Call ``fn`` once, at the first refusal of ``org`` by one of ``rules`` after ``after``."""
    wanted = {Rule(r) for r in rules}

    def check(r: Refusal) -> bool:
        if r.at < after or r.deny.rule not in wanted:
            return False
        fn(r)
        return True

    w.driver.watchers.setdefault(org.id, []).append(check)


def pasted(
    w: World, p: Plan, org: SimOrg, before: datetime, rules: Sequence[Rule] = ()
) -> tickets.Pasted | None:
    """The latest refusal the customer met before writing, in the provider's dialect."""
    r = w.driver.last_deny(org.id, before, rules)
    return None if r is None else tickets.Pasted.of(r.deny, p.provider, r.at)


def when_text(received: datetime, since: datetime) -> str:
    gap = received - since
    if gap < 3 * HOUR:
        return rng_free_choice(
            ("about an hour ago", "a little while ago", "since this morning", "in the last hour"), since
        )
    if since.date() == received.date():
        return f"since {since:%H:%M} UTC"
    if gap < 2 * DAY:
        return "since yesterday"
    return f"since {since:%A}"


def rng_free_choice(options: Sequence[str], salt: datetime) -> str:
    return options[salt.minute % len(options)]


def facts_for(org: SimOrg, received: datetime, since: datetime | None = None, **more: Any) -> dict[str, str]:
    out = {"day": f"{received:%A}", "month": f"{received:%B}"}
    if since is not None:
        out["when"] = when_text(received, since)
        out["time"] = f"{since:%H:%M}"
        out["minutes"] = str(max(5, int((received - since).total_seconds() // 60)))
    if org.streams:
        out["model"] = org.streams[0].model
    out.update({k: str(v) for k, v in more.items() if v is not None})
    return out


def raise_case(
    w: World,
    p: Plan,
    org: SimOrg,
    truth: Truth,
    received: datetime,
    *,
    look: timedelta | None = None,
    compose: Callable[[Case], dict[str, Any]],
    notes: dict[str, Any] | None = None,
) -> Case:
    """Schedule the customer's ticket (written at ``received``, looked at ``look`` later)."""
    rng = p.rng
    received = min(received, p.latest - 5 * MINUTE)
    if truth.incident != "provider_outage":
        # Nobody else's ticket lands in the middle of a status-page incident: it would be about it.
        for inc in w.incidents:
            if inc.start - 30 * MINUTE <= received <= inc.end + 10 * MINUTE:
                received = min(inc.end + rng.randint(20, 60) * MINUTE, p.latest - 5 * MINUTE)
    if look is None:
        look = timedelta(minutes=rng.choice((4, 9, 15, 25, 40, 70, 120, 200)))
    as_of = min(received + look, p.latest)
    case = Case(
        name=p.name,
        scenario=truth.root_cause,
        truth=truth,
        org_id=org.id,
        customer=org.name,
        received_at=received,
        as_of=as_of,
        provider=p.provider,
        compose=compose,
        notes=dict(notes or {}),
    )
    w.raise_ticket(case)
    return case


def simple_compose(
    w: World,
    p: Plan,
    org: SimOrg,
    symptom: str,
    *,
    since: datetime | None = None,
    hints: Sequence[str] = (),
    rules: Sequence[Rule] = (),
    paste: float = 0.7,
    facts: dict[str, Any] | None = None,
    attachments: Sequence[dict[str, Any]] = (),
    extra_lines: Sequence[str] = (),
    paste_mode: str | None = None,
) -> Callable[[Case], dict[str, Any]]:
    """A ``compose`` that writes ``symptom`` and pastes (with probability ``paste``) the last
    refusal of ``rules`` the customer met."""

    def compose(case: Case) -> dict[str, Any]:
        rng = random.Random(f"{p.seed}:{p.index}:ticket")
        error = pasted(w, p, org, case.received_at, rules) if rng.random() < paste else None
        return tickets.write(
            rng,
            symptom,
            facts_for(org, case.received_at, since, **(facts or {})),
            ticket_id=p.ticket_id,
            hints=hints,
            pasted=error,
            paste_mode=paste_mode,
            extra_attachments=attachments,
            extra_lines=extra_lines,
        )

    return compose


def ticket_on_refusal(
    w: World,
    p: Plan,
    org: SimOrg,
    truth: Truth,
    rules: Sequence[Rule],
    *,
    after: datetime,
    symptom: str,
    hints: Sequence[str] = (),
    delay: tuple[int, int] = (20, 600),
    paste: float = 0.7,
    facts: dict[str, Any] | None = None,
    then: Callable[[Refusal, datetime], None] | None = None,
    paste_mode: str | None = None,
) -> None:
    """The customer writes ``delay`` minutes after first meeting one of ``rules``; ``then`` may
    schedule what they do before writing (e.g. try another card)."""
    rng = p.rng

    def on(r: Refusal) -> None:
        received = r.at + rng.randint(*delay) * MINUTE
        if then is not None:
            then(r, received)
        raise_case(
            w,
            p,
            org,
            truth,
            received,
            compose=simple_compose(
                w,
                p,
                org,
                symptom,
                since=r.at,
                hints=hints,
                rules=rules,
                paste=paste,
                facts=facts,
                paste_mode=paste_mode,
            ),
            notes={"first_refusal": r.at.isoformat(), "rule": r.deny.rule.value},
        )

    watch(w, org, rules, after, on)


def deny_of(r: Refusal | None) -> Deny | None:
    return None if r is None else r.deny


def quiet_hours(rng: random.Random) -> tuple[int, ...]:
    """A working day in some time zone: ten consecutive UTC hours."""
    first = rng.choice((6, 7, 8, 13, 14, 15))
    return tuple((first + i) % 24 for i in range(10))


__all__ = [
    "BUSINESS_HOURS",
    "DAY",
    "HOUR",
    "MINUTE",
    "REGISTRY",
    "Plan",
    "Scenario",
    "Stream",
    "Truth",
    "utc_day",
]
