"""The support desk on simulated accounts: the demo's month, and the practice mode's deals.

``run_demo`` stages about a dozen organizations in one world (most raise a ticket, a few
just use the API), plays a month of their traffic through the books, triages every ticket
and returns one summary row per ticket. ``deal`` stages cases for practice.
``account_view`` is what a support engineer sees of a case before deciding: the ticket and
the account, never the answer.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from quotadesk.billing.grants import spendable_balance
from quotadesk.errors import InputError
from quotadesk.money import fmt
from quotadesk.sim.run import build_world, pick_root_causes
from quotadesk.sim.world import Case, World
from quotadesk.store.books import Books

DEMO_ROOTS = (
    "card_expired_or_declined",
    "hard_limit_reached",
    "retry_storm",
    "trial_credits_expired",
    "policy_violation",
    "departed_member_key",
    "model_swap",
    "account_compromise",
    "rate_limit",
)
"""The demo's tickets: one of each kind of trouble a desk meets most (the seed rotates variants)."""

INCIDENT_ROOTS: dict[str, tuple[str, ...]] = {
    "provider_outage": ("active_incident",),
    "payment_failure": (
        "card_expired_or_declined",
        "credits_exhausted",
        "auto_recharge_failed",
        "invoice_overdue",
        "sync_delay",
    ),
    "unexpected_high_bill": (
        "runaway_loop",
        "retry_storm",
        "model_swap",
        "context_bloat",
        "dev_key_in_production",
        "traffic_growth",
        "billing_discrepancy",
    ),
    "spending_limit": ("hard_limit_reached",),
    "free_tier": (
        "trial_credits_consumed",
        "trial_credits_expired",
        "free_tier_rate_limit",
        "tier_upgrade_pending",
        "model_not_in_tier",
    ),
    "refund_request": (
        "account_compromise",
        "provider_outage_retries",
        "code_bug",
        "expensive_model",
        "forgot_to_stop",
    ),
    "account_suspension": ("policy_violation", "fraud_flag", "outstanding_balance", "unconfirmed"),
    "api_key_issue": ("invalid_or_revoked_key", "departed_member_key"),
    "rate_limit": ("rate_limit",),
    "needs_info": ("undetermined",),
}
"""The contract's incidents and their root causes, in the contract's order."""

ROUTES = ("none", "billing_team", "trust_and_safety", "finance", "security", "engineering")


@dataclass(frozen=True, slots=True)
class DeskRow:
    """One ticket on the desk: who, what triage found, the figure that matters, the file."""

    case: str
    ticket: str
    customer: str
    incident: str
    root_cause: str
    route: str
    figure: str
    matches_truth: bool
    path: Path | None


GENERIC_FACTS = (
    "Error seen",
    "Ticket",
    "Usage total for",
    "Spendable balance at as_of",
    "Status-page incident",
)


def key_figure(result: dict[str, Any], width: int = 70) -> str:
    """The evidence line a desk lead would read first: the first figure from the books or the
    usage that is specific to this case (not the customer's own error, not a month's total,
    not the balance or the status page unless nothing more specific was found)."""
    facts = [e["fact"] for e in result.get("evidence", []) if any(ch.isdigit() for ch in e["fact"])]
    specific = [f for f in facts if not f.startswith(GENERIC_FACTS)]
    if result.get("incident") == "provider_outage":
        specific = [f for f in facts if f.startswith("Status-page incident")] or specific
    chosen = str((specific or facts or [""])[0])
    return chosen if len(chosen) <= width else chosen[: width - 3] + "..."


def demo_picks(seed: int, count: int) -> list[tuple[int, str, int]]:
    roots = list(DEMO_ROOTS)
    rng = random.Random(f"demo:{seed}")
    rng.shuffle(roots)
    extra = [r for r, _ in pick_root_causes(seed, 40) if r not in roots]
    chosen = (roots + extra)[:count]
    return [(i + 1, root, rng.randrange(2)) for i, root in enumerate(chosen)]


DayHook = Callable[[int, int], None]


def empty_books(url: str) -> Books:
    """Books at ``url``, which must hold no organization yet (the demo's names are fixed)."""
    from sqlalchemy import func, select

    from quotadesk.store.db import transaction
    from quotadesk.store.schema import organizations

    books = Books.open(url)
    with transaction(books.engine) as conn:
        n = conn.execute(select(func.count()).select_from(organizations)).scalar()
    if n:
        books.close()
        raise InputError(f"the demo needs an empty database; this one has {n} organizations", "db")
    return books


def stage_demo(books: Books, seed: int, tickets: int = 9, background: int = 3) -> World:
    """The demo's world: ``tickets`` organizations that will write in, ``background`` that won't."""
    picks = demo_picks(seed, tickets)
    return build_world(seed, 0, picks, books, background=background, ticket_prefix="T", name_prefix="case")


def play(w: World, on_day: DayHook | None = None) -> None:
    """Run the world, reporting each simulated day of its busy window."""
    total = max(1, (w.end - w.daily_from).days + 1)
    if on_day is not None:
        w.on_day = lambda day: on_day(min(total, (day - w.daily_from).days + 1), total)
    w.run()


def demo_name(case: Case, n: int) -> str:
    slug = "".join(c for c in case.customer.lower() if c.isalnum())[:14]
    return f"{n:02d}-{slug}"


def triage_cases(
    cases: Sequence[Case], out_dir: Path | None, on_case: Callable[[int, int], None] | None = None
) -> list[DeskRow]:
    """Triage each case (in ticket order), write ``NAME.json``/``NAME.expected.json`` to
    ``out_dir`` when given, and return the desk's rows."""
    from quotadesk.triage.bundle import parse
    from quotadesk.triage.engine import triage_bundle

    rows = []
    ordered = sorted((c for c in cases if c.bundle is not None), key=lambda c: c.received_at)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    for n, case in enumerate(ordered, 1):
        assert case.bundle is not None
        name = demo_name(case, n)
        path = None
        if out_dir is not None:
            path = out_dir / f"{name}.json"
            path.write_text(json.dumps(case.bundle, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            (out_dir / f"{name}.expected.json").write_text(json.dumps(case.truth.expected(), indent=1) + "\n")
        result = triage_bundle(parse(case.bundle))
        truth = case.truth
        rows.append(
            DeskRow(
                case=name,
                ticket=case.ticket_id,
                customer=case.customer,
                incident=result["incident"],
                root_cause=result["root_cause"],
                route=result["route"],
                figure=key_figure(result),
                matches_truth=(result["incident"], result["root_cause"], result["route"])
                == (truth.incident, truth.root_cause, truth.route),
                path=path,
            )
        )
        if on_case is not None:
            on_case(n, len(ordered))
    return rows


@dataclass(frozen=True, slots=True)
class DemoReport:
    rows: list[DeskRow]
    organizations: int
    usage_rows: int
    refusals: Counter[int]
    start: str
    end: str
    seconds: float


def run_demo(
    books: Books,
    seed: int,
    out_dir: Path | None,
    *,
    tickets: int = 9,
    background: int = 3,
    on_day: DayHook | None = None,
    on_case: Callable[[int, int], None] | None = None,
) -> DemoReport:
    """Stage, play and triage the demo month (see the module docstring)."""
    t0 = time.perf_counter()
    w = stage_demo(books, seed, tickets, background)
    play(w, on_day)
    rows = triage_cases(w.cases, out_dir, on_case)
    refusals: Counter[int] = Counter()
    for refs in w.driver.denies.values():
        refusals.update(r.deny.status for r in refs)
    from sqlalchemy import func, select

    from quotadesk.store.db import transaction
    from quotadesk.store.schema import usage_events

    with transaction(books.engine) as conn:
        usage = int(conn.execute(select(func.count()).select_from(usage_events)).scalar() or 0)
    return DemoReport(
        rows=rows,
        organizations=len(w.orgs),
        usage_rows=usage,
        refusals=refusals,
        start=f"{w.daily_from:%Y-%m-%d}",
        end=f"{w.end:%Y-%m-%d}",
        seconds=time.perf_counter() - t0,
    )


# ------------------------------------------------------------------------------------ practice


def deal(seed: int, rounds: int, books: Books) -> list[Case]:
    """``rounds`` practice cases (random root causes, seeded), staged and played in one world."""
    if rounds < 1:
        raise InputError("must be at least 1", "--rounds")
    rng = random.Random(f"practice:{seed}")
    roots = [r for r, _ in pick_root_causes(rng.randrange(10**6), 40)]
    picks = [(i + 1, roots[i % len(roots)], rng.randrange(2)) for i in range(rounds)]
    w = build_world(seed, 0, picks, books, ticket_prefix="P")
    w.run()
    cases = sorted((c for c in w.cases if c.bundle is not None), key=lambda c: c.name)
    return cases


def account_view(doc: dict[str, Any]) -> dict[str, Any]:
    """What the desk sees before deciding: the ticket and a digest of the account and usage."""
    from quotadesk.triage.bundle import parse

    b = parse(doc)
    t = b.ticket
    view: dict[str, Any] = {
        "ticket": {
            "id": t.id,
            "received_at": f"{t.received_at:%Y-%m-%d %H:%M} UTC",
            "subject": t.subject,
            "body": t.body,
            "attachments": [
                (f"error {a.status}: {a.body}" if a.kind == "error_response" else f"log: {a.text}")
                for a in t.attachments
            ],
        },
        "as_of": f"{b.as_of:%Y-%m-%d %H:%M} UTC",
        "provider": b.provider,
    }
    incidents = [f"{i.name} ({i.status}, since {i.created_at:%Y-%m-%d %H:%M})" for i in b.incidents or ()]
    view["status_page"] = incidents or ["no incidents"]
    org = b.account
    if org is None:
        return view
    as_of = b.as_of
    card = next(
        (pm for pm in org.payment_methods if pm.default),
        org.payment_methods[0] if org.payment_methods else None,
    )
    view["account"] = {
        "org": f"{org.name} ({org.id}), {org.billing_mode.value}, since {org.created_at:%Y-%m-%d}"
        if org.created_at
        else org.id,
        "status": f"{org.status.value}, console {org.console_access.value}",
        "flags": [
            f"{f.kind.value} ({f.source.value}, {f.at:%Y-%m-%d}, {'active' if f.active else 'lifted'})"
            for f in org.flags
        ],
        "tier": org.tier.current + (f" (pending {org.tier.pending.target})" if org.tier.pending else ""),
        "balance": fmt(spendable_balance(org.credit_grants, as_of))
        if org.billing_mode.value == "prepaid"
        else "invoiced",
        "card": f"{card.brand} ...{card.last4} exp {card.exp_month:02d}/{card.exp_year} ({card.status.value})"
        if card and card.exp_month and card.exp_year
        else "none on file",
        "auto_recharge": (
            f"on: below {fmt(org.auto_recharge.threshold or 0)} add {fmt(org.auto_recharge.amount or 0)}"
            if org.auto_recharge.enabled
            else "off"
        ),
        "limits": f"soft {fmt(org.spend_limits.soft) if org.spend_limits.soft is not None else '-'}, "
        f"hard {fmt(org.spend_limits.hard) if org.spend_limits.hard is not None else '-'}",
        "payments": [
            f"{p.at:%Y-%m-%d %H:%M} {p.purpose.value} {fmt(p.amount)} {p.status.value}"
            + (f" ({p.failure_code})" if p.failure_code else "")
            for p in org.payments[-4:]
        ],
        "grants": [
            f"{g.kind.value} {fmt(g.amount)}, {fmt(g.remaining)} left"
            + (f", expires {g.expires_at:%Y-%m-%d}" if g.expires_at else "")
            for g in org.credit_grants[-4:]
        ],
        "invoices": [
            f"{i.id} {i.period_start:%Y-%m} {fmt(i.amount)} {i.status.value}"
            + (f", due {i.due_at:%Y-%m-%d}" if i.due_at else "")
            for i in org.invoices[-3:]
        ],
        "keys": [
            f"{k.name or k.id} {k.redacted} {k.scope.value}"
            + (f" of {k.owner}{'' if k.owner_active else ' (left)'}" if k.owner else "")
            + f" {k.status.value}"
            + (f" [{k.environment.value}]" if k.environment else "")
            for k in org.api_keys
        ],
        "notices": [f"{n.at:%Y-%m-%d %H:%M} {n.kind}" for n in org.notices[-5:]],
    }
    view["usage"] = _usage_digest(b.usage_records or (), as_of)
    return view


def _usage_digest(rows: Sequence[Any], as_of: Any) -> list[str]:
    """Per week: requests, refusals, cost and models; enough to see a change, not to diagnose it."""
    from decimal import Decimal

    weeks: dict[int, dict[str, Any]] = {}
    for r in rows:
        ts = str(r["ts"])
        from datetime import datetime

        when = datetime.fromisoformat(ts.replace("Z", "+00:00"))
        ago = (as_of - when) // timedelta(days=7)
        w = weeks.setdefault(int(ago), {"requests": 0, "failed": 0, "cost": Decimal(0), "models": Counter()})
        n = int(r.get("requests", 1))
        w["requests"] += n
        if int(r.get("status", 200)) >= 400:
            w["failed"] += n
        w["cost"] += Decimal(str(r.get("cost", "0")))
        w["models"][str(r["model"])] += n
    out = []
    for ago in sorted(weeks, reverse=True)[-6:]:
        w = weeks[ago]
        models = ", ".join(m for m, _ in w["models"].most_common(2))
        label = "this week" if ago == 0 else f"{ago} week{'s' if ago > 1 else ''} ago"
        out.append(
            f"{label}: {w['requests']:,} requests ({w['failed']:,} refused or failed), "
            f"${w['cost']:.2f}, {models}"
        )
    return out or ["no usage in the bundle"]


def grade(answer: tuple[str, str, str], case: Case) -> int:
    """Points for an answer: one each for incident, root cause (with the right incident), route."""
    t = case.truth
    incident, root, route = answer
    return (
        int(incident == t.incident)
        + int(incident == t.incident and root == t.root_cause)
        + int(route == t.route)
    )
