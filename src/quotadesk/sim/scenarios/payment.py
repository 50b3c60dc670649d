"""Incident 1, payment failure: the card fails, credit runs out, auto-recharge fails, an invoice
goes unpaid, or a paid customer is still refused (sync delay).

Each account is funded for a few days of its own traffic, so the credit really runs out
under metering, and the customer's 402s are the rulebook's refusals.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from quotadesk.billing.decision import Rule
from quotadesk.billing.limits import month_start
from quotadesk.money import plain
from quotadesk.sim.scenarios.common import (
    DAY,
    DECLINES_LATER,
    GOOD_CARDS,
    HOUR,
    MINUTE,
    TIER_FUNDING,
    Plan,
    day_spend,
    invoiced_org,
    pick_model,
    prepaid_org,
    quiet_hours,
    raise_case,
    scenario,
    simple_compose,
    ticket_on_refusal,
    watch,
)
from quotadesk.sim.traffic import ALL_DAY, Refusal, Stream
from quotadesk.sim.world import Case, SimOrg, Truth, World

CREDIT_RULES = (Rule.CREDITS_EXHAUSTED,)


def _funded_stream(
    w: World, p: Plan, org: SimOrg, *, start: datetime, credit: str, days: tuple[float, float]
) -> Stream:
    """A stream that spends ``credit`` in about ``days`` (weekdays) of traffic."""
    rng = p.rng
    model = pick_model(rng, rng.choice(("economy", "economy", "standard")), provider=p.provider)
    inp, out = rng.randint(600, 2500), rng.randint(150, 600)
    per_request = day_spend(model, 1000, inp, out) / 1000
    budget = int(float(credit) * 1e9)
    per_day = budget / rng.uniform(*days) / max(per_request, 1)
    hours = quiet_hours(rng) if rng.random() < 0.6 else ALL_DAY
    s = Stream("prod", model, start, p.latest + DAY, per_day, hours=hours, input_tokens=inp, output_tokens=out,
               minute=rng.randrange(3, 57))  # fmt: skip
    return s


@scenario("credits_exhausted", "payment_failure", history_days=16)
def credits_exhausted(w: World, p: Plan) -> None:
    rng = p.rng
    created = p.latest - rng.randint(30, 400) * DAY
    tier = rng.choice(("tier1", "tier2", "tier3"))
    org = prepaid_org(w, p, created=created, tier=tier)
    start = p.latest - 16 * DAY
    credit = TIER_FUNDING[tier][0]
    w.stream(org, _funded_stream(w, p, org, start=start, credit=credit, days=(4.0, 8.0)))
    ticket_on_refusal(
        w, p, org, Truth("payment_failure", "credits_exhausted"), CREDIT_RULES, after=start,
        symptom="cutoff",
        hints=("I'm pretty sure we still have credit.", "We topped up a while ago.",
               "Did our balance run out?", "I have money in the account!"),
    )  # fmt: skip


@scenario("card_expired_or_declined", "payment_failure", history_days=16)
def card_declined(w: World, p: Plan) -> None:
    """Credit runs out; the customer tries to buy more with a card that fails: a new card the
    processor declines (Stripe's ...0341), or the card on file that expired last month."""
    rng = p.rng
    created = p.latest - rng.randint(60, 500) * DAY
    tier = rng.choice(("tier1", "tier2", "tier3"))
    expired = p.variant % 2 == 1
    exp = (month_start(p.latest - 40 * DAY).month, (p.latest - 40 * DAY).year) if expired else (12, 2030)
    org = prepaid_org(w, p, created=created, tier=tier, exp=exp)
    start = p.latest - 16 * DAY
    credit = TIER_FUNDING[tier][0]
    w.stream(org, _funded_stream(w, p, org, start=start, credit=credit, days=(4.0, 8.0)))
    amount = rng.choice(("25.00", "40.00", "50.00", "100.00", "250.00"))

    def try_card(r: Refusal, received: datetime) -> None:
        when = r.at + rng.randint(5, 90) * MINUTE
        if not expired:
            w.card(org, "new", when, DECLINES_LATER, rng.randint(1, 12), p.latest.year + rng.randint(1, 4))
            w.top_up(org, when + 2 * MINUTE, amount)
        else:
            w.top_up(org, when, amount)

    hints = (
        ("Maybe it's the card? Not sure.", "Our card might have expired.", "I tried to buy credits and it didn't work.")
        if expired
        else ("I tried to add credits with our new company card and it didn't go through.",
              "We just switched to a new card.", "The top-up failed too.")
    )  # fmt: skip
    ticket_on_refusal(
        w, p, org, Truth("payment_failure", "card_expired_or_declined"), CREDIT_RULES, after=start,
        symptom="cutoff", hints=hints, delay=(100, 400), then=try_card, facts={"amount": amount},
    )  # fmt: skip


@scenario("auto_recharge_failed", "payment_failure", history_days=16)
def auto_recharge_failed(w: World, p: Plan) -> None:
    """Auto-recharge is on; its charge fails (the card on file expired, or the new card is one
    the processor declines), so the balance reaches zero."""
    rng = p.rng
    created = p.latest - rng.randint(60, 500) * DAY
    tier = rng.choice(("tier2", "tier3"))
    declined = p.variant % 2 == 1
    start = p.latest - 16 * DAY
    exp_at = start + rng.randint(1, 5) * DAY
    exp = (12, 2030) if declined else ((exp_at - 32 * DAY).month, (exp_at - 32 * DAY).year)
    org = prepaid_org(w, p, created=created, tier=tier, exp=exp)
    threshold = rng.choice(("5.00", "10.00", "20.00"))
    amount = rng.choice(("20.00", "25.00", "50.00"))
    credit = TIER_FUNDING[tier][0]
    w.act(org, created + HOUR, lambda: w.books.set_auto_recharge(
        org.owner, created + HOUR, org.id, enabled=True, threshold=threshold, amount=amount))  # fmt: skip
    stream = _funded_stream(w, p, org, start=start, credit=credit, days=(3.0, 5.0))
    w.stream(org, stream)
    if declined:
        swap = start + rng.randint(0, 2) * DAY + rng.randint(9, 17) * HOUR
        w.card(org, "new", swap, DECLINES_LATER, rng.randint(1, 12), p.latest.year + 2)
    ticket_on_refusal(
        w, p, org, Truth("payment_failure", "auto_recharge_failed"), CREDIT_RULES, after=start,
        symptom="cutoff",
        hints=("We have auto top-up turned on so this shouldn't happen.", "Auto recharge is enabled on our account.",
               "I thought auto-recharge would keep the balance up."),
    )  # fmt: skip


@scenario("sync_delay", "payment_failure", history_days=14)
def sync_delay(w: World, p: Plan) -> None:
    """Credit ran out, the customer paid, and writes minutes later still seeing the 402 they got
    before paying (route none: wait 10 minutes). In the second variant the provider's edge
    keeps serving that refusal long after the payment (route engineering)."""
    rng = p.rng
    created = p.latest - rng.randint(30, 300) * DAY
    tier = rng.choice(("tier1", "tier2"))
    org = prepaid_org(w, p, created=created, tier=tier)
    start = p.latest - 14 * DAY
    credit = TIER_FUNDING[tier][0]
    w.stream(org, _funded_stream(w, p, org, start=start, credit=credit, days=(4.0, 8.0)))
    stale = p.variant % 2 == 1
    amount = rng.choice(("20.00", "50.00", "100.00"))
    truth = Truth("payment_failure", "sync_delay", "engineering" if stale else "none")

    def on(r: Refusal) -> None:
        paid_at = r.at + rng.randint(15, 240) * MINUTE
        w.top_up(org, paid_at, amount)
        if stale:
            received = paid_at + rng.randint(25, 120) * MINUTE
            seen = received - rng.randint(1, 10) * MINUTE
            look = timedelta(minutes=rng.randint(3, 60))
        else:
            received = paid_at + rng.randint(2, 6) * MINUTE
            seen = received - MINUTE
            look = timedelta(minutes=rng.randint(0, 3))
        compose = simple_compose(
            w, p, org, "topped_up", since=paid_at, rules=CREDIT_RULES, paste=0.9 if stale else 0.75,
            facts={"amount": amount}, paste_mode="attachment" if stale else None,
        )  # fmt: skip

        def stale_compose(case: Case) -> dict[str, Any]:
            t = compose(case)
            # The refusal the customer still gets is the one the rulebook gave before the payment,
            # served again by a stale cache in front of the books: same body, a later time.
            for a in t["attachments"]:
                if a.get("kind") == "error_response":
                    a["seen_at"] = seen.isoformat().replace("+00:00", "Z")
            if stale:
                t["body"] = str(t["body"]) + f"\n\nStill failing as of {seen:%H:%M} UTC."
            return t

        raise_case(w, p, org, truth, received, look=look, compose=stale_compose,
                   notes={"paid_at": paid_at.isoformat()})  # fmt: skip

    watch(w, org, CREDIT_RULES, start, on)


@scenario("invoice_overdue", "payment_failure", history_days=35)
def invoice_overdue(w: World, p: Plan) -> None:
    """An invoiced account stops paying: last month's invoice falls due unpaid, the month close
    marks it overdue, and admission cuts the API off (402 invoice_overdue)."""
    rng = p.rng
    this_month = month_start(p.latest - 3 * DAY)
    unpaid_from = month_start(this_month - DAY)  # the invoice issued on the 1st of last month
    created = unpaid_from - rng.randint(70, 200) * DAY
    model = pick_model(rng, rng.choice(("economy", "standard")), provider=p.provider)
    per_day = rng.randint(300, 3000)
    org = invoiced_org(w, p, created=created, pay_until=unpaid_from, model=model, per_day=per_day,
                       end=p.latest + DAY)  # fmt: skip
    due = unpaid_from + 30 * DAY
    w.tick_at(due + rng.randint(1, 5) * HOUR)
    ticket_on_refusal(
        w, p, org, Truth("payment_failure", "invoice_overdue", "finance"), (Rule.INVOICE_OVERDUE,),
        after=due, symptom="cutoff",
        hints=("We're on monthly invoicing.", "Our finance team handles the invoices.",
               "Could this be about billing? Our AP team changed recently."),
    )  # fmt: skip
    _ = plain, GOOD_CARDS
