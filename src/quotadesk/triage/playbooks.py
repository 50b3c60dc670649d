"""One playbook per incident: the fix, the escalation package, the questions, the checklist and
the post-resolution advice, each computed from the account's own figures.

The tree decides *what* happened; this module says *what to do about it* in the runbook's
terms. Figures are exact (nano-dollars in, decimal strings out).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_UP, Decimal
from typing import Any

from quotadesk.money import from_nanos, plain
from quotadesk.triage.asks import questions
from quotadesk.triage.inputs import Case
from quotadesk.triage.tree import Diagnosis, incident_window

Fix = dict[str, Any]

FIXES: dict[str, list[tuple[str, str | None, str | None]]] = {
    "active_incident": [
        (
            "Tell the customer about the incident and link the status page; no account change is needed.",
            "Status page",
            "when the incident is resolved",
        ),
        ("Advise retries with exponential backoff and jitter until the incident is resolved.", None, None),
    ],
    "card_expired_or_declined": [
        ("Customer updates or replaces the card.", "Console → Billing → Payment methods", "minutes"),
        (
            "Customer adds credits with the working card.",
            "Console → Billing → Add credits",
            "next request after the payment succeeds",
        ),
    ],
    "credits_exhausted": [
        (
            "Customer adds credits.",
            "Console → Billing → Add credits",
            "next request after the payment succeeds",
        ),
        (
            "Suggest enabling auto-recharge with the threshold below.",
            "Console → Billing → Auto-recharge",
            None,
        ),
    ],
    "auto_recharge_failed": [
        (
            "Customer updates the card used by auto-recharge.",
            "Console → Billing → Payment methods",
            "minutes",
        ),
        (
            "Customer adds credits (or lets auto-recharge retry once the card works).",
            "Console → Billing → Add credits",
            "next request after the payment succeeds",
        ),
    ],
    "invoice_overdue": [
        (
            "Route to Finance with the invoice id and amount; the customer pays the overdue invoice.",
            "Finance",
            "when Finance records the payment",
        ),
    ],
    "sync_delay": [
        ("Wait up to 10 minutes after the payment, then retry.", None, "10 minutes"),
        (
            "If still refused after 10 minutes, escalate to engineering with the account id and timestamps.",
            "Engineering",
            "engineering SLA",
        ),
    ],
    "hard_limit_reached": [
        (
            "Customer raises or removes the monthly hard limit.",
            "Console → Billing → Limits",
            "next request after the change",
        ),
        ("Or wait for the monthly reset.", None, "00:00 UTC on the 1st of next month"),
    ],
    "trial_credits_consumed": [
        (
            "Customer adds a payment method and buys credits.",
            "Console → Billing",
            "next request after purchase",
        ),
    ],
    "trial_credits_expired": [
        (
            "Explain that expired trial credits are not spendable; customer adds a payment method and buys credits.",
            "Console → Billing",
            "next request after purchase",
        ),
    ],
    "free_tier_rate_limit": [
        (
            "Customer adds a payment method and buys credits to leave the free tier.",
            "Console → Billing",
            "when the tier upgrade applies",
        ),
        ("Retry with exponential backoff and jitter meanwhile.", None, None),
    ],
    "tier_upgrade_pending": [
        (
            "Check which tier criteria are still unmet; the upgrade applies when all are.",
            "Console → Limits",
            "usually within 24 hours of meeting the criteria",
        ),
    ],
    "model_not_in_tier": [
        ("Use a model the tier includes, or qualify for a higher tier.", "Console → Limits", None),
    ],
    "rate_limit": [
        (
            "Add exponential backoff with jitter and a retry cap; smooth bursts.",
            "Customer's client code",
            None,
        ),
        ("Request a higher tier or limit increase if sustained traffic needs it.", "Console → Limits", None),
    ],
    "policy_violation": [
        ("Route to Trust & Safety; support cannot lift the suspension.", "Trust & Safety", "T&S review"),
    ],
    "fraud_flag": [
        ("Route to Trust & Safety; support cannot lift the suspension.", "Trust & Safety", "T&S review"),
    ],
    "outstanding_balance": [
        (
            "Route to Finance; the suspension lifts when the outstanding invoices are settled.",
            "Finance",
            "when Finance records the payment",
        ),
    ],
    "unconfirmed": [
        ("Ask for the exact error and check the account status before anything else.", None, None),
    ],
    "departed_member_key": [
        (
            "Create a new organization-scoped key and update the application.",
            "Console → API keys",
            "immediately",
        ),
    ],
    "invalid_or_revoked_key": [
        ("Create a new key and update the application.", "Console → API keys", "immediately"),
    ],
    "retry_storm": [
        (
            "Add exponential backoff with jitter and a retry cap to the client.",
            "Customer's client code",
            None,
        ),
    ],
    "runaway_loop": [
        (
            "Stop the process behind the key and add a monthly hard limit.",
            "Customer's job / Console → Limits",
            None,
        ),
    ],
    "model_swap": [
        (
            "Check the model name in the deployment configuration; switch back if unintended.",
            "Customer's configuration",
            None,
        ),
    ],
    "context_bloat": [
        ("Trim or cache prompt context; cap conversation history.", "Customer's prompt code", None),
    ],
    "dev_key_in_production": [
        (
            "Replace the development key in production with a production key; one key per environment.",
            "Console → API keys",
            None,
        ),
    ],
    "traffic_growth": [
        (
            "Explain the growth; set soft and hard limits sized from the history.",
            "Console → Billing → Limits",
            None,
        ),
    ],
    "billing_discrepancy": [
        (
            "Route to the billing team with the usage total, the invoice total and their difference.",
            "Billing team",
            "billing team SLA",
        ),
    ],
    "account_compromise": [
        (
            "Customer revokes and recreates every key now; review members.",
            "Console → API keys",
            "immediately",
        ),
        (
            "Route to Security with the window and request ids; billing team reviews the charges.",
            "Security",
            None,
        ),
    ],
    "provider_outage_retries": [
        (
            "Route to the billing team with the incident window and the retried charges.",
            "Billing team",
            "billing team SLA",
        ),
    ],
    "code_bug": [
        (
            "Route to the billing team with the spike and the customer's logs.",
            "Billing team",
            "billing team SLA",
        ),
        ("Customer fixes the bug and sets a hard limit.", "Customer's code / Console → Limits", None),
    ],
    "expensive_model": [
        ("Set expectations: charges match the model's published price; suggest a cheaper model.", None, None),
    ],
    "forgot_to_stop": [
        ("Set expectations: charges match usage; suggest revoking unused keys and a hard limit.", None, None),
    ],
}
TEAM_FOR_ROUTE = {
    "billing_team": "billing_team",
    "trust_and_safety": "trust_and_safety",
    "finance": "finance",
    "security": "security",
    "engineering": "engineering",
}
CHECKLIST_STEPS = (
    "1. Check the status page for an active incident",
    "2. Identify the exact error (status, type, code, message)",
    "3. Check the billing state: balance, grants and expiry, payment methods, payments, auto-recharge",
    "4. Check limits, tier and usage for the period",
    "5. Check account status, flags and API keys; route if support cannot resolve",
)


@dataclass(frozen=True, slots=True)
class Playbook:
    fix: list[Fix]
    recommendations: list[str]
    questions: list[str]
    escalation: dict[str, Any] | None
    checklist: list[dict[str, Any]]


def _ceil_dollars(nanos: int) -> str:
    d = from_nanos(nanos)
    return f"{d.quantize(Decimal(1), rounding=ROUND_UP):.2f}"


def recommendations(case: Case, dx: Diagnosis) -> list[str]:
    out: list[str] = []
    f = case.facts
    u = case.usage
    avg = u.avg_daily_30d if u is not None else None
    prepaid = f is None or f.prepaid
    if avg and avg > 0 and prepaid:
        out.append(
            f"Set the auto-recharge threshold to at least {_ceil_dollars(2 * avg)} USD: 2 x the average daily "
            f"spend of the last 30 days ({plain(avg)} USD/day), so a recharge lands before the balance runs out."
        )
    elif f is not None and f.prepaid and dx.incident == "payment_failure":
        out.append(
            "Enable auto-recharge with a threshold of at least 2 x the average daily spend of the last 30 days "
            "(no usage log in the bundle to compute it)."
        )
    if f is not None and f.org.spend_limits.hard is not None:
        hard = f.org.spend_limits.hard
        soft = hard * 3 // 4
        out.append(
            f"Keep the soft limit at 75% of the hard limit: {plain(soft)} USD for a hard limit of "
            f"{plain(hard)} USD, so the warning arrives before the cut-off."
        )
    if u is not None:
        months = [t for t in (u.current_total, u.previous_total) if t]
        if months:
            peak = max(months)
            hard_suggest = peak * 3 // 2
            out.append(
                f"Size a monthly hard limit from the account's own history: {_ceil_dollars(hard_suggest)} USD "
                f"(1.5 x the highest recent month, {plain(peak)} USD) with a soft limit at "
                f"{_ceil_dollars(hard_suggest * 3 // 4)} USD (75%)."
            )
    if (
        dx.root_cause
        in ("dev_key_in_production", "account_compromise", "departed_member_key", "invalid_or_revoked_key")
        or case.ticket.key_exposed
    ):
        out.append(
            "Use one key per environment (production, development, CI), organization-scoped for shared "
            "services, and rotate keys on a schedule and whenever one is exposed."
        )
    if dx.root_cause in (
        "retry_storm",
        "rate_limit",
        "free_tier_rate_limit",
        "active_incident",
        "provider_outage_retries",
        "runaway_loop",
    ):
        out.append(
            "Retry with exponential backoff and full jitter: start at 1 s, double each attempt, cap the wait at "
            "60 s and stop after 5 retries; never retry 402/401/403 (they do not heal by retrying)."
        )
    return out


def escalation(case: Case, dx: Diagnosis) -> dict[str, Any] | None:
    team = TEAM_FOR_ROUTE.get(dx.route)
    if team is None:
        return None
    account_id = case.facts.org.id if case.facts is not None else None
    window = incident_window(case)
    figures: dict[str, str] = dict(dx.figures)
    if dx.root_cause == "billing_discrepancy":
        usage_total = figures.get("usage_total")
        invoice_total = figures.get("invoice_total")
        if usage_total and invoice_total:
            figures["difference"] = str(Decimal(invoice_total) - Decimal(usage_total))
    request_ids = list(dx.finding.request_ids) if dx.finding is not None else []
    summary = (
        f"{dx.incident.replace('_', ' ')} / {dx.root_cause.replace('_', ' ')} for "
        f"{account_id or 'an unidentified account'} (ticket {case.bundle.ticket.id}). "
        + "; ".join(fact.rstrip(".") for fact, _ in dx.evidence[:4])
        + "."
    )
    return {
        "team": team,
        "summary": summary,
        "account_id": account_id,
        "date_range": list(window) if window else None,
        "request_ids": request_ids,
        "figures": figures,
    }


def checklist(case: Case, dx: Diagnosis) -> list[dict[str, Any]]:
    has_sp = case.bundle.incidents is not None
    f = case.facts
    states = [
        (
            "done" if has_sp else "todo",
            ("Active incident: " + dx.slots.get("status.incident_id", ("an API or billing component", ""))[0])
            if case.active_incidents
            else (
                "No unresolved incident" if has_sp else "Status page not in the bundle: incidents not checked"
            ),
        ),
        (
            "done" if case.ticket.errors else "todo",
            ", ".join(f"{e.status} {e.rule.value}" for e in case.ticket.errors) or "No error in the ticket",
        ),
        (
            "done" if f is not None else "todo",
            (f"Balance {plain(f.balance)} USD" if f is not None else "No account section"),
        ),
        (
            "done" if (f is not None or case.usage is not None) else "todo",
            ("Limits and tier from the account; " if f is not None else "No account section; ")
            + f"usage log: {'present' if case.usage is not None else 'absent'}",
        ),
        (
            "done" if f is not None else "todo",
            (
                f"Status {f.org.status.value}, {len(f.active_flags)} active flag(s), {len(f.org.api_keys)} key(s)"
                if f is not None
                else "No account section"
            ),
        ),
    ]
    if dx.incident == "provider_outage" and case.active_incidents:
        states[2] = ("not_applicable", "Outage: billing state not involved")
        states[3] = ("not_applicable", "Outage: limits and usage not involved")
    if dx.incident in ("unexpected_high_bill", "refund_request") and not case.ticket.errors:
        states[1] = ("not_applicable", "No error: the customer asks about charges")
    return [
        {"step": s, "state": st, "note": note} for s, (st, note) in zip(CHECKLIST_STEPS, states, strict=True)
    ]


def build(case: Case, dx: Diagnosis) -> Playbook:
    fixes = [
        {"step": s, "where": w, "time_to_resolution": t}
        for s, w, t in FIXES.get(
            dx.root_cause, [("Collect the missing details listed in questions.", None, None)]
        )
    ]
    if case.ticket.key_exposed:
        fixes.insert(
            0,
            {
                "step": "Customer rotates the key pasted in the ticket now.",
                "where": "Console → API keys",
                "time_to_resolution": "immediately",
            },
        )
    return Playbook(
        fix=fixes,
        recommendations=recommendations(case, dx),
        questions=questions(case, dx),
        escalation=escalation(case, dx),
        checklist=checklist(case, dx),
    )
