"""Incident 2, the unexpectedly high bill: what in the usage made it high.

Each account has weeks of ordinary traffic, then the cause: a runaway loop, a retry storm,
a deploy that swaps the model or bloats the context, a development key put to work in
production, steady growth, or usage metered after the invoice was issued (a discrepancy).
The accounts have credit (or an invoice) to spare: nothing is refused here.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

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
    prepaid_org,
    pricier_pair,
    quiet_hours,
    raise_case,
    scenario,
    simple_compose,
)
from quotadesk.sim.traffic import ALL_DAY, CI_HOURS, Outage, Stream
from quotadesk.sim.world import Case, SimOrg, Truth, World
from quotadesk.store.metering import UsageEvent

HISTORY = 45


def funded_org(w: World, p: Plan, *, created: datetime, monthly: int) -> SimOrg:
    """A prepaid account with credit for well over its month, or an invoiced one."""
    rng = p.rng
    credit = max(500, int(monthly * 3 / 1e9) // 100 * 100 + 100)
    org: SimOrg = prepaid_org(
        w, p, created=created, tier=rng.choice(("tier3", "tier4")), credit=f"{credit}.00"
    )
    return org


def base_stream(p: Plan, start: datetime, *, model: str | None = None, key: str = "prod") -> Stream:
    rng = p.rng
    return Stream(
        key,
        model or pick_model(rng, rng.choice(("economy", "economy", "standard")), provider=p.provider),
        start,
        p.latest + DAY,
        rng.randint(1500, 12000),
        hours=quiet_hours(rng) if rng.random() < 0.5 else ALL_DAY,
        input_tokens=rng.randint(600, 2500),
        output_tokens=rng.randint(150, 600),
        minute=rng.randrange(3, 57),
        weekend=rng.choice((0.3, 0.5, 1.0)),
    )


def _monthly(s: Stream) -> int:
    return day_spend(s.model, s.per_day, s.input_tokens, s.output_tokens) * 30


def _ticket_after(p: Plan, event: datetime, rng: random.Random, lo: int = 2, hi: int = 8) -> datetime:
    return min(p.latest - HOUR, event + rng.randint(lo, hi) * DAY + rng.randint(0, 10) * HOUR)


def _bill_case(w: World, p: Plan, org: SimOrg, root: str, event: datetime, *, hints: tuple[str, ...] = (),
               lo: int = 2, hi: int = 8) -> None:  # fmt: skip
    rng = p.rng
    received = _ticket_after(p, event, rng, lo, hi)
    usual = plain(_monthly(org.streams[0]) // 10_000_000_000 * 10_000_000_000 or 10_000_000_000)
    facts = {"date": f"{event:%Y-%m-%d}", "usual": usual, "month": f"{received:%B}"}
    raise_case(
        w, p, org, Truth("unexpected_high_bill", root), received,
        compose=simple_compose(w, p, org, "high_bill", hints=hints, paste=0.0, facts=facts),
        notes={"event": event.isoformat()},
    )  # fmt: skip


@scenario("runaway_loop", "unexpected_high_bill", history_days=HISTORY)
def runaway_loop(w: World, p: Plan) -> None:
    """One key sends a huge volume of new requests for some hours (a job stuck re-enqueuing
    its own work), spread evenly, then stops."""
    rng = p.rng
    start = p.latest - HISTORY * DAY
    created = start - rng.randint(20, 300) * DAY
    s = base_stream(p, start)
    org = funded_org(w, p, created=created, monthly=_monthly(s) * 3)
    w.stream(org, s)
    key = rng.choice(("prod", "worker"))
    if key == "worker":
        w.key(org, "worker", created + 7 * MINUTE, name=rng.choice(("queue-worker", "batch-worker", "cron")))
    day = p.latest - rng.randint(3, 12) * DAY
    begin = day.replace(hour=rng.randint(0, 18), minute=0, second=0, microsecond=0)
    hours = rng.randint(5, 20)
    hourly = s.per_day / len(s.hours) * rng.uniform(15, 45)
    loop = Stream(key, s.model, begin, begin + hours * HOUR, hourly * 24, hours=ALL_DAY,
                  input_tokens=s.input_tokens, output_tokens=s.output_tokens, minute=rng.randrange(0, 59),
                  weekend=1.0, bodies="distinct", jitter=0.05)  # fmt: skip
    w.stream(org, loop)
    _bill_case(w, p, org, "runaway_loop", begin,
               hints=("We did ship a release around {date}, not sure if it's related.",))  # fmt: skip


@scenario("retry_storm", "unexpected_high_bill", history_days=HISTORY)
def retry_storm(w: World, p: Plan) -> None:
    """The provider starts failing one request shape of this customer for some hours (long
    prompts time out); the customer's client retries every failure at once, the same body
    again and again, and the attempts the provider did process are billed."""
    rng = p.rng
    start = p.latest - HISTORY * DAY
    created = start - rng.randint(20, 300) * DAY
    s = base_stream(p, start)
    s = Stream(s.key, s.model, s.start, s.end, s.per_day, hours=s.hours, input_tokens=s.input_tokens,
               output_tokens=s.output_tokens, minute=s.minute, weekend=s.weekend, bodies="distinct",
               retries=rng.randint(8, 15))  # fmt: skip
    org = funded_org(w, p, created=created, monthly=_monthly(s) * 6)
    w.stream(org, s)
    for _ in range(20):
        day = p.latest - rng.randint(3, 12) * DAY
        begin = day.replace(hour=rng.choice(s.hours), minute=0, second=0, microsecond=0)
        end = begin + rng.randint(18, 54) * HOUR
        if not w.busy(begin - HOUR, end + HOUR):
            break
    # While it lasts, half or more of the attempts fail; the rest are processed and billed, though
    # the client has already given up on them and sent the same body again.
    w.driver.outages.append(
        Outage(begin, end, rng.uniform(0.5, 0.7), rng.choice((500, 502, 504)), org.id, "prod")
    )
    _bill_case(w, p, org, "retry_storm", begin)


@scenario("model_swap", "unexpected_high_bill", history_days=HISTORY, needs="swap")
def model_swap(w: World, p: Plan) -> None:
    """A deploy moves the same traffic to a pricier model from one day on."""
    rng = p.rng
    start = p.latest - HISTORY * DAY
    created = start - rng.randint(20, 300) * DAY
    cheap, dear = pricier_pair(rng, p.provider)
    s = base_stream(p, start, model=cheap)
    swap = (p.latest - rng.randint(8, 20) * DAY).replace(
        hour=rng.randint(9, 17), minute=0, second=0, microsecond=0
    )
    before = Stream(s.key, s.model, s.start, swap, s.per_day, hours=s.hours, input_tokens=s.input_tokens,
                    output_tokens=s.output_tokens, minute=s.minute, weekend=s.weekend)  # fmt: skip
    after = Stream(s.key, dear, swap, s.end, s.per_day, hours=s.hours, input_tokens=s.input_tokens,
                   output_tokens=s.output_tokens, minute=s.minute, weekend=s.weekend)  # fmt: skip
    org = funded_org(w, p, created=created, monthly=_monthly(after) * 2)
    w.stream(org, before)
    w.stream(org, after)
    _bill_case(w, p, org, "model_swap", swap, lo=5, hi=12,
               hints=("We deployed a new version around {date}.", "Nothing changed in our traffic."))  # fmt: skip


@scenario("context_bloat", "unexpected_high_bill", history_days=HISTORY)
def context_bloat(w: World, p: Plan) -> None:
    """From one day on each request carries far more tokens (the whole conversation history
    is resent), with the same number of requests."""
    rng = p.rng
    start = p.latest - HISTORY * DAY
    created = start - rng.randint(20, 300) * DAY
    s = base_stream(p, start)
    change = (p.latest - rng.randint(8, 20) * DAY).replace(
        hour=rng.randint(9, 17), minute=0, second=0, microsecond=0
    )
    factor = rng.uniform(2.2, 4.5)
    before = Stream(s.key, s.model, s.start, change, s.per_day, hours=s.hours, input_tokens=s.input_tokens,
                    output_tokens=s.output_tokens, minute=s.minute, weekend=s.weekend)  # fmt: skip
    after = Stream(s.key, s.model, change, s.end, s.per_day, hours=s.hours, input_tokens=int(s.input_tokens * factor),
                   output_tokens=s.output_tokens, minute=s.minute, weekend=s.weekend)  # fmt: skip
    org = funded_org(w, p, created=created, monthly=_monthly(after) * 2)
    w.stream(org, before)
    w.stream(org, after)
    _bill_case(w, p, org, "context_bloat", change, lo=5, hi=12,
               hints=("We added conversation memory to our chatbot recently.", "Request counts look normal to us."))  # fmt: skip


@scenario("dev_key_in_production", "unexpected_high_bill", history_days=HISTORY)
def dev_key(w: World, p: Plan) -> None:
    """A development (or CI) key, lightly used for testing, starts carrying production-sized
    traffic on a working-day or CI schedule."""
    rng = p.rng
    start = p.latest - HISTORY * DAY
    created = start - rng.randint(20, 300) * DAY
    s = base_stream(p, start)
    org = funded_org(w, p, created=created, monthly=_monthly(s) * 4)
    w.stream(org, s)
    env = rng.choice(("development", "development", "ci"))
    label = {
        "development": rng.choice(("dev", "staging", "local-dev")),
        "ci": rng.choice(("ci", "ci-runner")),
    }[env]
    w.key(org, "dev", created + 8 * MINUTE, environment=env, name=label)
    hours = CI_HOURS if env == "ci" else quiet_hours(rng)
    w.stream(org, Stream("dev", s.model, start, p.latest + DAY, rng.randint(20, 80), hours=hours,
                         input_tokens=s.input_tokens, output_tokens=s.output_tokens, minute=(s.minute + 23) % 60))  # fmt: skip
    since = (p.latest - rng.randint(8, 20) * DAY).replace(hour=0, minute=0, second=0, microsecond=0)
    w.stream(org, Stream("dev", s.model, since, p.latest + DAY, s.per_day * rng.uniform(0.8, 2.0), hours=hours,
                         input_tokens=s.input_tokens, output_tokens=s.output_tokens, minute=(s.minute + 37) % 60,
                         weekend=0.2 if env == "development" else 1.0, ip="198.51.100.23"))  # fmt: skip
    _bill_case(w, p, org, "dev_key_in_production", since, lo=5, hi=12)


@scenario("traffic_growth", "unexpected_high_bill", history_days=HISTORY)
def traffic_growth(w: World, p: Plan) -> None:
    """More requests every week, same models, same sizes."""
    rng = p.rng
    start = p.latest - 70 * DAY
    created = start - rng.randint(20, 300) * DAY
    s = base_stream(p, start)
    s = Stream(s.key, s.model, s.start, s.end, s.per_day * 0.35, hours=s.hours, input_tokens=s.input_tokens,
               output_tokens=s.output_tokens, minute=s.minute, weekend=s.weekend, growth=rng.uniform(0.015, 0.03))  # fmt: skip
    org = funded_org(w, p, created=created, monthly=_monthly(s) * 8)
    w.tick_at(start - HOUR, force=True)  # its tier applies before the traffic starts
    w.stream(org, s)
    received = p.latest - rng.randint(1, 30) * HOUR
    facts = {
        "month": f"{received:%B}",
        "usual": plain(_monthly(s) // 10_000_000_000 * 10_000_000_000 or 10**10),
    }
    raise_case(w, p, org, Truth("unexpected_high_bill", "traffic_growth"), received,
               compose=simple_compose(w, p, org, "high_bill", paste=0.0, facts=facts,
                                      hints=("Our user base is growing but not that fast.",)))  # fmt: skip


@scenario("billing_discrepancy", "unexpected_high_bill", history_days=35)
def billing_discrepancy(w: World, p: Plan) -> None:
    """An invoiced account: usage of last month that reached the books after the invoice was
    issued (a region's gateway replaying its backlog), so last month's usage no longer matches
    last month's invoice. Runs after the world's last month close (see ``store`` note in the
    simulator's docs: a later close would try to invoice the month again)."""
    rng = p.rng
    month = month_start(p.latest)
    last = month_start(month - DAY)
    created = last - rng.randint(40, 80) * DAY
    model = pick_model(rng, rng.choice(("economy", "standard")), provider=p.provider)
    per_day = rng.randint(800, 6000)
    org = invoiced_org(
        w, p, created=created, pay_until=None, model=model, per_day=per_day, end=p.latest + DAY
    )
    day_start = p.latest.replace(hour=0, minute=0, second=0, microsecond=0)
    late_at = day_start + rng.randint(40, 120) * MINUTE
    received = late_at + rng.randint(30, 180) * MINUTE
    inp, out = rng.randint(600, 2000), rng.randint(150, 500)
    share = rng.uniform(0.04, 0.15)
    monthly = day_spend(model, per_day, inp, out) * 30
    per_request = DEFAULT_PRICES[model].cost_nanos(inp, out)
    total_requests = max(50, int(monthly * share / max(per_request, 1)))

    def replay() -> None:
        events = []
        per_row = max(1, total_requests // 24)
        for h in range(24):
            ts = month - DAY + h * HOUR + 17 * MINUTE
            events.append(UsageEvent(
                request_id=f"late_{org.id}_{h:02d}", org_id=org.id, model=model, ts=ts,
                input_tokens=per_row * inp, output_tokens=per_row * out, key_id=org.keys["prod"].id,
                requests=per_row, ip="203.0.113.77",
            ))  # fmt: skip
        w.books.record_usage_batch(late_at, events)

    w.act(org, late_at, replay)

    def compose(case: Case) -> dict[str, Any]:
        from quotadesk.sim import tickets

        books_org = w.books.organization(org.id)
        inv = next((i for i in books_org.invoices if i.period_start == last), None)
        invoice = inv.amount if inv is not None else 0
        usage = _month_usage(w, org.id, last, month)
        r = random.Random(f"{p.seed}:{p.index}:ticket")
        facts = {
            "month": f"{last:%B}",
            "invoice": plain(invoice),
            "usage": plain(usage),
            "difference": plain(abs(usage - invoice)),
        }
        return tickets.write(r, "discrepancy", facts, ticket_id=p.ticket_id)

    raise_case(
        w,
        p,
        org,
        Truth("unexpected_high_bill", "billing_discrepancy", "billing_team"),
        received,
        look=timedelta(minutes=rng.randint(5, 60)),
        compose=compose,
    )


def _month_usage(w: World, org_id: str, start: datetime, end: datetime) -> int:
    from sqlalchemy import func, select

    from quotadesk.store.db import transaction
    from quotadesk.store.schema import usage_events

    with transaction(w.books.engine) as conn:
        value = conn.execute(
            select(func.coalesce(func.sum(usage_events.c.cost), 0)).where(
                usage_events.c.org_id == org_id, usage_events.c.ts >= start, usage_events.c.ts < end
            )
        ).scalar()
    return int(value or 0)


_ = invoiced_org
