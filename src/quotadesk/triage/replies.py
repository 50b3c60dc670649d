"""Replies to the customer, in a support engineer's voice, filled with the account's figures.

Each template follows the runbook's "What to tell the customer" for its root cause. They are
written so that the safety guard never has to change them: credits and refunds are only
ever "reviewed by the billing team", a suspension is only ever "reviewed", the trigger of an
automated review is never named, and nobody is asked for a full key.
"""

from __future__ import annotations

from quotadesk.triage.inputs import Case
from quotadesk.triage.tree import Diagnosis

GREETING = "Hi,"
SIGN_OFF = "Best regards,\nSupport"


def _g(dx: Diagnosis, key: str, default: str = "") -> str:
    return dx.subject.get(key) or dx.figures.get(key) or default


def _usd(value: str) -> str:
    return f"${value}" if value and not value.startswith("$") else value


def _body(case: Case, dx: Diagnosis) -> list[str]:
    r = dx.root_cause
    bal = _usd(_g(dx, "balance", "0.00"))
    card = _g(dx, "card", "your card")
    code = _g(dx, "failure_code", "").replace("_", " ")
    failed_at = _g(dx, "failed_at")
    if r == "active_incident":
        return [
            f"Thanks for reporting this. We are currently experiencing a service incident "
            f'("{_g(dx, "incident_name", "API incident")}", reference {_g(dx, "incident_id")}, started '
            f"{_g(dx, 'incident_started')}) that is causing the failures you are seeing.",
            "Your account and billing are fine; nothing on your side needs to change. Our engineers are "
            "working on it and you can follow progress on our status page. Requests should succeed again "
            "once the incident is resolved; please retry with exponential backoff rather than in a tight loop.",
        ]
    if r == "card_expired_or_declined":
        return [
            f"Your API requests are being refused because your credit balance is {bal} and the last charge "
            f"to {card} failed{f' ({code})' if code else ''}{f' on {failed_at}' if failed_at else ''}.",
            "To restore access, update or replace the card under Billing → Payment methods, then add "
            "credits. Access resumes on your next request once the payment succeeds. If the card should "
            "work, your bank may be blocking the charge; they can tell you why.",
        ]
    if r == "auto_recharge_failed":
        return [
            f"Auto-recharge tried to top up your balance but the charge to {card} failed"
            f"{f' ({code})' if code else ''}{f' on {failed_at}' if failed_at else ''}, so your balance "
            f"reached {bal} and requests are now refused.",
            "Please update the card under Billing → Payment methods and add credits (or let auto-recharge "
            "run again once the card works). Access resumes on your next request after a successful payment.",
        ]
    if r == "credits_exhausted":
        return [
            f"Your API requests are being refused because your prepaid credit balance is {bal}. "
            "Auto-recharge is off, so nothing topped it up when it ran out. Nothing is wrong with your "
            "code.",
            "Add credits under Billing → Add credits; access resumes on your very next request after the "
            "payment succeeds. Turning on auto-recharge will prevent this from happening again.",
        ]
    if r == "invoice_overdue":
        return [
            f"API access is paused because invoice {_g(dx, 'invoice_id')} "
            f"({_usd(_g(dx, 'invoice_total'))}) is past its due date ({_g(dx, 'invoice_due')}).",
            "Once the payment is received, access is restored. I've passed this to our Finance team, who "
            "can confirm payment status and help with any questions about the invoice.",
        ]
    if r == "sync_delay":
        if dx.route == "none":
            return [
                f"Your payment went through and your balance is {bal}. It can take a few minutes for a new "
                "payment to reach every part of our system; please wait up to 10 minutes and retry.",
                "If requests are still refused after that, reply here with a request id and the time you "
                "saw the error, and we will take it further.",
            ]
        return [
            f"Your balance is {bal} and your card looks fine, yet requests are still refused. That should "
            "not happen, so I've escalated it to our engineering team with your account details and the "
            "times you saw the errors.",
            "We'll update you as soon as they have looked at it.",
        ]
    if r == "hard_limit_reached":
        return [
            f"Your requests are refused because this month's spend has reached the monthly hard limit of "
            f"{_usd(_g(dx, 'hard_limit'))} that is set on your account. Your credit balance is not the "
            "problem here: the hard limit stops usage even when credits are available.",
            "You can raise or remove the hard limit under Billing → Limits, and access resumes on your next "
            f"request. Otherwise it resets automatically at 00:00 UTC on {_g(dx, 'resets_on', 'the 1st of next month')}.",
        ]
    if r == "trial_credits_consumed":
        return [
            f"Your free trial credits ({_usd(_g(dx, 'trial_amount'))}) have been used up, so the API now "
            "refuses requests with a billing error. Nothing is broken on your side.",
            "To keep going, add a payment method and purchase credits under Billing. Access resumes on your "
            "next request after the purchase.",
        ]
    if r == "trial_credits_expired":
        return [
            f"Your free trial credits expired on {_g(dx, 'expired_at')}. Unused trial credits "
            f"({_usd(_g(dx, 'expired_remaining'))}) are no longer spendable after their expiry date, even "
            "though they may still appear in your credit history.",
            "To continue, add a payment method and purchase credits under Billing; access resumes on your "
            "next request.",
        ]
    if r == "free_tier_rate_limit":
        return [
            "The 429 errors come from the free tier's rate limits, which are deliberately low. This is not a "
            "billing problem and nothing is wrong with your key.",
            "Adding a payment method and purchasing credits moves the account to a paid tier with much higher "
            "limits. Meanwhile, retry with exponential backoff and jitter.",
        ]
    if r == "tier_upgrade_pending":
        return [
            "Thanks for adding a payment method. Your account's tier upgrade has not applied yet; upgrades "
            "take effect once all criteria (payment method, paid amount and account age) are met and can "
            "take a little while to process.",
            "Until then the current tier's limits and model access apply. No action is needed from you.",
        ]
    if r == "model_not_in_tier":
        model = _g(dx, "model", "the model you requested")
        return [
            f"{model} is not available on your account's current tier, which is why the request is refused. "
            "Your key and billing are otherwise fine.",
            "Moving to a higher tier (by adding a payment method and purchasing credits) unlocks more models; "
            "meanwhile you can use one of the models your tier includes.",
        ]
    if r == "rate_limit":
        return [
            f"The 429 errors are rate limits, not a billing problem: your tier allows "
            f"{_g(dx, 'rpm', 'a fixed number of')} requests and {_g(dx, 'tpm', 'a fixed number of')} tokens "
            f"per minute for {_g(dx, 'model', 'this model')}, and peak traffic goes over that.",
            "Retry with exponential backoff and jitter and a retry cap, spread bursts out, and as your paid "
            "usage grows the account moves to higher tiers with higher limits.",
        ]
    if r in ("policy_violation", "fraud_flag", "outstanding_balance"):
        if r == "outstanding_balance":
            return [
                "Your account is currently suspended because of an unpaid balance on your invoices.",
                "I've passed your message to our Finance team, who handle these accounts and will contact "
                "you about the payment. Support is not able to change the account status.",
            ]
        return [
            "Your account is currently suspended following a review by our Trust & Safety team. I "
            "understand how disruptive this is.",
            "I've forwarded your message to Trust & Safety, who are the only team able to review the "
            "suspension; they will contact you directly by email. I'm not able to share details of the "
            "review or change the account status myself.",
        ]
    if r == "unconfirmed":
        return [
            "I'm sorry you're having trouble accessing your account. I couldn't confirm a suspension from "
            "what I can see yet.",
            "Could you send the exact error message and status code you receive, the time it happened and "
            "whether you can still log in to the dashboard? That lets us check the right thing quickly.",
        ]
    if r == "departed_member_key":
        return [
            f"The key you are using ({_g(dx, 'key', 'a personal key')}) was a personal key of a team member "
            "who has left your organization, and personal keys are revoked when their owner leaves.",
            "Create a new key under API keys (an organization-scoped key is best for shared services), "
            "update your application with it, and requests will work again right away.",
        ]
    if r == "invalid_or_revoked_key":
        return [
            f"Requests are refused because the API key in use ({_g(dx, 'key', 'the key')}) is not an "
            "active key: it has been revoked or is not recognised. Your account itself is not suspended.",
            "Create a new key under API keys and update your application; requests work again as soon as "
            "the new key is in place.",
        ]
    if dx.incident == "unexpected_high_bill":
        return _high_bill_reply(dx)
    if dx.incident == "refund_request":
        return _refund_reply(dx)
    return _generic(dx)


def _high_bill_reply(dx: Diagnosis) -> list[str]:
    r = dx.root_cause
    since = _g(dx, "since")
    impact = _usd(_g(dx, "impact"))
    lead = "I looked at your usage in detail."
    if dx.figures.get("usage_total") and dx.figures.get("previous_total"):
        lead += (
            f" Your usage came to {_usd(dx.figures['usage_total'])} for {dx.figures.get('period', 'this period')},"
            f" against {_usd(dx.figures['previous_total'])} for {dx.figures.get('previous_period', 'the period before')}."
        )
    if r == "retry_storm":
        return [
            f"{lead} On {_g(dx, 'date') or since}, your application retried failing requests in rapid bursts "
            f"without backoff: {_g(dx, 'requests', 'thousands of')} requests in a short window, "
            f"{_g(dx, 'failed_requests', 'most')} of them failing, the same request bodies sent again and again. "
            f"These retries account for about {impact} of the increase.",
            "Adding exponential backoff with jitter and a cap on retries will stop this. If you believe "
            "some of these charges should be reviewed, tell us and we'll pass it to the billing team.",
        ]
    if r == "runaway_loop":
        return [
            f"{lead} On {since} one of your keys sent a very large number of requests over a short period, "
            f"spread evenly rather than clustered, which looks like a loop that kept running. It accounts for "
            f"about {impact} of the bill.",
            "Please check the job or service using that key. A soft and hard monthly limit will stop a "
            "runaway process from running up the bill again.",
        ]
    if r == "model_swap":
        model = _g(dx, "to_model") or _g(dx, "new_model") or "a more expensive model"
        before = _g(dx, "from_model")
        was = f"than {before}, used before" if before else "than the model used before"
        return [
            f"{lead} From {_g(dx, 'change_date') or since} your requests moved to {model}, which costs more per "
            f"token {was}, while the number of requests stayed about the same. That switch accounts for about "
            f"{impact} of the increase.",
            "If the change was not intended, check the model name in your deployment configuration.",
        ]
    if r == "context_bloat":
        return [
            f"{lead} From {since} the number of tokens per request rose sharply while the number of requests "
            f"stayed about the same: each request now sends much more context. That accounts for about "
            f"{impact} of the increase.",
            "Check how conversation history or documents are added to prompts; trimming context or caching "
            "it brings the cost back down.",
        ]
    if r == "dev_key_in_production":
        return [
            f"{lead} A development/CI key is carrying production-like traffic since {since}, and that "
            f"traffic accounts for about {impact} of the increase.",
            "Use separate keys per environment and check where the development key is deployed.",
        ]
    if r == "traffic_growth":
        return [
            f"{lead} Your request volume grew steadily while the model mix and tokens per request stayed "
            "the same, so the bill grew with your usage. There is no sign of a fault.",
            "Monthly soft and hard limits will warn you and cap spend as usage keeps growing.",
        ]
    if r == "billing_discrepancy":
        return [
            f"{lead} Your recorded usage for {_g(dx, 'period', 'the period')} does not match the invoiced "
            "amount. I've passed both figures to our billing team to review the invoice.",
            "They will get back to you with their findings.",
        ]
    return [
        "Thanks for reaching out about your bill. To find what drove the increase, could you tell us which "
        "billing period you mean, whether anything changed in your application (models, prompts, retries, "
        "new features or keys), and roughly what you expected to pay?",
        "With that we can go through your usage by day, key and model.",
    ]


def _refund_reply(dx: Diagnosis) -> list[str]:
    r = dx.root_cause
    since = _g(dx, "since")
    review = (
        "I've passed your request, with the figures, to our billing team, who review every credit request; "
        "they will contact you with their decision."
    )
    if r == "account_compromise":
        return [
            f"I'm sorry to hear this. Your usage shows activity inconsistent with your history starting "
            f"{_g(dx, 'date') or since}: requests from {_g(dx, 'new_ips', 'several')} IP addresses your account "
            f"had not used before"
            + (f", calling models it had never used ({_g(dx, 'new_models')})" if _g(dx, "new_models") else "")
            + f", about {_usd(_g(dx, 'impact'))} in all.",
            "Please rotate (revoke and recreate) your API keys now, check where they are stored, and review "
            "your organization's members. I've escalated this to our security team and passed the charges "
            "to our billing team, who review credit requests.",
        ]
    if r == "provider_outage_retries":
        return [
            "Thanks for raising this. Part of the charges came from retries during a service incident on our "
            "side, listed on our status page.",
            review,
        ]
    if r == "code_bug":
        return [
            f"Thanks for the details. The usage shows a clear spike{f' from {since}' if since else ''} "
            "consistent with the bug you describe.",
            review + " Meanwhile, a hard monthly limit protects you from a repeat.",
        ]
    if r == "expensive_model":
        return [
            "I looked at your usage: the charges come from requests to a premium model, billed at its "
            "published per-token price, and they match what was used.",
            "Choosing a smaller model for routine requests and setting a monthly limit keeps costs "
            "predictable. If you still want the charges reviewed, the billing team handles credit requests.",
        ]
    if r == "forgot_to_stop":
        return [
            "I looked at your usage: requests kept running steadily, including nights and weekends, which "
            "suggests a job or service was left running. The charges match the usage.",
            "Revoking unused keys and setting a monthly hard limit prevents this. If you still want the "
            "charges reviewed, the billing team handles credit requests.",
        ]
    return [
        "Thanks for reaching out. To look into these charges, could you tell us which dates and amounts you "
        "mean and what happened on your side (an error, a bug, an outage, a key you did not recognise)?",
        "Credit requests are reviewed by our billing team; these details help them.",
    ]


def _generic(dx: Diagnosis) -> list[str]:
    if dx.incident == "provider_outage":
        return [
            "Thanks for reporting this. We're checking whether a service incident is affecting your requests. "
            "Please retry with exponential backoff, and send us a request id and the time of a failed request.",
        ]
    if dx.incident == "needs_info":
        return [
            "Thanks for reaching out. To find what's going on, could you send the exact error message and "
            "HTTP status code you receive, roughly when it started, and your organization id?",
        ]
    return [
        "Thanks for reaching out. To confirm the cause, could you send the exact error message and HTTP status "
        "code, roughly when it started, and your organization id?",
    ]


def compose(case: Case, dx: Diagnosis) -> str:
    parts = [GREETING, *_body(case, dx)]
    if case.ticket.key_exposed:
        parts.append(
            "Important: your message contained an API key. Please rotate it now (revoke it and create a new "
            "one under API keys), since anything shared in email or tickets should be treated as exposed. "
            "We never need your full key: the last four characters are enough for us to identify it."
        )
    parts.append(SIGN_OFF)
    return "\n\n".join(parts)
