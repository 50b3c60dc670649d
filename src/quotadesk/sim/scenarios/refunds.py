"""Incident 5, refund requests: the customer wants money back, and the usage says why it was spent.

A leaked key used by strangers (security), retries during a provider incident (billing team),
the customer's own bug (billing team, with their log), a premium model chosen on purpose,
a job left running: the last two are explained, not escalated.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from quotadesk.money import plain
from quotadesk.sim.scenarios.access import outage_window
from quotadesk.sim.scenarios.bills import base_stream, funded_org
from quotadesk.sim.scenarios.common import (
    DAY,
    HOUR,
    MINUTE,
    Plan,
    day_spend,
    pick_model,
    premium_model,
    quiet_hours,
    raise_case,
    scenario,
    simple_compose,
)
from quotadesk.sim.traffic import ALL_DAY, Stream
from quotadesk.sim.world import Case, SimOrg, Truth, World

HISTORY = 40


def _spent(s: Stream, hours: float) -> str:
    per_hour = day_spend(s.model, s.per_day, s.input_tokens, s.output_tokens) / 24
    return plain(int(per_hour * hours) // 1_000_000_000 * 1_000_000_000 or 1_000_000_000)


def _refund_case(w: World, p: Plan, org: SimOrg, root: str, route: str, event: datetime, symptom: str, *,
                 facts: dict[str, str], attachments: tuple[dict[str, Any], ...] = (),
                 extra_lines: tuple[str, ...] = (), key_exposed: bool = False, lo: int = 1, hi: int = 6) -> None:  # fmt: skip
    rng = p.rng
    received = min(p.latest - HOUR, event + rng.randint(lo, hi) * DAY + rng.randint(0, 12) * HOUR)
    raise_case(
        w, p, org, Truth("refund_request", root, route, key_exposed=key_exposed), received,
        compose=simple_compose(w, p, org, symptom, paste=0.0, facts={"date": f"{event:%Y-%m-%d}", **facts},
                               attachments=attachments, extra_lines=extra_lines),
        notes={"event": event.isoformat()},
    )  # fmt: skip


@scenario("account_compromise", "refund_request", history_days=HISTORY, needs="premium")
def compromise(w: World, p: Plan) -> None:
    """The production key leaks; for a day or two it is used from unknown addresses, at night
    for this account, on a premium model the account never calls. Sometimes the customer
    pastes the leaked key into the ticket."""
    rng = p.rng
    start = p.latest - HISTORY * DAY
    created = start - rng.randint(30, 300) * DAY
    hours = quiet_hours(rng)
    s = base_stream(p, start)
    s = Stream(s.key, s.model, s.start, s.end, s.per_day, hours=hours, input_tokens=s.input_tokens,
               output_tokens=s.output_tokens, minute=s.minute, weekend=s.weekend)  # fmt: skip
    org = funded_org(w, p, created=created, monthly=day_spend(s.model, s.per_day, 2000, 600) * 90)
    w.stream(org, s)
    leak = (p.latest - rng.randint(4, 12) * DAY).replace(minute=0, second=0, microsecond=0)
    night = tuple(h for h in range(24) if h not in hours)
    model = premium_model(rng, p.provider)
    abuse = Stream("prod", model, leak, leak + rng.randint(18, 60) * HOUR, rng.randint(2000, 6000), hours=night,
                   input_tokens=rng.randint(1500, 4000), output_tokens=rng.randint(600, 1500), weekend=1.0,
                   minute=rng.randrange(0, 59), ip=f"185.220.{rng.randint(100, 200)}.{rng.randint(2, 250)}",
                   bodies="distinct")  # fmt: skip
    w.stream(org, abuse)
    exposed = p.variant % 2 == 1
    noticed = abuse.end + rng.randint(2, 20) * HOUR
    w.key(org, "prod-rotated", noticed, name="production-rotated")
    w.act(
        org,
        noticed + 5 * MINUTE,
        lambda: w.books.revoke_key(org.owner, noticed + 5 * MINUTE, org.keys["prod"].id),
    )
    received = min(p.latest - HOUR, noticed + rng.randint(1, 30) * HOUR)
    facts = {"date": f"{leak:%Y-%m-%d}", "amount": _spent(abuse, 30), "model": model}
    base = simple_compose(w, p, org, "refund_compromise", paste=0.0, facts=facts)

    def compose(case: Case) -> dict[str, Any]:
        t = base(case)
        if exposed:
            secret = org.keys["prod"].secret
            r = random.Random(f"{p.seed}:{p.index}:key")
            line = r.choice(
                ("The key that leaked is {s}", "This is the key: {s}", "key was {s} (revoked now)")
            )
            t["body"] = str(t["body"]) + "\n\n" + line.format(s=secret)
        return t

    raise_case(w, p, org, Truth("refund_request", "account_compromise", "security", key_exposed=exposed), received,
               compose=compose, notes={"event": leak.isoformat()})  # fmt: skip


@scenario("provider_outage_retries", "refund_request", history_days=HISTORY, outage=True)
def outage_retries(w: World, p: Plan) -> None:
    """A status-page incident some days ago; this customer's client retried every failure at
    once and the attempts the provider did process were billed."""
    rng = p.rng
    start = p.latest - HISTORY * DAY
    created = start - rng.randint(30, 300) * DAY
    s = base_stream(p, start)
    s = Stream(s.key, s.model, s.start, s.end, s.per_day, hours=ALL_DAY, input_tokens=s.input_tokens,
               output_tokens=s.output_tokens, minute=s.minute, weekend=s.weekend, bodies="distinct",
               retries=rng.randint(10, 20))  # fmt: skip
    org = funded_org(
        w, p, created=created, monthly=day_spend(s.model, s.per_day, s.input_tokens, s.output_tokens) * 90
    )
    w.stream(org, s)
    inc = outage_window(w, p)
    shift = (p.latest - inc.start) - rng.randint(3, 10) * DAY  # move it days back: it is over now
    inc = type(inc)(
        inc.id, inc.name, inc.impact, inc.components, inc.start + shift, inc.end + shift + 3 * HOUR
    )
    w.incident(inc, rng.uniform(0.5, 0.7), rng.choice((500, 502, 503)))
    hours = (inc.end - inc.start).total_seconds() / 3600
    _refund_case(w, p, org, "provider_outage_retries", "billing_team", inc.start, "refund_outage",
                 facts={"amount": _spent(s, hours * 3)}, lo=1, hi=4)  # fmt: skip


BUGS = (
    "an infinite retry loop",
    "a recursion bug",
    "a missing break in a while loop",
    "a cron job scheduled every second",
)
LOGS = (
    "{ts} worker-3 ERROR job 8841 failed: timeout, re-enqueueing\n{ts} worker-3 ERROR job 8841 failed: timeout, "
    "re-enqueueing\n{ts} worker-3 ERROR job 8841 failed: timeout, re-enqueueing\n... (repeated 41,223 times)",
    'Traceback (most recent call last):\n  File "summarize.py", line 88, in summarize\n    return summarize(chunk)'
    '\n  File "summarize.py", line 88, in summarize\n    return summarize(chunk)\n[Previous line repeated 996 more '
    "times]\nRecursionError: maximum recursion depth exceeded",
    "while True:\n    resp = client.chat.completions.create(model=MODEL, messages=msgs)\n    # TODO break when done\n"
    "{ts} loop iteration 18230",
    "{ts} cron: */1 * * * * * run_enrichment.py  (should have been 0 * * * *)\n{ts} run_enrichment.py: processed 500 rows",
)


@scenario("code_bug", "refund_request", history_days=HISTORY)
def code_bug(w: World, p: Plan) -> None:
    """A bug on the customer's side makes one key hammer the API for hours; they own up, attach
    a log excerpt, and ask for a refund."""
    rng = p.rng
    start = p.latest - HISTORY * DAY
    created = start - rng.randint(30, 300) * DAY
    s = base_stream(p, start)
    org = funded_org(
        w, p, created=created, monthly=day_spend(s.model, s.per_day, s.input_tokens, s.output_tokens) * 90
    )
    w.stream(org, s)
    day = p.latest - rng.randint(3, 12) * DAY
    begin = day.replace(hour=rng.randint(0, 18), minute=0, second=0, microsecond=0)
    hours = rng.randint(4, 16)
    hourly = s.per_day / len(s.hours) * rng.uniform(15, 45)
    bug = Stream("prod", s.model, begin, begin + hours * HOUR, hourly * 24, hours=ALL_DAY,
                 input_tokens=s.input_tokens, output_tokens=s.output_tokens, minute=rng.randrange(0, 59),
                 weekend=1.0, bodies=rng.choice(("distinct", "repeat")), jitter=0.05)  # fmt: skip
    w.stream(org, bug)
    log = rng.choice(LOGS).replace("{ts}", f"{begin + 2 * HOUR:%Y-%m-%dT%H:%M:%SZ}")
    attach: tuple[dict[str, Any], ...] = (
        ({"kind": "log_excerpt", "text": log},) if rng.random() < 0.75 else ()
    )
    _refund_case(w, p, org, "code_bug", "billing_team", begin, "refund_bug",
                 facts={"amount": _spent(bug, hours), "bug": rng.choice(BUGS)}, attachments=attach)  # fmt: skip


@scenario("expensive_model", "refund_request", history_days=HISTORY, needs="premium")
def expensive_model(w: World, p: Plan) -> None:
    """The customer built on a premium model from the start and steadily; the bill is what
    that model costs."""
    rng = p.rng
    start = p.latest - HISTORY * DAY
    created = start - rng.randint(10, 200) * DAY
    model = premium_model(rng, p.provider)
    s = base_stream(p, start, model=model)
    s = Stream(s.key, model, s.start, s.end, max(200, s.per_day // 6), hours=s.hours, input_tokens=s.input_tokens,
               output_tokens=s.output_tokens, minute=s.minute, weekend=s.weekend)  # fmt: skip
    org = funded_org(
        w, p, created=created, monthly=day_spend(model, s.per_day, s.input_tokens, s.output_tokens) * 60
    )
    w.stream(org, s)
    side = pick_model(rng, "economy", provider=p.provider)
    w.stream(
        org,
        Stream("prod", side, start, s.end, rng.randint(50, 300), hours=s.hours, minute=(s.minute + 29) % 60),
    )
    received = p.latest - rng.randint(1, 30) * HOUR
    raise_case(w, p, org, Truth("refund_request", "expensive_model"), received,
               compose=simple_compose(w, p, org, "refund_expensive", paste=0.0,
                                      facts={"model": model, "amount": _spent(s, 24 * 30)}))  # fmt: skip


@scenario("forgot_to_stop", "refund_request", history_days=HISTORY)
def forgot_to_stop(w: World, p: Plan) -> None:
    """A batch or eval script started on a working day keeps running flat through nights and
    the weekend until someone stops it."""
    rng = p.rng
    start = p.latest - HISTORY * DAY
    created = start - rng.randint(30, 300) * DAY
    hours = quiet_hours(rng)
    s = base_stream(p, start)
    s = Stream(s.key, s.model, s.start, s.end, s.per_day, hours=hours, input_tokens=s.input_tokens,
               output_tokens=s.output_tokens, minute=s.minute, weekend=0.3)  # fmt: skip
    org = funded_org(
        w, p, created=created, monthly=day_spend(s.model, s.per_day, s.input_tokens, s.output_tokens) * 90
    )
    w.stream(org, s)
    w.key(
        org,
        "eval",
        created + 9 * MINUTE,
        name=rng.choice(("eval-script", "batch", "notebook")),
        environment=rng.choice(("development", None)),
    )
    begin = (p.latest - rng.randint(5, 12) * DAY).replace(
        hour=rng.choice(hours), minute=0, second=0, microsecond=0
    )
    days = rng.randint(3, 8)
    stopped = begin + days * DAY
    job = Stream("eval", s.model, begin, stopped, s.per_day * rng.uniform(0.6, 1.5), hours=ALL_DAY,
                 input_tokens=s.input_tokens, output_tokens=s.output_tokens, weekend=1.0, jitter=0.03,
                 minute=(s.minute + 31) % 60, bodies="distinct")  # fmt: skip
    w.stream(org, job)
    _refund_case(w, p, org, "forgot_to_stop", "none", stopped, "refund_forgot",
                 facts={"amount": _spent(job, days * 24), "days": str(days)}, lo=0, hi=3)  # fmt: skip
