"""Refusals that are not about money running out: the hard limit, the free tier, keys, rate
limits, suspensions, a provider outage, and the ticket that says nothing.

Every 401/403/429 here is what ``Books.admit`` returned to the customer's own requests.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from quotadesk.billing.decision import Rule
from quotadesk.billing.limits import month_start
from quotadesk.billing.pricing import DEFAULT_PRICES
from quotadesk.money import plain
from quotadesk.sim.scenarios.common import (
    DAY,
    HOUR,
    MINUTE,
    Plan,
    day_spend,
    invoiced_org,
    pick_model,
    premium_model,
    prepaid_org,
    quiet_hours,
    raise_case,
    scenario,
    simple_compose,
    ticket_on_refusal,
    watch,
)
from quotadesk.sim.traffic import ALL_DAY, Refusal, Stream
from quotadesk.sim.world import Case, Incident, SimOrg, Truth, World
from quotadesk.store.access import Actor, Role

TRUST_AND_SAFETY = Actor("trust-and-safety@provider.example", Role.TRUST_AND_SAFETY)


def _stream(p: Plan, start: datetime, *, model: str | None = None, per_day: float | None = None, key: str = "prod",
            hours: tuple[int, ...] | None = None) -> Stream:  # fmt: skip
    rng = p.rng
    return Stream(
        key,
        model or pick_model(rng, rng.choice(("economy", "economy", "standard")), provider=p.provider),
        start,
        p.latest + DAY,
        per_day if per_day is not None else rng.randint(400, 4000),
        hours=hours or (quiet_hours(rng) if rng.random() < 0.6 else ALL_DAY),
        input_tokens=rng.randint(500, 2500),
        output_tokens=rng.randint(120, 600),
        minute=rng.randrange(3, 57),
    )


# ------------------------------------------------------------------------------- spending limit


@scenario("hard_limit_reached", "spending_limit", history_days=20)
def hard_limit(w: World, p: Plan) -> None:
    """A monthly hard limit below what the month's traffic needs: admission refuses (402) from
    the moment month-to-date spend reaches it, with credit still on the account."""
    rng = p.rng
    created = p.latest - rng.randint(60, 400) * DAY
    start = max(p.latest - 20 * DAY, month_start(p.latest) - 2 * DAY)
    org = prepaid_org(w, p, created=created, tier="tier3", credit=rng.choice(("400.00", "600.00", "1000.00")))
    s = _stream(
        p, start, model=pick_model(rng, "standard", provider=p.provider), per_day=rng.randint(1500, 5000)
    )
    w.stream(org, s)
    daily = day_spend(s.model, s.per_day, s.input_tokens, s.output_tokens)
    month = month_start(p.latest)
    days_in = max(3.0, (p.latest - month).total_seconds() / 86400 - rng.uniform(1.5, 4.0))
    hard = max(10_000_000_000, int(daily * days_in * 0.55) // 10_000_000_000 * 10_000_000_000)
    soft = hard * rng.choice((5, 6, 8)) // 10
    w.act(org, created + HOUR, lambda: w.books.set_limits(
        org.owner, created + HOUR, org.id, soft=plain(soft), hard=plain(hard)))  # fmt: skip
    ticket_on_refusal(
        w, p, org, Truth("spending_limit", "hard_limit_reached"), (Rule.HARD_LIMIT,), after=month,
        symptom="cutoff",
        hints=("There's plenty of money in the account.", "We have credits left, I checked.",
               "I know we set a limit at some point but I thought it was high enough.",
               "Our balance is fine."),
    )  # fmt: skip


# ------------------------------------------------------------------------------- free tier


def _free_org(w: World, p: Plan, created: datetime, trial: str, trial_days: int = 90) -> SimOrg:
    rng = p.rng
    org = w.new_org(p.org_id, p.customer, created, free_trial=trial, trial_days=trial_days)
    w.key(org, "prod", created + 5 * MINUTE, name=rng.choice(("my-first-key", "test", "default", "laptop")),
          environment=rng.choice((None, "development")))  # fmt: skip
    return org


def _trial_stream(p: Plan, start: datetime, credit: float, days: float) -> Stream:
    """Economy traffic under the free tier's 3 requests per minute, sized to use ``credit``
    dollars in about ``days`` days (longer prompts where the request rate cannot go higher)."""
    rng = p.rng
    model = pick_model(rng, "economy", provider=p.provider)
    inp, out = rng.randint(1500, 6000), rng.randint(300, 900)
    per_request = DEFAULT_PRICES[model].cost_nanos(inp, out) / 1e9
    hours = quiet_hours(rng)
    cap = 120 * len(hours)
    per_day = credit / days / per_request
    if per_day > cap:
        scale = min(per_day / cap, 11000 / (inp + out))
        inp, out = int(inp * scale), int(out * scale)
        per_request = DEFAULT_PRICES[model].cost_nanos(inp, out) / 1e9
        per_day = min(credit / days / per_request, cap)
    return Stream("prod", model, start, p.latest + DAY, per_day, hours=hours, input_tokens=inp,
                  output_tokens=out, weekend=0.6, minute=rng.randrange(3, 57))  # fmt: skip


@scenario("trial_credits_consumed", "free_tier", history_days=14, needs="economy")
def trial_consumed(w: World, p: Plan) -> None:
    rng = p.rng
    created = p.latest - rng.randint(10, 40) * DAY
    trial = rng.choice((5, 5, 10, 18))
    org = _free_org(w, p, created, f"{trial}.00")
    start = max(created + HOUR, p.latest - 12 * DAY)
    w.stream(org, _trial_stream(p, start, trial, rng.uniform(2.0, 4.5)))
    ticket_on_refusal(
        w, p, org, Truth("free_tier", "trial_credits_consumed"), (Rule.CREDITS_EXHAUSTED,), after=start,
        symptom="trial",
        hints=("I only signed up recently.", "I'm using the free credits you gave at signup."),
    )  # fmt: skip


@scenario("trial_credits_expired", "free_tier", history_days=30, needs="economy")
def trial_expired(w: World, p: Plan) -> None:
    """A trial grant that expires with credit left: the month close writes the remainder off
    and the next request is refused (402) with that remainder named."""
    rng = p.rng
    days = rng.choice((14, 21, 30))
    expires = p.latest - rng.randint(2, 6) * DAY - rng.randint(0, 20) * HOUR
    created = expires - days * DAY
    trial = rng.choice((5, 10, 18))
    org = _free_org(w, p, created, f"{trial}.00", trial_days=days)
    # Light use early on, a pause, then back to it after the expiry.
    s = _trial_stream(p, created + HOUR, trial, rng.uniform(40.0, 90.0))
    w.stream(org, Stream(s.key, s.model, s.start, created + rng.randint(4, 9) * DAY, s.per_day, hours=s.hours,
                         input_tokens=s.input_tokens, output_tokens=s.output_tokens, minute=s.minute))  # fmt: skip
    back = expires + rng.randint(6, 60) * HOUR
    w.stream(org, Stream(s.key, s.model, back, p.latest + DAY, s.per_day, hours=s.hours,
                         input_tokens=s.input_tokens, output_tokens=s.output_tokens, minute=s.minute))  # fmt: skip
    w.tick_at(expires + rng.randint(1, 5) * HOUR)
    left = {"left": f"{trial - 1}"}
    ticket_on_refusal(
        w, p, org, Truth("free_tier", "trial_credits_expired"), (Rule.CREDITS_EXHAUSTED,), after=expires,
        symptom=rng.choice(("trial_left", "trial_left", "trial")), facts=left,
        hints=("I hadn't used it in a while.", "I was on a break for a couple of weeks."),
    )  # fmt: skip


@scenario("free_tier_rate_limit", "free_tier", history_days=10, needs="economy")
def free_rate_limit(w: World, p: Plan) -> None:
    """A free-tier user with credit left fires a few requests at once: the 4th inside a minute
    is refused (429, 3 requests per minute on the free tier)."""
    rng = p.rng
    created = p.latest - rng.randint(5, 30) * DAY
    org = _free_org(w, p, created, rng.choice(("5.00", "10.00", "18.00")))
    start = max(created + HOUR, p.latest - 8 * DAY)
    s = _trial_stream(p, start, 5.0, rng.uniform(30.0, 60.0))
    w.stream(org, s)
    at = p.latest - rng.randint(6, 60) * HOUR - rng.randint(0, 59) * MINUTE
    count = rng.randint(5, 9)
    w.act(org, at, lambda: w.driver.burst(org.id, s, at, count, spacing=timedelta(seconds=rng.randint(2, 9))))
    ticket_on_refusal(
        w, p, org, Truth("free_tier", "free_tier_rate_limit"), (Rule.RATE_LIMIT,), after=at,
        symptom="rate_free", delay=(10, 240), paste=0.8,
    )  # fmt: skip


@scenario("tier_upgrade_pending", "free_tier", history_days=10, needs="economy,standard")
def tier_pending(w: World, p: Plan) -> None:
    """A free-tier user adds a card and buys credit; the upgrade applies a day after the criteria
    hold, and meanwhile they try what a paid tier allows: a pricier model (403) or a burst (429)."""
    rng = p.rng
    created = p.latest - rng.randint(8, 40) * DAY
    org = _free_org(w, p, created, rng.choice(("5.00", "10.00")))
    start = max(created + HOUR, p.latest - 8 * DAY)
    s = _trial_stream(p, start, 5.0, rng.uniform(20.0, 40.0))
    w.stream(org, s)
    paid_at = p.latest - rng.randint(3, 18) * HOUR - rng.randint(0, 59) * MINUTE
    amount = rng.choice(("10.00", "20.00", "50.00"))
    w.card(
        org,
        "main",
        paid_at - 3 * MINUTE,
        rng.choice(("4242424242424242", "5555555555554444")),
        9,
        paid_at.year + 3,
    )
    w.top_up(org, paid_at, amount)
    try_at = paid_at + rng.randint(5, 60) * MINUTE
    if p.variant % 2 == 0:
        wanted = pick_model(rng, "standard", provider=p.provider)
        probe = Stream("prod", wanted, try_at, try_at + HOUR, 1, input_tokens=1200, output_tokens=300)
        rules = (Rule.MODEL_NOT_IN_TIER,)
        facts = {"model": wanted, "amount": amount}
    else:
        probe = s
        rules = (Rule.RATE_LIMIT,)
        facts = {"amount": amount}
    w.act(org, try_at, lambda: w.driver.burst(org.id, probe, try_at, rng.randint(4, 7)))
    ticket_on_refusal(
        w, p, org, Truth("free_tier", "tier_upgrade_pending"), rules, after=try_at, symptom="upgrade",
        delay=(5, 120), facts={**facts, "when": "today"},
    )  # fmt: skip


@scenario("model_not_in_tier", "free_tier", history_days=14, needs="economy,premium")
def model_not_in_tier(w: World, p: Plan) -> None:
    """A tier-1 account (or a free one) asks for a model its tier does not include: 403."""
    rng = p.rng
    paid = p.variant % 2 == 0
    created = p.latest - (rng.randint(3, 7) if paid else rng.randint(5, 40)) * DAY
    if paid:
        org = prepaid_org(w, p, created=created, tier="tier1", credit=rng.choice(("10.00", "20.00", "30.00")))
        wanted = premium_model(rng, p.provider)
    else:
        org = _free_org(w, p, created, rng.choice(("5.00", "10.00")))
        wanted = pick_model(rng, "standard", provider=p.provider)
    start = created + (26 if paid else 2) * HOUR
    s = _stream(
        p,
        start,
        model=pick_model(rng, "economy", provider=p.provider),
        per_day=rng.randint(100, 400 if not paid else 2000),
    )
    if not paid:
        s = Stream(s.key, s.model, s.start, s.end, s.per_day, hours=s.hours, input_tokens=s.input_tokens,
                   output_tokens=s.output_tokens, minute=s.minute)  # fmt: skip
    w.stream(org, s)
    try_at = p.latest - rng.randint(3, 40) * HOUR
    probe = Stream("prod", wanted, try_at, try_at + HOUR, 1, input_tokens=2000, output_tokens=500)
    w.act(
        org,
        try_at,
        lambda: w.driver.burst(org.id, probe, try_at, rng.randint(2, 4), spacing=timedelta(seconds=30)),
    )
    ticket_on_refusal(
        w, p, org, Truth("free_tier", "model_not_in_tier"), (Rule.MODEL_NOT_IN_TIER,), after=try_at,
        symptom="model_access", delay=(5, 300), facts={"model": wanted}, paste=0.75,
    )  # fmt: skip


# ------------------------------------------------------------------------------- keys


@scenario("invalid_or_revoked_key", "api_key_issue", history_days=14)
def revoked_key(w: World, p: Plan) -> None:
    """Keys are rotated and one service still presents the old (revoked) key; or a service
    presents a key this platform never issued (pasted from another account, mistyped)."""
    rng = p.rng
    created = p.latest - rng.randint(30, 400) * DAY
    org = prepaid_org(w, p, created=created, tier=rng.choice(("tier2", "tier3")), credit="500.00")
    start = p.latest - 14 * DAY
    w.stream(org, _stream(p, start, per_day=rng.randint(800, 3000)))
    service = rng.choice(("worker", "ingest", "reports", "chatbot"))
    w.key(org, service, created + 6 * MINUTE, name=f"{service}-service")
    side = _stream(p, start, key=service, per_day=rng.randint(200, 900))
    cut = p.latest - rng.randint(8, 60) * HOUR
    if p.variant % 2 == 0:
        w.stream(org, side)
        w.key(org, f"{service}-v2", cut - 10 * MINUTE, name=f"{service}-service-v2")
        w.act(org, cut, lambda: w.books.revoke_key(org.owner, cut, org.keys[service].id))
    else:
        w.stream(org, Stream(side.key, side.model, side.start, cut, side.per_day, hours=side.hours,
                             input_tokens=side.input_tokens, output_tokens=side.output_tokens, minute=side.minute))  # fmt: skip
        ghost = f"{service}-copied"
        w.ghost_key(
            org,
            ghost,
            "sk-qd-" + "".join(rng.choice("abcdefghjkmnpqrstuvwxyzABCDEFGH23456789") for _ in range(43)),
        )
        w.stream(org, Stream(ghost, side.model, cut, p.latest + DAY, side.per_day, hours=side.hours,
                             input_tokens=side.input_tokens, output_tokens=side.output_tokens, minute=side.minute))  # fmt: skip
    ticket_on_refusal(
        w, p, org, Truth("api_key_issue", "invalid_or_revoked_key"), (Rule.INVALID_KEY,), after=cut,
        symptom="key_invalid", facts={"service": service},
        # A key the platform never issued leaves no trace on the account: the customer's error is
        # the only evidence, and someone reporting it pastes it.
        paste=0.75 if p.variant % 2 == 0 else 1.0,
        paste_mode=None if p.variant % 2 == 0 else p.rng.choice(("attachment", "inline", "message")),
    )  # fmt: skip


@scenario("departed_member_key", "api_key_issue", history_days=14)
def departed_key(w: World, p: Plan) -> None:
    """A job runs on a member's personal key; the member leaves, the key is revoked with them."""
    rng = p.rng
    created = p.latest - rng.randint(60, 500) * DAY
    org = prepaid_org(w, p, created=created, tier=rng.choice(("tier2", "tier3")), credit="500.00")
    start = p.latest - 14 * DAY
    w.stream(org, _stream(p, start, per_day=rng.randint(800, 3000)))
    person = rng.choice(("Alice", "Bruno", "Chen", "Dmitri", "Esther", "Farah"))
    owner = f"{person.lower()}@{org.id.removeprefix('org_')}.example"
    service = rng.choice(("nightly-etl", "eval-runner", "support-bot", "data-pipeline"))
    w.key(org, "personal", created + 20 * DAY, scope="personal", owner=owner, environment=None,
          name=f"{person.lower()}-key")  # fmt: skip
    w.stream(org, _stream(p, start, key="personal", per_day=rng.randint(200, 1200)))
    left = p.latest - rng.randint(10, 72) * HOUR
    w.act(org, left, lambda: w.books.member_left(org.owner, left, org.id, owner))
    ticket_on_refusal(
        w, p, org, Truth("api_key_issue", "departed_member_key"), (Rule.INVALID_KEY, Rule.DEPARTED_MEMBER_KEY),
        after=left,
        symptom=rng.choice(("key_departed", "key_departed", "key_invalid")),
        facts={"person": person, "service": service}, paste=0.6,
    )  # fmt: skip


# ------------------------------------------------------------------------------- rate limit


@scenario("rate_limit", "rate_limit", history_days=14, needs="standard")
def rate_limit(w: World, p: Plan) -> None:
    """A paid tier-1 account sends long documents to a standard model: tokens per minute run
    out (30,000 TPM), or one request alone is larger than the minute's allowance."""
    rng = p.rng
    created = p.latest - rng.randint(4, 7) * DAY
    org = prepaid_org(w, p, created=created, tier="tier1", credit=rng.choice(("20.00", "40.00")))
    start = created + 26 * HOUR  # once tier 1 applies (a day after the card and the payment)
    model = pick_model(rng, "standard", provider=p.provider)
    w.stream(org, _stream(p, start, model=model, per_day=rng.randint(50, 200)))
    at = p.latest - rng.randint(4, 50) * HOUR
    big = Stream("prod", model, at, at + HOUR, 1, input_tokens=rng.randint(7000, 9500), output_tokens=800)
    if p.variant % 2 == 0:
        w.act(
            org, at, lambda: w.driver.burst(org.id, big, at, rng.randint(5, 8), spacing=timedelta(seconds=5))
        )
    else:
        w.act(org, at, lambda: w.driver.burst(org.id, big, at, 2, input_tokens=rng.randint(31000, 60000)))
    ticket_on_refusal(
        w, p, org, Truth("rate_limit", "rate_limit"), (Rule.RATE_LIMIT,), after=at, symptom="rate_limit",
        delay=(10, 300), facts={"model": model, "tier": "tier 1"}, paste=0.75,
    )  # fmt: skip


# ------------------------------------------------------------------------------- suspension


def _flagged(w: World, p: Plan, kind: str, root: str) -> None:
    rng = p.rng
    created = p.latest - rng.randint(20, 300) * DAY
    org = prepaid_org(w, p, created=created, tier=rng.choice(("tier1", "tier2", "tier3")), credit="300.00")
    start = p.latest - 14 * DAY
    w.stream(org, _stream(p, start, per_day=rng.randint(500, 3000)))
    at = p.latest - rng.randint(6, 72) * HOUR
    source = rng.choice(("automated", "automated", "manual"))
    w.act(org, at, lambda: w.books.raise_flag(TRUST_AND_SAFETY, at, org.id, kind, source=source,
                                              reason="simulated review"))  # fmt: skip
    ticket_on_refusal(
        w, p, org, Truth("account_suspension", root, "trust_and_safety"), (Rule.SUSPENDED,), after=at,
        symptom="suspended", paste=0.6,
    )  # fmt: skip


@scenario("policy_violation", "account_suspension")
def policy_violation(w: World, p: Plan) -> None:
    _flagged(w, p, "policy_violation", "policy_violation")


@scenario("fraud_flag", "account_suspension")
def fraud_flag(w: World, p: Plan) -> None:
    _flagged(w, p, "fraud", "fraud_flag")


@scenario("outstanding_balance", "account_suspension", history_days=35)
def outstanding_balance(w: World, p: Plan) -> None:
    """An invoiced account leaves an invoice unpaid: overdue (402) after its due date, and 30
    days later the month close raises the outstanding-balance flag and suspends it (401)."""
    rng = p.rng
    this_month = month_start(p.latest - 2 * DAY)
    unpaid_from = month_start(month_start(this_month - DAY) - DAY)
    created = unpaid_from - rng.randint(45, 90) * DAY
    org = invoiced_org(w, p, created=created, pay_until=unpaid_from, model=pick_model(rng, "economy", provider=p.provider),
                       per_day=rng.randint(300, 2000), end=p.latest + DAY)  # fmt: skip
    flag_at = unpaid_from + 60 * DAY
    w.tick_at(unpaid_from + 30 * DAY + 2 * HOUR)
    w.tick_at(flag_at + rng.randint(1, 6) * HOUR)
    ticket_on_refusal(
        w, p, org, Truth("account_suspension", "outstanding_balance", "finance"), (Rule.SUSPENDED,),
        after=flag_at, symptom="suspended", paste=0.6,
    )  # fmt: skip


@scenario("unconfirmed", "account_suspension", history_days=10)
def unconfirmed(w: World, p: Plan) -> None:
    """The customer believes the account is suspended; nothing in the books says so."""
    rng = p.rng
    created = p.latest - rng.randint(20, 300) * DAY
    org = prepaid_org(w, p, created=created, tier=rng.choice(("tier1", "tier2")), credit="200.00")
    w.stream(org, _stream(p, p.latest - 10 * DAY, per_day=rng.randint(300, 2000)))
    received = p.latest - rng.randint(1, 40) * HOUR
    raise_case(w, p, org, Truth("account_suspension", "unconfirmed"), received,
               compose=simple_compose(w, p, org, "suspected_suspension"))  # fmt: skip


# ------------------------------------------------------------------------------- outage, vague


INCIDENT_NAMES = (
    "Elevated error rates on Chat Completions",
    "Increased latency and errors for API requests",
    "Degraded performance on the Messages API",
    "Partial outage of the inference API",
    "Elevated 5xx errors for some models",
)
COMPONENTS = (("API",), ("Chat Completions",), ("Messages API", "API"), ("Inference API",))


def outage_window(w: World, p: Plan) -> Incident:
    """A status-page incident for this case, placed where no other case's ticket falls."""
    rng = p.rng
    start = p.latest - rng.randint(10, 120) * HOUR - rng.randint(0, 59) * MINUTE
    end = start + rng.randint(90, 300) * MINUTE
    inc = Incident(f"inc_{p.index:04d}", rng.choice(INCIDENT_NAMES), rng.choice(("major", "critical", "minor")),
                   rng.choice(COMPONENTS), start, end)  # fmt: skip
    return inc


@scenario("active_incident", "provider_outage", history_days=10, outage=True)
def active_incident(w: World, p: Plan) -> None:
    """The provider is failing requests (5xx) right now and says so on its status page."""
    rng = p.rng
    created = p.latest - rng.randint(20, 300) * DAY
    org = prepaid_org(w, p, created=created, tier=rng.choice(("tier1", "tier2", "tier3")), credit="300.00")
    s = _stream(p, p.latest - 10 * DAY, per_day=rng.randint(1000, 5000), hours=ALL_DAY)
    w.stream(org, s)
    inc = outage_window(w, p)
    w.incident(inc, rng.uniform(0.5, 0.9), rng.choice((503, 500, 502)))
    received = inc.start + rng.randint(15, 60) * MINUTE
    look = timedelta(minutes=rng.randint(3, max(4, int((inc.end - received).total_seconds() // 60) - 5)))
    from quotadesk.billing.dialects import generic_deny

    overloaded = generic_deny(Rule.OVERLOADED)
    w.driver.denies.setdefault(org.id, [])  # the 5xx are the provider's, kept apart from the rulebook's

    def compose(case: Case) -> dict[str, Any]:
        import random

        from quotadesk.sim import tickets
        from quotadesk.sim.scenarios.common import facts_for

        r = random.Random(f"{p.seed}:{p.index}:ticket")
        err = tickets.Pasted.of(overloaded, p.provider, inc.start + rng.randint(1, 14) * MINUTE)
        return tickets.write(
            r, "outage", facts_for(org, received, inc.start, model=s.model), ticket_id=p.ticket_id,
            pasted=err if r.random() < 0.6 else None,
        )  # fmt: skip

    raise_case(w, p, org, Truth("provider_outage", "active_incident"), received, look=look, compose=compose)


@scenario("undetermined", "needs_info", history_days=10)
def undetermined(w: World, p: Plan) -> None:
    """A healthy account and a ticket that does not say what is wrong."""
    rng = p.rng
    created = p.latest - rng.randint(20, 300) * DAY
    org = prepaid_org(w, p, created=created, tier=rng.choice(("tier1", "tier2", "tier3")), credit="200.00")
    w.stream(org, _stream(p, p.latest - 10 * DAY, per_day=rng.randint(300, 3000)))
    received = p.latest - rng.randint(1, 48) * HOUR
    raise_case(w, p, org, Truth("needs_info", "undetermined"), received,
               compose=simple_compose(w, p, org, "vague"))  # fmt: skip


_ = (Refusal, watch, invoiced_org)
