"""The admission decision: allow a request (with the cost to hold) or refuse it, naming the rule.

``decide`` is the one place the rulebook is applied to a request; triage replays it to
explain a refusal. When several rules apply at once the first in this order wins:

1. **Unknown or revoked key** (401 ``invalid_api_key``). Until the caller is known to be an
   organization's key, nothing about that organization may be revealed.
2. **Departed member's key** (401 ``invalid_api_key``). Also an authentication failure, so
   it sits with the key; a personal key of someone who left is reported as such even once
   revoked, since that is the explanation (and the fix: an organization-scoped key).
3. **Suspension** (401 ``account_suspended``): an active flag or a suspended status. It
   overrides every account-level rule: no payment, tier or limit change lifts it, only
   Trust & Safety or Finance, so naming anything else would send the customer the wrong way.
4. **Model access** (403 ``model_not_available``): the model is not on the tier (or has no
   price, so it is never served at $0). A property of the request: paying an invoice or
   adding credit would not make it succeed, so saying "pay" first would mislead.
5. **Invoice overdue** (402 ``invoice_overdue``, invoiced accounts): an account-wide cut-off
   that Finance settles; it comes before the spend limit because raising a limit does
   nothing while the account is cut off.
6. **Hard limit** (402 ``billing_hard_limit_reached``): the customer's own monthly ceiling.
   Before the balance because adding credits does not lift it; it resets on the 1st.
7. **Balance** (402 ``insufficient_credits``, prepaid accounts): the spendable balance,
   minus what requests in flight already hold, must cover this request's estimated cost.
   No grace period, and access resumes on the next request after a top-up.
8. **Rate limit** (429 ``rate_limit_exceeded``): last because it is the only transient
   refusal; a client told to retry while out of credit turns into a retry storm.

Every ``Deny`` carries the generic (runbook) dialect; ``billing.dialects`` re-spells it.
Money in ``limit`` is decimal dollar strings, never floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from quotadesk.billing.decision import Allow, Decision, Deny, Rule
from quotadesk.billing.grants import expired_remainders, spendable_balance
from quotadesk.billing.invoices import invoice_state
from quotadesk.billing.keys import find_key, key_usable
from quotadesk.billing.limits import limit_state, require_aware
from quotadesk.billing.model import (
    ApiKey,
    BillingMode,
    NoticeKind,
    Organization,
    PaymentPurpose,
    PaymentStatus,
    RateLimit,
)
from quotadesk.billing.pricing import DEFAULT_TABLE, PriceTable, UnknownModelError, resolve_name
from quotadesk.billing.recharge import card_usable, default_card
from quotadesk.billing.suspension import suspension_state
from quotadesk.billing.tiers import DEFAULT_TIERS, TierTable, model_allowed, rate_limit_for
from quotadesk.money import CENT, from_nanos, plain

RATE_WINDOW_S = 60
"""Rate limits count over a sliding minute; waiting a full window always clears it."""


@dataclass(frozen=True, slots=True)
class AdmissionRequest:
    """What the gateway knows about a request before sending it on.

    ``key_id`` or ``secret_hash`` (SHA-256 hex of the presented secret) identifies the key.
    Token estimates (uncached input, output, cached input) price the hold. The
    ``*_in_last_minute`` counters are the organization's usage in the sliding minute before
    this request. ``month_to_date`` is this month's spend and ``held`` what requests still
    in flight have reserved, both nano-dollars; ``held`` is why concurrent requests cannot
    overspend a balance that each of them alone would fit in.
    """

    model: str
    key_id: str | None = None
    secret_hash: str | None = None
    estimated_input_tokens: int = 0
    estimated_output_tokens: int = 0
    estimated_cached_tokens: int = 0
    requests_in_last_minute: int = 0
    tokens_in_last_minute: int = 0
    month_to_date: int = 0
    held: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("model: expected a model name")
        for name in (
            "estimated_input_tokens",
            "estimated_output_tokens",
            "estimated_cached_tokens",
            "requests_in_last_minute",
            "tokens_in_last_minute",
            "month_to_date",
            "held",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name}: expected an int, got {type(value).__name__}")
            if value < 0:
                raise ValueError(f"{name}: must not be negative (got {value})")

    @property
    def estimated_tokens(self) -> int:
        return self.estimated_input_tokens + self.estimated_output_tokens + self.estimated_cached_tokens


def figure(amount: int) -> str:
    """Nano-dollars as a decimal dollar string: cents when exact, every digit otherwise."""
    d = from_nanos(amount)
    if d == d.quantize(CENT):
        return plain(amount)
    return format(d.normalize(), "f")


def _key_label(key: ApiKey | None, request: AdmissionRequest) -> str:
    if key is not None and key.redacted:
        return key.redacted
    if key is not None:
        return key.id
    return request.key_id or "the key provided"


def _key_deny(rule: Rule, key: ApiKey | None, request: AdmissionRequest) -> Deny:
    label = _key_label(key, request)
    if rule == Rule.DEPARTED_MEMBER_KEY:
        return Deny(
            rule=rule,
            status=401,
            error_type="authentication_error",
            code="invalid_api_key",
            message=f"API key {label} was a personal key of a member who left the organization; it is revoked.",
            limit={"key": label, "scope": "personal", "owner_active": "false"},
            lifted_by="create an organization-scoped key (personal keys are revoked when their owner leaves)",
        )
    message = (
        f"API key {label} has been revoked." if key is not None else f"Incorrect API key provided: {label}."
    )
    return Deny(
        rule=Rule.INVALID_KEY,
        status=401,
        error_type="authentication_error",
        code="invalid_api_key",
        message=message,
        limit={"key": label, "status": "revoked" if key is not None else "unknown"},
        lifted_by="use an active key of this organization (create one in the console)",
    )


def _model_deny(org: Organization, model: str, tiers: TierTable, priced: bool) -> Deny:
    tier = org.tier.current
    if not priced:
        return Deny(
            rule=Rule.MODEL_NOT_IN_TIER,
            status=403,
            error_type="permission_error",
            code="model_not_available",
            message=f"The model '{model}' is not available: it has no price on this platform.",
            limit={"model": model, "tier": tier, "priced": "false"},
            lifted_by="use a model from the price table",
        )
    higher = [t for t in tiers.names[tiers.rank(tier) + 1 :] if model_allowed(t, model, tiers)]
    return Deny(
        rule=Rule.MODEL_NOT_IN_TIER,
        status=403,
        error_type="permission_error",
        code="model_not_available",
        message=f"Your usage tier ({tier}) does not include the model '{model}'.",
        limit={"model": model, "tier": tier},
        lifted_by=f"reach {higher[0]} (see its criteria)" if higher else "a model this tier includes",
    )


def _credits_lifted_by(org: Organization, now: datetime) -> str:
    """What the customer must do: the card first when a card is what stopped the credit."""
    recharges = sorted(
        (p for p in org.payments if p.purpose == PaymentPurpose.AUTO_RECHARGE),
        key=lambda p: p.at,
    )
    if org.auto_recharge.enabled and recharges and recharges[-1].status == PaymentStatus.FAILED:
        return "fix the card: the last auto-recharge failed; then add credits or let auto-recharge run"
    card = default_card(org.payment_methods)
    if card is not None and not card_usable(card, now):
        return "fix the card (declined or expired), then add credits"
    return "add credits or fix the card"


def _balance_deny(org: Organization, balance: int, held: int, cost: int, now: datetime) -> Deny:
    limit = {"balance": figure(balance), "estimated_cost": figure(cost)}
    if held:
        limit["held"] = figure(held)
    message = f"Your credit balance (${figure(balance)}) does not cover this request (${figure(cost)})."
    lost = expired_remainders(org.credit_grants, now)
    if lost.total:
        last = lost.lost[-1].expires_at
        limit["expired"] = figure(lost.total)
        limit["expired_at"] = last.isoformat()
        message += f" ${figure(lost.total)} of credit expired on {last:%Y-%m-%d} and is no longer spendable."
    return Deny(
        rule=Rule.CREDITS_EXHAUSTED,
        status=402,
        error_type="billing_error",
        code="insufficient_credits",
        message=message,
        limit=limit,
        lifted_by=_credits_lifted_by(org, now),
    )


def _hard_headroom_deny(hard: int, request: AdmissionRequest, cost: int, resets: datetime) -> Deny:
    left = max(hard - request.month_to_date - request.held, 0)
    limit = {
        "hard_limit": figure(hard),
        "month_to_date": figure(request.month_to_date),
        "estimated_cost": figure(cost),
    }
    if request.held:
        limit["held"] = figure(request.held)
    return Deny(
        rule=Rule.HARD_LIMIT,
        status=402,
        error_type="billing_error",
        code="billing_hard_limit_reached",
        message=f"This request (up to ${figure(cost)}) would pass the monthly hard limit of ${figure(hard)}: "
        f"${figure(left)} is left this month (month to date ${figure(request.month_to_date)}"
        + (f", ${figure(request.held)} reserved by requests in flight" if request.held else "")
        + f"). Access resumes when the limit is raised or on {resets:%Y-%m-%d} 00:00 UTC.",
        limit=limit,
        resets_at=resets,
        lifted_by=f"raise the hard limit or wait until {resets:%Y-%m-%d} 00:00 UTC",
    )


def _rate_limit(org: Organization, model: str, tiers: TierTable) -> RateLimit | None:
    if org.rate_limits:
        name = resolve_name(model, org.rate_limits)
        if name is not None:
            return org.rate_limits[name]
    return rate_limit_for(org.tier.current, model, tiers)


def _rate_deny(org: Organization, request: AdmissionRequest, limit: RateLimit, now: datetime) -> Deny | None:
    tier = org.tier.current
    after = "; add a payment method to leave the free tier's limits" if tier == "free" else ""
    figures: dict[str, str] = {"tier": tier, "model": request.model}
    tokens = request.estimated_tokens
    if limit.tpm is not None and tokens > limit.tpm:
        figures |= {"tpm": str(limit.tpm), "requested_tokens": str(tokens)}
        return Deny(
            rule=Rule.RATE_LIMIT,
            status=429,
            error_type="rate_limit_error",
            code="rate_limit_exceeded",
            message=f"Request too large for {request.model} on tokens per minute: limit {limit.tpm}, "
            f"requested {tokens}.",
            limit=figures,
            lifted_by="send a smaller request or reach a higher tier" + after,
        )
    if limit.rpm is not None and request.requests_in_last_minute + 1 > limit.rpm:
        figures |= {"rpm": str(limit.rpm), "requests_in_last_minute": str(request.requests_in_last_minute)}
        what = f"requests per minute (RPM): limit {limit.rpm}, used {request.requests_in_last_minute}"
    elif limit.tpm is not None and request.tokens_in_last_minute + tokens > limit.tpm:
        figures |= {
            "tpm": str(limit.tpm),
            "tokens_in_last_minute": str(request.tokens_in_last_minute),
            "requested_tokens": str(tokens),
        }
        what = f"tokens per minute (TPM): limit {limit.tpm}, used {request.tokens_in_last_minute}, requested {tokens}"
    else:
        return None
    return Deny(
        rule=Rule.RATE_LIMIT,
        status=429,
        error_type="rate_limit_error",
        code="rate_limit_exceeded",
        message=f"Rate limit reached for {request.model} on {what}. Please retry after {RATE_WINDOW_S}s.",
        limit=figures,
        resets_at=now + timedelta(seconds=RATE_WINDOW_S),
        retry_after_s=RATE_WINDOW_S,
        lifted_by=f"wait {RATE_WINDOW_S}s (it is a rate limit, not billing)" + after,
    )


def decide(
    org: Organization,
    request: AdmissionRequest,
    now: datetime,
    prices: PriceTable = DEFAULT_TABLE,
    tiers: TierTable = DEFAULT_TIERS,
) -> Decision:
    """Allow (with the hold and any notices due) or Deny, by the precedence above.

    The org's own ``model_access`` and ``rate_limits`` (what the books say is in force) win
    over the tier table, which fills in what the books leave out.
    """
    now = require_aware(now)

    key = find_key(org.api_keys, key_id=request.key_id, secret_hash=request.secret_hash)
    key_rule = key_usable(key)
    if key_rule is not None:
        return _key_deny(key_rule, key, request)

    suspension = suspension_state(org)
    if suspension.suspended:
        return Deny(
            rule=Rule.SUSPENDED,
            status=401,
            error_type="authentication_error",
            code="account_suspended",
            message="This organization's account is suspended: API access and console login are blocked.",
            limit={"flags": ",".join(suspension.kinds) or "none recorded", "status": "suspended"},
            lifted_by=" and ".join(suspension.lifted_by),
        )

    try:
        prices.resolve(request.model)
    except UnknownModelError:
        return _model_deny(org, request.model, tiers, priced=False)
    if org.model_access is not None:
        allowed = resolve_name(request.model, org.model_access) is not None
    else:
        allowed = model_allowed(org.tier.current, request.model, tiers)
    if not allowed:
        return _model_deny(org, request.model, tiers, priced=True)

    if org.billing_mode == BillingMode.INVOICED:
        invoices = invoice_state(org, now)
        if invoices.cut_off:
            first = invoices.overdue[0]
            due = invoices.oldest_due_at
            return Deny(
                rule=Rule.INVOICE_OVERDUE,
                status=402,
                error_type="billing_error",
                code="invoice_overdue",
                message=f"Invoice {first.id} is unpaid past its due date"
                + (f" ({due:%Y-%m-%d})" if due else "")
                + f"; ${figure(invoices.amount_due)} is overdue.",
                limit={
                    "invoice": first.id,
                    "amount_due": figure(invoices.amount_due),
                    **({"due_at": due.isoformat()} if due else {}),
                },
                lifted_by="finance",
            )

    limits = limit_state(org.spend_limits, request.month_to_date, now, org.notices)
    if limits.hard_reached and limits.hard is not None:
        resets = limits.resets_at
        return Deny(
            rule=Rule.HARD_LIMIT,
            status=402,
            error_type="billing_error",
            code="billing_hard_limit_reached",
            message=f"Monthly hard limit of ${figure(limits.hard)} reached (month to date "
            f"${figure(limits.month_to_date)}). Access resumes when the limit is raised or on "
            f"{resets:%Y-%m-%d} 00:00 UTC.",
            limit={"hard_limit": figure(limits.hard), "month_to_date": figure(limits.month_to_date)},
            resets_at=resets,
            lifted_by=f"raise the hard limit or wait until {resets:%Y-%m-%d} 00:00 UTC",
        )

    cost = prices.cost_nanos(
        request.model,
        request.estimated_input_tokens,
        request.estimated_output_tokens,
        request.estimated_cached_tokens,
        at=now,
    )
    if limits.hard is not None and request.month_to_date + request.held + cost > limits.hard:
        # As with the balance: what requests in flight reserve counts, or concurrent requests that
        # each fit under the limit alone would carry the month's spend past it together.
        return _hard_headroom_deny(limits.hard, request, cost, limits.resets_at)
    if org.billing_mode == BillingMode.PREPAID:
        balance = spendable_balance(org.credit_grants, now)
        available = balance - request.held
        if available <= 0 or available < cost:
            return _balance_deny(org, balance, request.held, cost, now)

    limit = _rate_limit(org, request.model, tiers)
    if limit is not None:
        refusal = _rate_deny(org, request, limit, now)
        if refusal is not None:
            return refusal

    notices: list[str] = []
    if limits.soft_notice is not None:
        notices.append(limits.soft_notice.kind)
    lost = expired_remainders(org.credit_grants, now)
    if lost.notice is not None and not any(
        n.kind == NoticeKind.CREDITS_EXPIRED and n.at >= lost.notice.at for n in org.notices
    ):
        notices.append(lost.notice.kind)
    return Allow(hold=cost, notices=tuple(str(n) for n in notices))
