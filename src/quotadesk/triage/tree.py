"""The master decision tree of the support runbook.

Order, as the runbook walks it:
1. the status page: an unresolved incident on an API or billing component is the answer,
   unless the ticket is about money already spent, or the account itself shows the cut-off
   that the customer's error names (then the books, not the outage, explain it);
2. the account's hard states, replaying the admission decision in the rulebook's precedence:
   suspension, then keys, then model access, invoice overdue, hard limit, balance, rate limit;
3. the money questions (high bill, refund) from the usage log;
4. what the ticket alone says, with the root cause left ``undetermined`` where the bundle
   cannot confirm it (missing data is asked for, never guessed).

Where the customer's claim and the account disagree, the account wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from quotadesk.billing import limits
from quotadesk.billing import model as m
from quotadesk.billing.decision import Deny, Rule
from quotadesk.billing.tiers import evaluate_tier, paid_total_of
from quotadesk.explain import INCIDENT
from quotadesk.money import plain
from quotadesk.triage.bundle import StatusIncident
from quotadesk.triage.facts import SYNC_WINDOW, AccountFacts, Indexed
from quotadesk.triage.inputs import CUT_OFF_INTENTS, Case, ErrorSeen, UsageFinding
from quotadesk.triage.intent import FREE_CONTEXT

DUST = 10_000_000
"""Below a cent the balance pays for no real request: the account is out of credit."""
DUST_WITH_ERROR = 100_000_000
"""With a billing refusal in hand, a remainder under ten cents did not cover the request's hold."""

ROUTE_BY_ROOT = {
    "invoice_overdue": "finance",
    "billing_discrepancy": "billing_team",
    "account_compromise": "security",
    "provider_outage_retries": "billing_team",
    "code_bug": "billing_team",
    "policy_violation": "trust_and_safety",
    "fraud_flag": "trust_and_safety",
    "outstanding_balance": "finance",
}
HIGH_BILL_CAUSES = (
    "retry_storm",
    "runaway_loop",
    "model_swap",
    "context_bloat",
    "dev_key_in_production",
    "billing_discrepancy",
    "traffic_growth",
)
REFUND_CAUSES = (
    "account_compromise",
    "provider_outage_retries",
    "code_bug",
    "expensive_model",
    "forgot_to_stop",
)
RULE_INCIDENT = INCIDENT  # the rule an error reports → the runbook incident (shared with explain-error)


@dataclass
class Diagnosis:
    """The tree's answer and how it got there; the playbooks turn it into a full result."""

    incident: str = "needs_info"
    root_cause: str = "undetermined"
    route: str = "none"
    confidence: float = 0.3
    path: list[str] = field(default_factory=list)
    evidence: list[tuple[str, str]] = field(default_factory=list)
    figures: dict[str, str] = field(default_factory=dict)
    finding: UsageFinding | None = None
    slots: dict[str, tuple[str, str]] = field(default_factory=dict)

    def step(self, text: str) -> None:
        self.path.append(text)

    def fact(self, text: str, source: str) -> None:
        self.evidence.append((text, source))

    def put(self, slot: str, value: object, source: str, *, figure: str | None = None) -> None:
        """Bind a reply's evidence slot (``account.balance``) to a figure and the pointer it was
        read at; ``figure`` also files it under that name for the escalation. An empty value
        binds nothing, so the sentence that needs it does not render."""
        text = "" if value is None else str(value).strip()
        if not text:
            return
        if figure is not None:
            self.figures[figure] = text
        self.slots[slot] = (text, source)

    def conclude(self, incident: str, root: str, confidence: float, route: str | None = None) -> Diagnosis:
        self.incident = incident
        self.root_cause = root
        self.route = route if route is not None else ROUTE_BY_ROOT.get(root, "none")
        self.confidence = round(max(0.05, min(confidence, 0.99)), 2)
        return self


def _d(ts: object) -> str:
    return ts.strftime("%Y-%m-%d %H:%M UTC") if hasattr(ts, "strftime") else str(ts)


def _day(ts: object) -> str:
    return ts.strftime("%Y-%m-%d") if hasattr(ts, "strftime") else str(ts)


def strongest_error(case: Case) -> ErrorSeen | None:
    """The customer's error that says most: billing rules first, then by confidence."""
    errs = [e for e in case.ticket.errors if e.rule != Rule.UNKNOWN]
    if not errs:
        return None
    return max(errs, key=lambda e: e.confidence + (0.2 if e.billing else 0.0))


def diagnose(case: Case) -> Diagnosis:
    dx = Diagnosis()
    t = case.ticket
    err = strongest_error(case)
    if err is not None:
        dx.step(f"The customer's error reads as '{err.rule.value}' ({err.summary or err.status}).")
        dx.fact(f"Error seen: HTTP {err.status} {err.summary}".strip(), err.source)
    else:
        dx.step("No error response in the ticket to read.")
    dx.step(f"Ticket intent: {t.intent}.")

    money_question = (
        t.intent in ("unexpected_high_bill", "refund_request")
        or "wants_refund" in t.claims
        or "reports_compromise"
        in t.claims  # charges someone else ran up: incident 5, whatever the key's state
    )

    # 1. Status page first.
    if case.active_incidents:
        idx, inc = case.active_incidents[0]
        dx.step(f"Status page: '{inc.name}' ({inc.status}, {inc.impact}) is unresolved at as_of.")
        dx.fact(
            f"Status-page incident {inc.id or inc.name} '{inc.name}' started {_d(inc.created_at)}, status {inc.status}",
            f"/status_page/incidents/{idx}",
        )
        _status_slots(dx, idx, inc)
        confirmed = _account_confirms(case, err)
        if not money_question and not confirmed:
            dx.step("An active incident on an API or billing component is the answer: provider outage.")
            return dx.conclude("provider_outage", "active_incident", 0.9)
        dx.step("The ticket is about money already spent or the account shows the cut-off itself; going on.")
    elif case.bundle.incidents is None:
        dx.step("No status page in the case: whether an incident is under way is not known.")
    else:
        dx.step("Status page: no unresolved incident on an API or billing component.")

    f = case.facts
    if f is None:
        dx.step("No account section in the bundle: diagnosing from the ticket alone.")
        return _ticket_only(case, dx, err)

    # 2. Suspension.
    says_suspended = (
        "says_suspended" in t.claims
        or t.intent == "account_suspension"
        or (err is not None and err.rule == Rule.SUSPENDED and err.confidence >= 0.5)
    )
    if f.suspended:
        return _suspension(case, f, dx)
    if says_suspended:
        dx.step("The customer reports a suspension, but the account is active with no active flag.")
        dx.fact(
            f"Account status {f.org.status.value}, console access {f.org.console_access.value}",
            "/account/status",
        )
        dx.put("account.status", f.org.status.value, "/account/status")

    # 3. Keys.
    key_signal = (err is not None and err.rule in (Rule.INVALID_KEY, Rule.DEPARTED_MEMBER_KEY)) or (
        t.intent == "api_key_issue" or "key_problem" in t.claims or "member_left" in t.claims
    )
    if (key_signal or says_suspended) and (f.departed_keys or f.revoked_keys) and not money_question:
        return _keys(case, f, dx)
    if err is not None and err.rule == Rule.INVALID_KEY and not (money_question or _billing_state(f)):
        dx.step("The key the customer used is not an active key of this account.")
        return dx.conclude("api_key_issue", "invalid_or_revoked_key", 0.7)

    if t.intent == "api_key_issue" and not money_question and not _billing_state(f) and not says_suspended:
        dx.step(
            "Every key of the account is active: the key in use is not one of them (unknown or mistyped)."
        )
        dx.fact(f"The account has {len(f.org.api_keys)} key(s), none revoked", "/account/api_keys")
        active = sum(1 for k in f.org.api_keys if k.status == m.KeyStatus.ACTIVE)
        dx.put("account.key_count", str(active) if active else "", "/account/api_keys")
        return dx.conclude("api_key_issue", "invalid_or_revoked_key", 0.6)

    # 4. Replay the admission decision for cut-offs.
    cut_off = (err is not None and err.rule != Rule.OVERLOADED) or t.intent in CUT_OFF_INTENTS
    if cut_off or not money_question:
        replay = _replay(case, f, dx, err)
        if replay is not None:
            return replay
    if says_suspended and not money_question:
        dx.step("Nothing in the bundle confirms a suspension or rules it out.")
        return dx.conclude("account_suspension", "unconfirmed", 0.5)
    # 5. Money questions. A reported compromise is one whatever else the ticket asks.
    if t.intent == "refund_request" or "wants_refund" in t.claims or "reports_compromise" in t.claims:
        return _refund(case, dx)
    invoice_question = "mentions_invoice" in t.claims and case.usage is not None and t.intent == "unknown"
    if t.intent == "unexpected_high_bill" or "says_bill_high" in t.claims or invoice_question:
        return _high_bill(case, dx)
    if case.active_incidents:
        return dx.conclude("provider_outage", "active_incident", 0.7)
    return _ticket_only(case, dx, err)


def _billing_state(f: AccountFacts) -> bool:
    """Does the account itself show a billing cut-off at as_of?"""
    return bool(
        f.overdue_invoices or f.hard_limit_hit or (f.prepaid and f.balance < DUST and f.org.credit_grants)
    )


def _account_confirms(case: Case, err: ErrorSeen | None) -> bool:
    """During an incident, does the account explain the customer's error by itself?"""
    f = case.facts
    if f is None or err is None:
        return False
    if err.rule == Rule.SUSPENDED:
        return f.suspended
    if err.rule in (Rule.CREDITS_EXHAUSTED, Rule.PAYMENT_FAILED, Rule.HARD_LIMIT, Rule.INVOICE_OVERDUE):
        return _billing_state(f)
    if err.rule in (Rule.INVALID_KEY, Rule.DEPARTED_MEMBER_KEY):
        return bool(f.revoked_keys or f.departed_keys)
    return False


def _suspension(case: Case, f: AccountFacts, dx: Diagnosis) -> Diagnosis:
    dx.step("The account is suspended: every key gets 401 account_suspended; support cannot lift it.")
    dx.fact(
        f"Account status {f.org.status.value}, console access {f.org.console_access.value}", "/account/status"
    )
    if f.active_flags:
        latest = max(f.active_flags, key=lambda x: x.item.at)
        flag = latest.item
        dx.fact(f"Active flag {flag.kind.value} ({flag.source.value}) raised {_d(flag.at)}", latest.pointer)
        dx.put("account.suspended", "suspended", latest.pointer)
        root = {"policy_violation": "policy_violation", "fraud": "fraud_flag"}.get(
            flag.kind.value, "outstanding_balance"
        )
        if root == "outstanding_balance":
            for inv in f.overdue_invoices:
                dx.fact(
                    f"Invoice {inv.item.id} of {plain(inv.item.amount)} USD unpaid, due {_day(inv.item.due_at)}",
                    inv.pointer,
                )
            if f.overdue_invoices:
                total = plain(sum(i.item.amount for i in f.overdue_invoices))
                dx.put("account.outstanding", total, "/account/invoices", figure="outstanding")
        team = ROUTE_BY_ROOT[root]
        dx.step(f"Flag {flag.kind.value} decides the route: {team} lifts it.")
        return dx.conclude("account_suspension", root, 0.95)
    notice = next(
        (n for n in reversed(f.org.notices) if n.kind.startswith("suspension_")),
        None,
    )
    if notice is not None:
        root = {
            "suspension_policy": "policy_violation",
            "suspension_fraud": "fraud_flag",
            "suspension_payment": "outstanding_balance",
        }[notice.kind]
        dx.step(f"No flag in the bundle, but a {notice.kind} notice was sent {_d(notice.at)}.")
        if f.suspended:
            dx.put("account.suspended", "suspended", "/account/status")
        return dx.conclude("account_suspension", root, 0.8)
    stated = stated_suspension_reason(case.ticket.claims)
    if stated is not None:
        dx.step(
            f"No flag or notice in the bundle; the suspension email the customer quotes gives its reason "
            f"({stated.replace('_', ' ')}), which decides who reviews it."
        )
        dx.put("account.suspended", "suspended", "/account/status")
        return dx.conclude("account_suspension", stated, 0.7)
    dx.step("Suspended with no flag or notice in the bundle: the reason is not confirmed.")
    dx.put("account.status", f.org.status.value, "/account/status")
    return dx.conclude("account_suspension", "unconfirmed", 0.6)


def _keys(case: Case, f: AccountFacts, dx: Diagnosis) -> Diagnosis:
    if f.departed_keys:
        k = f.departed_keys[0]
        dx.fact(
            f"Key {k.item.name or k.item.id} ({k.item.redacted}) is a personal key of {k.item.owner}, "
            f"who is no longer a member; status {k.item.status.value}",
            k.pointer,
        )
        dx.put("account.key", k.item.redacted or k.item.name or k.item.id, k.pointer)
        dx.step("A personal key is revoked when its owner leaves the organization.")
        return dx.conclude("api_key_issue", "departed_member_key", 0.9)
    k = f.revoked_keys[0]
    dx.fact(f"Key {k.item.name or k.item.id} ({k.item.redacted}) is revoked", k.pointer)
    dx.put("account.key", k.item.redacted or k.item.name or k.item.id, k.pointer)
    if f.org.console_access == m.ConsoleAccess.OK:
        dx.fact("Console login works, so the account is not suspended", "/account/console_access")
    dx.step("A revoked or unknown key gets 401 invalid_api_key.")
    return dx.conclude("api_key_issue", "invalid_or_revoked_key", 0.88)


def _replay(case: Case, f: AccountFacts, dx: Diagnosis, err: ErrorSeen | None) -> Diagnosis | None:
    """Walk the admission rules in precedence order; return the first that refuses."""
    org = f.org
    rule = err.rule if err is not None else None
    intent = case.ticket.intent
    rp = case.replay
    deny = rp.decision if rp is not None and isinstance(rp.decision, Deny) else None
    if rp is not None:
        verdict = f"{deny.status} {deny.code} ({deny.rule.value})" if deny else "allowed"
        dx.step(f"Replaying the admission decision at as_of (key {rp.key_id}, model {rp.model}): {verdict}.")
    replayed = deny.rule if deny is not None else None
    # Model access (tier).
    priced = deny is None or deny.limit.get("priced") != "false"
    if (
        (replayed == Rule.MODEL_NOT_IN_TIER and priced and org.model_access is not None)
        or rule == Rule.MODEL_NOT_IN_TIER
        or (org.model_access is not None and any(mm not in org.model_access for mm in case.ticket.models))
    ):
        wanted = [
            mm for mm in case.ticket.models if org.model_access is not None and mm not in org.model_access
        ]
        dx.step("The model asked for is outside the tier's model access.")
        dx.fact(
            f"Tier {org.tier.current} may call: {', '.join(org.model_access or ['all models'])}",
            "/account/model_access",
        )
        if wanted:
            dx.put("account.model", wanted[0], "/account/model_access")
        dx.put("account.tier", org.tier.current, "/account/tier/current")
        if _upgrade_due(f):
            return _pending(case, f, dx)
        return dx.conclude("free_tier", "model_not_in_tier", 0.85)
    # Invoice overdue.
    if f.overdue_invoices or replayed == Rule.INVOICE_OVERDUE:
        inv = f.overdue_invoices[0] if f.overdue_invoices else None
        if inv is None:
            dx.step("The rulebook reports an overdue invoice.")
            return dx.conclude("payment_failure", "invoice_overdue", 0.8)
        dx.step("An invoice is unpaid past its due date: the API is cut off until Finance sees it paid.")
        dx.fact(
            f"Invoice {inv.item.id} for {plain(inv.item.amount)} USD, status {inv.item.status.value}, "
            f"due {_day(inv.item.due_at)}",
            inv.pointer,
        )
        dx.put("account.invoice_total", plain(inv.item.amount), inv.pointer, figure="invoice_total")
        dx.put("account.invoice_id", inv.item.id, inv.pointer)
        dx.put("account.invoice_due", _day(inv.item.due_at) if inv.item.due_at else None, inv.pointer)
        return dx.conclude("payment_failure", "invoice_overdue", 0.9)
    # Hard limit.
    hard = org.spend_limits.hard
    if (f.hard_limit_hit or replayed == Rule.HARD_LIMIT) and hard is not None:
        dx.step("Month-to-date spend reached the monthly hard limit: 402 until it is raised or the 1st.")
        dx.fact(f"Monthly hard limit {plain(hard)} USD", "/account/spend_limits/hard")
        dx.put("account.hard_limit", plain(hard), "/account/spend_limits/hard", figure="hard_limit")
        dx.put("case.resets_on", _day(limits.next_month_start(case.as_of)), "/as_of")
        if f.month_to_date is not None:
            dx.fact(f"Month-to-date spend {plain(f.month_to_date)} USD since {_day(f.month_start)}", "/usage")
            dx.figures["month_to_date"] = plain(f.month_to_date)
        if f.hard_limit_notice is not None:
            dx.fact(
                f"hard_limit_reached notice sent {_d(f.hard_limit_notice.item.at)}",
                f.hard_limit_notice.pointer,
            )
        if org.spend_limits.soft is not None:
            dx.figures["soft_limit"] = plain(org.spend_limits.soft)
        if f.prepaid:
            dx.fact(
                f"Spendable balance is {plain(f.balance)} USD, so credits are not the cause",
                "/account/credit_grants",
            )
            dx.put("account.balance", plain(f.balance), "/account/credit_grants", figure="balance")
        if "has_money" in case.ticket.claims:
            dx.step(
                "The customer has money in the account, but the hard limit refuses first: the account wins."
            )
        return dx.conclude("spending_limit", "hard_limit_reached", 0.93)
    # Balance (prepaid).
    # A remainder smaller than a request's hold refuses like an empty balance.
    billing_error = rule in (Rule.CREDITS_EXHAUSTED, Rule.PAYMENT_FAILED) or _exhausted_notice(f)
    dust = f.balance < (DUST_WITH_ERROR if billing_error else DUST)
    no_balance = dust or replayed == Rule.CREDITS_EXHAUSTED
    if (
        f.prepaid
        and no_balance
        and (org.credit_grants or rule in (Rule.CREDITS_EXHAUSTED, Rule.PAYMENT_FAILED))
    ):
        return _no_balance(case, f, dx, err)
    # Balance fine yet billing refusal: sync delay.
    # A free-tier account that qualifies for a paid tier but still has free limits: pending upgrade.
    if (
        f.free_tier
        and rule in (None, Rule.RATE_LIMIT, Rule.FREE_TIER_LIMIT)
        and _upgrade_due(f)
        and (
            intent in ("free_tier", "rate_limit", "unknown")
            or {"added_card", "mentions_limit"} & case.ticket.claims
        )
    ):
        return _pending(case, f, dx)
    # A customer who just paid and is still refused, with no error pasted, is the same case.
    just_paid = f.last_success is not None and case.as_of - f.last_success.item.at <= timedelta(days=1)
    paid_and_refused = (
        rule is None
        and just_paid
        and (
            intent in ("payment_failure", "spending_limit", "free_tier") or "has_money" in case.ticket.claims
        )
    )
    if (
        (rule in (Rule.CREDITS_EXHAUSTED, Rule.PAYMENT_FAILED) or paid_and_refused)
        and f.prepaid
        and f.balance > 0
    ):
        return _sync_delay(case, f, dx, err)
    # Rate limits and the free tier.
    if rule in (Rule.RATE_LIMIT, Rule.FREE_TIER_LIMIT) or intent in ("rate_limit", "free_tier"):
        if f.free_tier:
            if _upgrade_due(f):
                return _pending(case, f, dx)
            dx.step("A rate limit on the free tier: the fix is a payment method.")
            dx.fact(f"Tier is {org.tier.current}", "/account/tier/current")
            _rate_figures(case, dx)
            return dx.conclude("free_tier", "free_tier_rate_limit", 0.85)
        if org.tier.pending is not None and intent == "free_tier":
            return _pending(case, f, dx)
        if rule == Rule.RATE_LIMIT or intent == "rate_limit":
            dx.step(f"A rate limit on a paid tier ({org.tier.current}) is not a billing issue.")
            dx.fact(f"Tier is {org.tier.current}", "/account/tier/current")
            _rate_figures(case, dx)
            return dx.conclude("rate_limit", "rate_limit", 0.88)
    if org.tier.pending is not None and intent in ("free_tier", "rate_limit"):
        return _pending(case, f, dx)
    if intent == "free_tier" and f.trial_grants:
        return _no_balance(case, f, dx, err)
    return None


def _exhausted_notice(f: AccountFacts) -> bool:
    """A credits_exhausted notice since the last successful payment: the books already saw it run out."""
    since = f.last_success.item.at if f.last_success is not None else None
    return any(since is None or n.item.at >= since for n in f.notices("credits_exhausted"))


def _upgrade_due(f: AccountFacts) -> bool:
    """Is a tier upgrade pending, or due by the rulebook's criteria but not applied yet?"""
    if f.org.tier.pending is not None:
        return True
    ev = evaluate_tier(f.org, paid_total_of(f.org), f.as_of)
    order = {name: i for i, name in enumerate(m.TIER_ORDER)}
    return ev.pending is not None or order.get(ev.qualifies_for, 0) > order.get(ev.current, 0)


def _rate_figures(case: Case, dx: Diagnosis) -> None:
    limits = case.facts.org.rate_limits if case.facts else None
    if not limits:
        return
    model = next((mm for mm in case.ticket.models if mm in limits), next(iter(limits)))
    rl = limits[model]
    dx.fact(f"Rate limit for {model}: {rl.rpm} RPM, {rl.tpm} TPM", f"/account/rate_limits/{model}")
    where = f"/account/rate_limits/{model}"
    dx.put("account.model", model, where, figure="model")
    dx.put("account.rpm", str(rl.rpm) if rl.rpm is not None else None, where, figure="rpm")
    dx.put("account.tpm", str(rl.tpm) if rl.tpm is not None else None, where, figure="tpm")


def _pending(case: Case, f: AccountFacts, dx: Diagnosis) -> Diagnosis:
    org = f.org
    if org.tier.pending is not None:
        req = org.tier.pending.requested_at
        dx.fact(
            f"Upgrade to {org.tier.pending.target} pending since {_d(req) if req else 'an unknown time'}",
            "/account/tier/pending",
        )
        dx.put("account.target_tier", org.tier.pending.target, "/account/tier/pending")
    else:
        dx.fact(
            f"A payment method is on file but the tier is still {org.tier.current}",
            "/account/payment_methods",
        )
    dx.put("account.tier", org.tier.current, "/account/tier/current")
    dx.step("A payment method was added and the tier upgrade has not applied yet.")
    return dx.conclude("free_tier", "tier_upgrade_pending", 0.8)


def _no_balance(case: Case, f: AccountFacts, dx: Diagnosis, err: ErrorSeen | None) -> Diagnosis:
    org = f.org
    dx.step("Prepaid account with no spendable balance: requests are refused at once (402), no grace period.")
    dx.fact(f"Spendable balance at as_of is {plain(f.balance)} USD", "/account/credit_grants")
    dx.put("account.balance", plain(f.balance), "/account/credit_grants", figure="balance")
    purchased = [x for x in f.grants_live + f.expired if x.item.kind != m.GrantKind.FREE_TRIAL]
    trial_only = (
        bool(f.trial_grants)
        and not purchased
        and not any(p.status == m.PaymentStatus.SUCCEEDED for p in org.payments)
    )
    if trial_only or (f.free_tier and f.trial_grants):
        expired_trial = [
            x for x in f.expired if x.item.kind == m.GrantKind.FREE_TRIAL and x.item.remaining > 0
        ]
        if expired_trial:
            x = expired_trial[0]
            dx.fact(
                f"Free trial grant of {plain(x.item.amount)} USD expired {_d(x.item.expires_at)} with "
                f"{plain(x.item.remaining)} USD unused (no longer spendable)",
                x.pointer,
            )
            dx.put("account.trial_amount", plain(x.item.amount), x.pointer, figure="trial_amount")
            dx.put(
                "account.expired_remaining", plain(x.item.remaining), x.pointer, figure="expired_remaining"
            )
            dx.put("account.expired_at", _day(x.item.expires_at) if x.item.expires_at else None, x.pointer)
            dx.step("The free grant is past its expiry: its remainder is gone.")
            return dx.conclude("free_tier", "trial_credits_expired", 0.9)
        x = f.trial_grants[0]
        dx.fact(
            f"Free trial grant of {plain(x.item.amount)} USD granted {_day(x.item.granted_at)}, "
            f"{plain(x.item.remaining)} USD remaining",
            x.pointer,
        )
        dx.put("account.trial_amount", plain(x.item.amount), x.pointer, figure="trial_amount")
        dx.step("The free grant is used up.")
        return dx.conclude("free_tier", "trial_credits_consumed", 0.9)
    for x in f.expired:
        if x.item.remaining > 0:
            dx.fact(
                f"Grant {x.item.id} ({x.item.kind.value}) expired {_d(x.item.expires_at)} with "
                f"{plain(x.item.remaining)} USD unused: it looked available but is not spendable",
                x.pointer,
            )
    failed_ar = [p for p in f.failed_payments if p.item.purpose == m.PaymentPurpose.AUTO_RECHARGE]
    if org.auto_recharge.enabled and (failed_ar or f.notices("auto_recharge_failed")):
        dx.step("Auto-recharge is on and its charge failed, leaving the balance at zero.")
        dx.fact(
            f"Auto-recharge enabled: threshold {plain(org.auto_recharge.threshold or 0)} USD, "
            f"amount {plain(org.auto_recharge.amount or 0)} USD",
            "/account/auto_recharge",
        )
        if failed_ar:
            p = failed_ar[-1]
            dx.fact(
                f"Auto-recharge charge of {plain(p.item.amount)} USD failed {_d(p.item.at)} "
                f"({p.item.failure_code or 'no code'})",
                p.pointer,
            )
            _failed_payment(dx, p)
        _card(f, dx)
        return dx.conclude("payment_failure", "auto_recharge_failed", 0.9)
    card_bad = f.default_card is not None and f.default_card.item.status != m.PaymentMethodStatus.VALID
    if f.failed_payments or card_bad:
        dx.step("The card itself failed (declined or expired); auto-recharge is not what failed.")
        if f.failed_payments:
            p = f.failed_payments[-1]
            dx.fact(
                f"{p.item.purpose.value.replace('_', ' ').capitalize()} payment of {plain(p.item.amount)} USD "
                f"failed {_d(p.item.at)} ({p.item.failure_code or 'no code'})",
                p.pointer,
            )
            _failed_payment(dx, p)
        _card(f, dx)
        return dx.conclude("payment_failure", "card_expired_or_declined", 0.9)
    dx.step("Credits ran out with auto-recharge off and no failed payment behind it.")
    if not org.auto_recharge.enabled:
        dx.put("account.auto_recharge_off", "off", "/account/auto_recharge")
    if "has_money" in case.ticket.claims:
        dx.step("The customer believes there is money in the account; the grants show none spendable.")
    return dx.conclude("payment_failure", "credits_exhausted", 0.9)


def _card(f: AccountFacts, dx: Diagnosis) -> None:
    c = f.default_card
    if c is None:
        dx.fact("No payment method on file", "/account/payment_methods")
        return
    pm = c.item
    exp = f"{pm.exp_month:02d}/{pm.exp_year}" if pm.exp_month and pm.exp_year else "unknown expiry"
    dx.fact(f"Default card {pm.brand} ending {pm.last4}, expires {exp}, status {pm.status.value}", c.pointer)
    card = f"{pm.brand.capitalize() or 'Card'} ending {pm.last4}" if pm.last4 else None
    dx.put("account.card", card, c.pointer)
    if pm.last4:
        dx.figures["card_last4"] = pm.last4


def _failed_payment(dx: Diagnosis, p: Indexed[m.Payment]) -> None:
    code = (p.item.failure_code or "").replace("_", " ")
    dx.put("account.failure_code", code, p.pointer)
    dx.put("account.failed_at", _d(p.item.at), p.pointer)
    dx.put("account.failed_amount", plain(p.item.amount), p.pointer, figure="failed_amount")


def _status_slots(dx: Diagnosis, idx: int, inc: StatusIncident) -> None:
    where = f"/status_page/incidents/{idx}"
    dx.put("status.incident_name", inc.name, where)
    dx.put("status.incident_id", inc.id or inc.name, where)
    dx.put("status.incident_started", _d(inc.created_at), where)
    dx.put("status.incident_status", inc.status, where)


def _sync_delay(case: Case, f: AccountFacts, dx: Diagnosis, err: ErrorSeen | None) -> Diagnosis:
    dx.step("Balance and card look fine yet requests are refused: the books have not caught up (sync delay).")
    dx.fact(f"Spendable balance at as_of is {plain(f.balance)} USD", "/account/credit_grants")
    dx.put("account.balance", plain(f.balance), "/account/credit_grants", figure="balance")
    since = f.last_success.item.at if f.last_success else None
    if f.last_success is not None:
        p = f.last_success
        dx.fact(f"Payment of {plain(p.item.amount)} USD succeeded {_d(p.item.at)}", p.pointer)
    refused_since = err.seen_at if err is not None and err.seen_at else since
    if refused_since is not None:
        dx.figures["refused_since"] = _d(refused_since)  # for the engineering escalation
    waited = case.as_of - since if since is not None else None
    if waited is not None and waited <= SYNC_WINDOW:
        dx.step(f"Only {int(waited.total_seconds() // 60)} minutes since the payment: wait up to 10 minutes.")
        return dx.conclude("payment_failure", "sync_delay", 0.75, route="none")
    dx.step("Refused for longer than 10 minutes with a good balance: engineering must look at the account.")
    return dx.conclude("payment_failure", "sync_delay", 0.7, route="engineering")


def _best(findings: tuple[UsageFinding, ...], allowed: tuple[str, ...]) -> UsageFinding | None:
    ok = [x for x in findings if x.root_cause in allowed]
    if not ok:
        return None
    return max(ok, key=lambda x: (x.impact * x.confidence, x.confidence))


def _use_finding(dx: Diagnosis, fd: UsageFinding, source: str) -> None:
    dx.finding = fd
    for fact in fd.facts[:6]:
        dx.fact(fact, source)
    for k, v in fd.figures.items():
        dx.figures.setdefault(k, v)
    dx.put("usage.impact", plain(fd.impact), source, figure="impact")
    fig = fd.figures
    since = fig.get("date") or fig.get("change_date") or (_day(fd.start) if fd.start is not None else None)
    dx.put("usage.since", since, source)
    dx.put("usage.change_date", fig.get("change_date") or since, source)
    for name in ("requests", "failed_requests", "from_model", "to_model", "new_ips", "new_models"):
        dx.put(f"usage.{name}", fig.get(name), source)
    dx.put("usage.model", fig.get("model") or (fd.models[0] if fd.models else None), source)
    dx.fact(f"Impact of the {fd.root_cause.replace('_', ' ')}: {plain(fd.impact)} USD", source)


def _usage_totals(case: Case, dx: Diagnosis) -> None:
    u = case.usage
    if u is None:
        return
    if u.current_total is not None and u.current_label:
        dx.fact(f"Usage total for {u.current_label}: {plain(u.current_total)} USD", u.source)
        dx.put("usage.total", plain(u.current_total), u.source, figure="usage_total")
        dx.put("usage.period", u.current_label, u.source, figure="period")
    if u.previous_total is not None and u.previous_label:
        dx.fact(f"Usage total for {u.previous_label}: {plain(u.previous_total)} USD", u.source)
        dx.put("usage.previous_total", plain(u.previous_total), u.source, figure="previous_total")
        dx.put("usage.previous_period", u.previous_label, u.source, figure="previous_period")


def _high_bill(case: Case, dx: Diagnosis) -> Diagnosis:
    dx.step("The customer asks why the bill is higher: incident 2, read the usage log.")
    u = case.usage
    if u is None:
        told = told_bill_cause(case.ticket.claims)
        if told is not None:
            dx.step(
                f"No usage log in the bundle; the customer describes {told.replace('_', ' ')} in words, "
                "which the usage log would confirm."
            )
            return dx.conclude("unexpected_high_bill", told, 0.55)
        dx.step("No usage log in the bundle: the cause cannot be determined yet.")
        return dx.conclude("unexpected_high_bill", "undetermined", 0.6)
    _usage_totals(case, dx)
    fd = _best(u.findings, HIGH_BILL_CAUSES)
    if fd is None:
        dx.step("The usage log shows no anomaly that explains the increase.")
        return dx.conclude("unexpected_high_bill", "undetermined", 0.5)
    dx.step(f"Usage detector: {fd.root_cause} (impact {plain(fd.impact)} USD).")
    _use_finding(dx, fd, u.source)
    return dx.conclude("unexpected_high_bill", fd.root_cause, 0.6 + 0.35 * fd.confidence)


def _claimed_refund_cause(case: Case) -> str | None:
    """What the customer says happened, in the contract's words."""
    t = case.ticket
    if "reports_compromise" in t.claims:
        return "account_compromise"
    if "forgot_to_stop" in t.claims:
        return "forgot_to_stop"
    if "chose_expensive_model" in t.claims:
        return "expensive_model"
    if "mentions_loop" in t.claims or "mentions_bug" in t.claims or t.has_log:
        return "code_bug"
    if case.recent_incidents or case.active_incidents or "says_outage" in t.claims:
        return "provider_outage_retries"
    return None


def _refund(case: Case, dx: Diagnosis) -> Diagnosis:
    dx.step("The customer asks for a refund: incident 5. Only the billing team approves credits.")
    u = case.usage
    if u is not None:
        _usage_totals(case, dx)
    claimed = _claimed_refund_cause(case)
    fd = None
    if u is not None:
        if claimed is None:
            fd = _best(u.findings, REFUND_CAUSES)
        else:
            # The customer's account of events decides, backed by the detector that agrees with
            # it; only a strong sign of compromise outranks it (a security matter regardless).
            strong = _best(u.findings, ("account_compromise",))
            fd = _best(u.findings, (claimed,)) or (strong if strong and strong.confidence >= 0.8 else None)
    if fd is not None and u is not None:
        dx.step(f"Usage detector: {fd.root_cause} (impact {plain(fd.impact)} USD).")
        _use_finding(dx, fd, u.source)
        if fd.root_cause == "provider_outage_retries":
            named = fd.figures.get("incident")
            for idx, inc in (*case.active_incidents, *case.recent_incidents):
                if named is None or named in (inc.name, inc.id):
                    _status_slots(dx, idx, inc)
                    break
        return dx.conclude("refund_request", fd.root_cause, 0.6 + 0.35 * fd.confidence)
    if claimed is not None:
        if claimed == "provider_outage_retries" and case.recent_incidents:
            idx, inc = case.recent_incidents[0]
            dx.fact(
                f"Status-page incident '{inc.name}' from {_d(inc.created_at)} to "
                f"{_d(inc.resolved_at) if inc.resolved_at else 'unresolved'}",
                f"/status_page/incidents/{idx}",
            )
            _status_slots(dx, idx, inc)
        dx.step(f"The ticket points to {claimed.replace('_', ' ')}; the usage log does not contradict it.")
        return dx.conclude("refund_request", claimed, 0.6)
    dx.step("Nothing in the bundle shows why the charges happened: ask before routing.")
    return dx.conclude("refund_request", "undetermined", 0.45, route="billing_team")


ROOT_HINTS = {
    "payment_failure": (
        ("invoice_unpaid", "invoice_overdue"),
        ("says_auto_recharge_failed", "auto_recharge_failed"),
        ("card_problem", "card_expired_or_declined"),
        ("mentions_invoice", "invoice_overdue"),
        ("says_no_balance", "credits_exhausted"),
    ),
    "free_tier": (
        ("added_card", "tier_upgrade_pending"),
        ("says_credits_expired", "trial_credits_expired"),
        ("mentions_trial", "trial_credits_consumed"),
        ("mentions_free_credits", "trial_credits_consumed"),
        ("new_account", "trial_credits_consumed"),
    ),
}
SUSPENSION_REASONS = (
    ("suspension_fraud", "fraud_flag"),
    ("suspension_policy", "policy_violation"),
    ("suspension_unpaid", "outstanding_balance"),
)
"""The reason a suspension email gives, as the customer tells it, in the order it decides."""
BILL_CAUSES_IN_WORDS = (
    ("duplicate_charge", "billing_discrepancy"),
    ("says_dev_key", "dev_key_in_production"),
    ("says_model_swap", "model_swap"),
    ("says_context_bloat", "context_bloat"),
)


def stated_suspension_reason(claims: frozenset[str]) -> str | None:
    return next((root for claim, root in SUSPENSION_REASONS if claim in claims), None)


def told_bill_cause(claims: frozenset[str]) -> str | None:
    """A higher bill's cause as the customer tells it (the usage log, when there is one, decides)."""
    return next((root for claim, root in BILL_CAUSES_IN_WORDS if claim in claims), None)


RULE_ROOT = {
    Rule.CREDITS_EXHAUSTED: "credits_exhausted",
    Rule.PAYMENT_FAILED: "card_expired_or_declined",
    Rule.INVOICE_OVERDUE: "invoice_overdue",
    Rule.HARD_LIMIT: "hard_limit_reached",
    Rule.INVALID_KEY: "invalid_or_revoked_key",
    Rule.DEPARTED_MEMBER_KEY: "departed_member_key",
    Rule.MODEL_NOT_IN_TIER: "model_not_in_tier",
    Rule.FREE_TIER_LIMIT: "free_tier_rate_limit",
    Rule.RATE_LIMIT: "rate_limit",
}


def _ticket_only(case: Case, dx: Diagnosis, err: ErrorSeen | None) -> Diagnosis:
    """No account to replay: the ticket's words and errors decide the incident; roots stay cautious."""
    t = case.ticket
    incident = (
        t.intent
        if t.intent in RULE_INCIDENT.values()
        or t.intent
        in (
            "unexpected_high_bill",
            "refund_request",
        )
        else None
    )
    if err is not None and err.confidence >= 0.6:
        by_rule = RULE_INCIDENT.get(err.rule)
        money = incident in ("refund_request", "unexpected_high_bill")
        # A billing error outranks a vague intent (a 429 insufficient_quota is not a rate limit).
        vague = incident is None or err.billing or incident in ("rate_limit", "provider_outage")
        # A free-tier reading is a guess from a tier's name; without a word of trial or free use
        # it does not overrule a customer who reports a rate limit.
        free_words = FREE_CONTEXT & t.claims
        if err.rule == Rule.FREE_TIER_LIMIT and incident == "rate_limit" and not free_words:
            vague = False
        if by_rule is not None and not money and vague:
            incident = by_rule
        # Credits running out on an account that has never paid is the free grant running out.
        trial_words = {"new_account", "mentions_trial", "mentions_free_credits"} & t.claims
        if err.rule == Rule.CREDITS_EXHAUSTED and trial_words and incident == "payment_failure":
            dx.step("A credit cut-off on a new or trial account: the free grant ran out.")
            incident = "free_tier"
    if "reports_compromise" in t.claims and incident != "account_suspension":
        no_money = not ({"wants_refund", "says_bill_high"} & t.claims) and not t.amounts
        if no_money and (incident == "api_key_issue" or "key_problem" in t.claims):
            dx.step(
                "The customer reports a leaked key that no longer works: a key issue and a security matter."
            )
            return dx.conclude("api_key_issue", "invalid_or_revoked_key", 0.55, route="security")
        dx.step(
            "The customer reports a compromise (a leaked key, usage they did not make): a security matter."
        )
        return _refund(case, dx)
    if incident is None:
        dx.step("Neither the ticket nor an error says what happened: ask for the details.")
        return dx.conclude("needs_info", "undetermined", 0.3)
    if incident == "unexpected_high_bill":
        return _high_bill(case, dx)
    if incident == "refund_request":
        return _refund(case, dx)
    root = "undetermined"
    if incident == "provider_outage" and case.active_incidents:
        root = "active_incident"
    if incident == "rate_limit" and err is not None and err.rule == Rule.RATE_LIMIT:
        root = "rate_limit"
    if err is not None and RULE_INCIDENT.get(err.rule) == incident and err.rule in RULE_ROOT:
        root = RULE_ROOT[err.rule]
    for claim, hinted in ROOT_HINTS.get(incident, ()):
        if claim in t.claims and root in ("undetermined", "credits_exhausted"):
            root = hinted
            break
    if incident == "spending_limit":
        root = "hard_limit_reached" if (err is not None or "mentions_limit" in t.claims) else root
    if incident == "free_tier" and (
        (err is not None and err.rule in (Rule.RATE_LIMIT, Rule.FREE_TIER_LIMIT))
        or "rate_limited" in t.claims
    ):
        root = "free_tier_rate_limit"  # a 429 on the free tier is the free tier's rate limit
    if incident == "account_suspension":
        stated = stated_suspension_reason(t.claims)
        if stated is not None:
            dx.step(
                f"The suspension email the customer quotes gives its reason ({stated.replace('_', ' ')}): "
                "the reason decides who reviews it."
            )
        root = stated or "unconfirmed"
    if incident == "rate_limit":
        root = "rate_limit"
    dx.step(f"From the ticket alone: {incident}; the root cause needs the account to confirm.")
    confidence = 0.55 if root != "undetermined" else 0.45
    route = ROUTE_BY_ROOT.get(root, "none")
    return dx.conclude(incident, root, confidence, route=route)


def incident_window(case: Case) -> tuple[str, str] | None:
    """The date range an escalation should cover: the finding's window or the last 30 days."""
    fd = None
    if case.usage is not None and case.usage.findings:
        fd = case.usage.findings[0]
    if fd is not None and fd.start is not None:
        return (_day(fd.start), _day(fd.end or case.as_of))
    return (_day(case.as_of - timedelta(days=30)), _day(case.as_of))
