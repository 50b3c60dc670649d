"""What a provider's error means in runbook terms: ``quotadesk explain-error``.

``explain(status, body, provider)`` reads the error with ``billing.dialects.interpret`` (the
same rulebook the gateway renders refusals with) and answers what a support engineer asks
first: which runbook incident this is, its likely root causes (in the case-bundle contract's
vocabulary), whether it is a billing cut-off or a transient failure, whether to retry, and what
to look at next in the account. Triage uses it for error attachments too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from quotadesk.billing.decision import Rule
from quotadesk.billing.dialects import (
    PROVIDERS,
    RUNBOOK_STATUS,
    Interpretation,
    canonical_provider,
    interpret,
    provider_name,
)
from quotadesk.errors import InputError

INCIDENT: dict[Rule, str] = {
    Rule.CREDITS_EXHAUSTED: "payment_failure",
    Rule.PAYMENT_FAILED: "payment_failure",
    Rule.INVOICE_OVERDUE: "payment_failure",
    Rule.HARD_LIMIT: "spending_limit",
    Rule.SUSPENDED: "account_suspension",
    Rule.INVALID_KEY: "api_key_issue",
    Rule.DEPARTED_MEMBER_KEY: "api_key_issue",
    Rule.MODEL_NOT_IN_TIER: "free_tier",
    Rule.FREE_TIER_LIMIT: "free_tier",
    Rule.RATE_LIMIT: "rate_limit",
    Rule.OVERLOADED: "provider_outage",
    Rule.UNKNOWN: "needs_info",
}
ROOT_CAUSES: dict[Rule, tuple[str, ...]] = {
    Rule.CREDITS_EXHAUSTED: (
        "credits_exhausted",
        "auto_recharge_failed",
        "card_expired_or_declined",
        "sync_delay",
    ),
    Rule.PAYMENT_FAILED: ("card_expired_or_declined", "auto_recharge_failed"),
    Rule.INVOICE_OVERDUE: ("invoice_overdue",),
    Rule.HARD_LIMIT: ("hard_limit_reached",),
    Rule.SUSPENDED: ("policy_violation", "fraud_flag", "outstanding_balance"),
    Rule.INVALID_KEY: ("invalid_or_revoked_key", "departed_member_key"),
    Rule.DEPARTED_MEMBER_KEY: ("departed_member_key", "invalid_or_revoked_key"),
    Rule.MODEL_NOT_IN_TIER: ("model_not_in_tier", "tier_upgrade_pending"),
    Rule.FREE_TIER_LIMIT: ("free_tier_rate_limit", "trial_credits_consumed", "tier_upgrade_pending"),
    Rule.RATE_LIMIT: ("rate_limit",),
    Rule.OVERLOADED: ("active_incident",),
    Rule.UNKNOWN: ("undetermined",),
}
TRIAL_CAUSES = ("trial_credits_consumed", "trial_credits_expired")
_TRIAL_WORDS = ("trial", "free account", "free tier", "free plan")

MEANING: dict[Rule, str] = {
    Rule.CREDITS_EXHAUSTED: "The prepaid credit balance is used up, so every request is refused until credit is "
    "added (runbook incident 1, payment failure); this is a billing cut-off, not a rate limit.",
    Rule.PAYMENT_FAILED: "A charge failed or billing is not active on the account, so requests are refused until "
    "the payment method is fixed (runbook incident 1, payment failure).",
    Rule.INVOICE_OVERDUE: "An invoiced account has an unpaid invoice past its due date and is cut off until it is "
    "paid (runbook incident 1; Finance owns it).",
    Rule.HARD_LIMIT: "The monthly hard spending limit is reached, so requests are refused until the limit is "
    "raised or the month ends (runbook incident 3, spending limit).",
    Rule.SUSPENDED: "The account is suspended: every key is refused and only Trust & Safety (policy, fraud) or "
    "Finance (outstanding balance) can lift it (runbook incident 6).",
    Rule.INVALID_KEY: "The API key is unknown, revoked or malformed: an authentication problem, not billing.",
    Rule.DEPARTED_MEMBER_KEY: "A personal key of a member who left was revoked with their membership.",
    Rule.MODEL_NOT_IN_TIER: "The account's tier does not include this model (runbook incident 4, free tier / "
    "model access); waiting does not help, a tier upgrade does.",
    Rule.FREE_TIER_LIMIT: "A free-tier or trial limit is reached (runbook incident 4); the fix is a payment "
    "method, which moves the account to a paid tier.",
    Rule.RATE_LIMIT: "A per-minute or per-day rate limit is reached: not a billing issue, retry after the "
    "indicated wait with backoff.",
    Rule.OVERLOADED: "The provider is overloaded or failing: not the account's fault; check the status page and "
    "retry with backoff.",
    Rule.UNKNOWN: "The error does not identify a billing or account rule; more information is needed.",
}

CHECKS: dict[Rule, tuple[str, ...]] = {
    Rule.CREDITS_EXHAUSTED: (
        "Spendable balance: the remaining credit of grants not expired now (an expired grant no longer counts)",
        "Auto-recharge: is it on, and did its last charge succeed?",
        "Payment methods and recent payments: an expired or declined default card, failed top-ups",
        "Notices: credits_exhausted, auto_recharge_failed or payment_failed emails, and when",
        "If balance and card look fine: wait 10 minutes (sync delay); still refused after that → engineering "
        "with the account id and timestamps",
    ),
    Rule.PAYMENT_FAILED: (
        "Recent payments: which failed, and the failure code (card_declined, expired_card, insufficient_funds)",
        "Default payment method: status and expiry date",
        "Auto-recharge: did the last automatic charge fail?",
        "Spendable balance after the failed charge",
    ),
    Rule.INVOICE_OVERDUE: (
        "Invoices: which is overdue, its amount and due date",
        "Flags: an outstanding_balance flag means suspension follows",
        "Route to Finance: support cannot waive or extend an invoice",
    ),
    Rule.HARD_LIMIT: (
        "Spend limits: the monthly hard limit against month-to-date spend (calendar month, UTC)",
        "Notices: hard_limit_reached and soft_limit_reached, and when",
        "It lifts when the limit is raised in the console or at 00:00 UTC on the 1st",
    ),
    Rule.SUSPENDED: (
        "Flags: which are active (policy_violation, fraud, outstanding_balance), automated or manual",
        "Account status and console access (blocked?)",
        "Notices: suspension_policy, suspension_fraud or suspension_payment emails",
        "Route: Trust & Safety for policy or fraud, Finance for an outstanding balance; never promise reinstatement",
    ),
    Rule.INVALID_KEY: (
        "API keys: is the key in use (compare the redacted form) active or revoked?",
        "Personal keys: was the owner removed from the organization (owner_active false)?",
        "Last used time of the key: did it work until recently?",
    ),
    Rule.DEPARTED_MEMBER_KEY: (
        "API keys: a personal key whose owner left; replace it with an organization-scoped key",
    ),
    Rule.MODEL_NOT_IN_TIER: (
        "Tier: current tier, and a pending upgrade with its request date",
        "Model access: the models the tier may call",
        "Payment method and cumulative paid spend: the criteria for the next tier",
    ),
    Rule.FREE_TIER_LIMIT: (
        "Tier: is the account still on the free tier? Is an upgrade pending?",
        "Credit grants: the free trial grant's remaining amount and expiry",
        "Payment method: adding one moves the account off the free tier's limits",
        "Usage at the time: low volume on the free tier points to its limits, not to abuse",
    ),
    Rule.RATE_LIMIT: (
        "Rate limits in force for the tier and model (RPM, TPM)",
        "Usage records around the error: requests per minute and bursts of identical requests",
        "Client behaviour: does it honour retry-after and back off?",
    ),
    Rule.OVERLOADED: (
        "Status page: an unresolved incident on an API component at the time of the error",
        "Usage records: 5xx responses clustered in the same window",
        "Client: retry with exponential backoff; no account change is needed",
    ),
    Rule.UNKNOWN: (
        "Ask for the full error body, the HTTP status, the request id and the time",
        "Status page: any incident at the time",
    ),
}


@dataclass(frozen=True, slots=True)
class Explanation:
    """An error read in runbook terms, for a support engineer and for triage.

    ``incident`` and ``likely_root_causes`` use the case-bundle contract's vocabulary (most
    likely cause first); ``billing`` is true for an account cut-off (credits, payment, hard
    limit, invoice, suspension) rather than a rate limit, tier limit or outage; ``retry``
    says whether the same request can succeed by waiting. ``interpretation`` keeps what was
    matched, for ``evidence`` and ``details``.
    """

    provider: str
    status: int
    rule: Rule
    incident: str
    likely_root_causes: tuple[str, ...]
    billing: bool
    confidence: float
    meaning: str
    what_to_check: tuple[str, ...]
    retry: bool
    interpretation: Interpretation = field(hash=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The JSON ``quotadesk explain-error --json`` prints."""
        i = self.interpretation
        return {
            "provider": self.provider,
            "status": self.status,
            "rule": str(self.rule),
            "incident": self.incident,
            "likely_root_causes": list(self.likely_root_causes),
            "billing": self.billing,
            "confidence": self.confidence,
            "retry": self.retry,
            "meaning": self.meaning,
            "what_to_check": list(self.what_to_check),
            "alternatives": [{"rule": str(a), "incident": INCIDENT[a]} for a in i.alternatives],
            "error": {"type": i.error_type, "code": i.code, "message": i.message},
            "details": dict(i.details),
            "evidence": list(i.evidence),
            "parse_error": i.parse_error,
            "key_exposed": i.key_exposed,
        }


def _validate(status: object, provider: object) -> tuple[int, str]:
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise InputError(f"must be an HTTP status code between 100 and 599, got {status!r}", field="status")
    if not isinstance(provider, str):
        raise InputError(f"must be a provider name, got {type(provider).__name__}", field="provider")
    try:
        return status, canonical_provider(provider)
    except ValueError as exc:
        raise InputError(
            f"unknown provider {provider!r}; known: {', '.join(PROVIDERS)}", field="provider"
        ) from exc


def _root_causes(i: Interpretation) -> tuple[str, tuple[str, ...]]:
    incident, causes = INCIDENT[i.rule], ROOT_CAUSES[i.rule]
    text = (i.message or "").lower()
    if i.rule == Rule.CREDITS_EXHAUSTED and any(w in text for w in _TRIAL_WORDS):
        return "free_tier", TRIAL_CAUSES
    if i.rule == Rule.FREE_TIER_LIMIT and any(
        w in text for w in ("/ month", "per day", "trial key", "included")
    ):
        return incident, ("trial_credits_consumed", "free_tier_rate_limit", "tier_upgrade_pending")
    return incident, causes


def _meaning(i: Interpretation, status: int) -> str:
    base = MEANING[i.rule]
    expected = RUNBOOK_STATUS.get(i.rule)
    name = provider_name(i.provider)
    if expected is not None and status != expected and not (i.rule == Rule.OVERLOADED and status >= 500):
        return (
            f"{base} {name} sends it as HTTP {status} where the runbook expects {expected}: go by the body."
        )
    if i.rule == Rule.UNKNOWN and i.alternatives:
        options = ", ".join(INCIDENT[a] for a in i.alternatives)
        return f"{base} With this status {name} may mean: {options}."
    return base


def _checks(i: Interpretation) -> tuple[str, ...]:
    checks = list(CHECKS[i.rule])
    if i.details.get("resets_at"):
        checks.append(f"The provider says access resumes at {i.details['resets_at']}")
    if i.details.get("model"):
        checks.append(f"Model named in the error: {i.details['model']}")
    for alt in i.alternatives:
        checks.append(f"Could also be {INCIDENT[alt]} ({alt}): {CHECKS[alt][0]}")
    if i.key_exposed:
        checks.append("A full API key was pasted with the error: rotate that key now")
    return tuple(dict.fromkeys(checks))


def _retry(i: Interpretation) -> bool:
    if i.rule in (Rule.RATE_LIMIT, Rule.OVERLOADED):
        return True
    return i.rule == Rule.FREE_TIER_LIMIT and "retry_after_s" in i.details


def explain(status: int, body: str | None, provider: str) -> Explanation:
    """Explain one provider error in runbook terms.

    ``status`` must be 100..599 and ``provider`` one of ``PROVIDERS`` (or an alias such as
    ``gemini``), else ``InputError`` naming the field. An empty body is allowed: the status
    alone is read, with low confidence. A body that is not valid JSON is read as text and
    ``parse_error`` says so; a body that is not text (undecodable bytes, lone surrogates) is an
    ``InputError`` on ``body``, so the output is always valid UTF-8.
    """
    status, name = _validate(status, provider)
    if body is not None and not isinstance(body, str):
        raise InputError(f"must be text, got {type(body).__name__}", field="body")
    if body:
        try:
            body.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(
                f"not valid UTF-8 text (undecodable byte at offset {exc.start}); an error body is text",
                field="body",
            ) from exc
    i = interpret(status, body if body and body.strip() else None, name)
    incident, causes = _root_causes(i)
    return Explanation(
        provider=name,
        status=status,
        rule=i.rule,
        incident=incident,
        likely_root_causes=causes,
        billing=i.billing,
        confidence=i.confidence,
        meaning=_meaning(i, status),
        what_to_check=_checks(i),
        retry=_retry(i),
        interpretation=i,
    )


def render_text(explanation: Explanation) -> str:
    """The explanation for a terminal: plain text, most important first."""
    e, i = explanation, explanation.interpretation
    kind = "billing cut-off" if e.billing else "not a billing cut-off"
    if e.retry:
        wait = i.details.get("retry_after_s")
        retry = "yes, after " + (f"{wait}s" if wait else "a wait") + " with backoff"
    else:
        retry = "no: the same request keeps failing until the cause is fixed"
    lines = [
        f"{provider_name(e.provider)} {e.status}: {e.rule} ({kind}, confidence {e.confidence:.2f})",
        f"Incident:     {e.incident}",
        f"Root causes:  {', '.join(e.likely_root_causes)}",
        f"Meaning:      {e.meaning}",
        f"Retry:        {retry}",
    ]
    if i.message:
        lines.append(f"Message:      {i.message if len(i.message) <= 300 else i.message[:297] + '...'}")
    if i.parse_error:
        lines.append(f"Warning:      body: {i.parse_error}")
    lines.append("Check next:")
    lines += [f"  - {c}" for c in e.what_to_check]
    if i.details:
        lines.append("Details:      " + ", ".join(f"{k}={v}" for k, v in sorted(i.details.items())))
    lines.append("Evidence:")
    lines += [f"  - {line}" for line in i.evidence]
    return "\n".join(lines)
