"""What to ask the customer: only what the next step needs and the ticket does not already say.

A customer who pasted the provider's error word for word and is then asked for "the exact error
message" stops trusting the desk. The asks are therefore computed once, from what the case
lacks, and both the reply's question and the engineer's ``questions`` are written from them:

- the error is asked for only when the ticket quotes none (no body, no status code);
- the org id only when the case has no account and the ticket names no org id;
- dates ("roughly when", "which period") only when the ticket mentions no time;
- amounts only when the ticket states none;
- the rest (login state, key's last four, what changed) only where the root cause is still open.
"""

from __future__ import annotations

from quotadesk.triage.inputs import Case
from quotadesk.triage.tree import Diagnosis

MONEY_INCIDENTS = ("unexpected_high_bill", "refund_request")
QUESTIONS = {
    "what": "What was the customer trying to do, and what happened instead?",
    "error": "What exact HTTP status and error message does the API return?",
    "when": "Roughly when did it start?",
    "request_id": "A request id and the time of one failed request, to match against the status page and logs.",
    "login": "Can the customer still log in to the console?",
    "key_last4": "Which key (last 4 characters) gets the error?",
    "period": "Which billing period does the customer mean?",
    "changes": "Did anything change in the application: model, prompts, retries, new features, new keys?",
    "expected": "Roughly what did the customer expect to pay?",
    "charges": "Which charges (dates, amounts) does the customer dispute?",
    "charge_dates": "On which dates were the disputed charges made?",
    "charge_amounts": "What amounts were the disputed charges?",
    "story": "What happened on the customer's side (an error, a bug, an outage, a key they did not recognise)?",
    "org_id": "Which organization id does the customer use? (The bundle has no account section.)",
}


def missing(case: Case, dx: Diagnosis) -> tuple[str, ...]:
    """The ask ids (keys of ``QUESTIONS`` and of the wording's ``asks``) for this case, in order."""
    t = case.ticket
    no_account = case.facts is None
    open_root = dx.root_cause in ("undetermined", "unconfirmed")
    out: list[str] = []
    if dx.incident == "needs_info":
        out.append("what")
    if not t.errors and dx.incident not in MONEY_INCIDENTS and open_root:
        out.append("error")
    if (dx.incident == "needs_info" or dx.root_cause == "unconfirmed") and not t.dated:
        out.append("when")
    if dx.incident == "provider_outage" and dx.root_cause != "active_incident":
        out.append("request_id")
    if dx.root_cause == "unconfirmed" and not {"can_log_in", "cannot_log_in"} & t.claims:
        out.append("login")
    if dx.incident == "api_key_issue" and no_account:
        out.append("key_last4")
    if dx.incident == "unexpected_high_bill" and dx.root_cause == "undetermined":
        if not t.dated:
            out.append("period")
        out.append("changes")
        if not t.amounts:
            out.append("expected")
    if (
        dx.incident == "refund_request"
        and dx.root_cause == "undetermined"
        and "duplicate_charge" not in t.claims
    ):
        if not t.dated and not t.amounts:
            out.append("charges")
        elif not t.dated:
            out.append("charge_dates")
        elif not t.amounts:
            out.append("charge_amounts")
        out.append("story")
    if no_account and not t.org_ids:
        out.append("org_id")
    return tuple(out)


def questions(case: Case, dx: Diagnosis) -> list[str]:
    """The engineer's list: the asks, then what to look up or check where the bundle lacks it."""
    q = [QUESTIONS[a] for a in missing(case, dx)]
    t = case.ticket
    if case.facts is None and t.org_ids:
        q.append(f"Look up organization {t.org_ids[0]} and triage again with its account section.")
    if dx.incident in MONEY_INCIDENTS and case.usage is None:
        q.append(
            "Usage export for the period in question (per day, key and model) to find what drove the charges."
        )
    if dx.incident == "provider_outage" and case.bundle.incidents is None:
        q.append(
            "Check the status page for an active incident at the time of the errors (not in the bundle)."
        )
    if dx.root_cause == "code_bug" and not t.has_log:
        q.append("Logs from the customer's side covering the spike, to attach for the billing team.")
    return q


__all__ = ["QUESTIONS", "missing", "questions"]
