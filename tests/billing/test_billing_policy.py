"""The admission decision: each rule's refusal, the precedence between them, and what an Allow carries."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from billing_factories import DAY, KEY, NOW, card, flag, grant, invoice, org, personal_key, usd

from quotadesk.billing.decision import Allow, Deny, Rule
from quotadesk.billing.model import (
    AutoRecharge,
    BillingMode,
    FlagKind,
    GrantKind,
    Notice,
    NoticeKind,
    OrgStatus,
    Payment,
    PaymentMethodStatus,
    PaymentPurpose,
    PaymentStatus,
    RateLimit,
    SpendLimits,
    TierState,
)
from quotadesk.billing.policy import AdmissionRequest, decide, figure
from quotadesk.billing.pricing import cost_nanos

REQ = AdmissionRequest(
    model="gpt-4o", key_id="key_1", estimated_input_tokens=1000, estimated_output_tokens=500
)
COST = cost_nanos("gpt-4o", 1000, 500)

# name → (org changes, request changes, rule, status, code), in precedence order.
CONDITIONS: dict[str, tuple[dict[str, Any], dict[str, Any], Rule, int, str]] = {
    "unknown_key": ({}, {"key_id": "key_nope"}, Rule.INVALID_KEY, 401, "invalid_api_key"),
    "departed_key": (
        {"api_keys": (personal_key(False),)},
        {},
        Rule.DEPARTED_MEMBER_KEY,
        401,
        "invalid_api_key",
    ),
    "suspended": ({"flags": (flag(FlagKind.FRAUD),)}, {}, Rule.SUSPENDED, 401, "account_suspended"),
    "model": ({"model_access": ("gpt-4o-mini",)}, {}, Rule.MODEL_NOT_IN_TIER, 403, "model_not_available"),
    "invoice": (
        {"billing_mode": BillingMode.INVOICED, "invoices": (invoice(),)},
        {},
        Rule.INVOICE_OVERDUE,
        402,
        "invoice_overdue",
    ),
    "hard_limit": (
        {"spend_limits": SpendLimits(hard=usd("200"))},
        {"month_to_date": usd("200")},
        Rule.HARD_LIMIT,
        402,
        "billing_hard_limit_reached",
    ),
    "balance": ({"credit_grants": ()}, {}, Rule.CREDITS_EXHAUSTED, 402, "insufficient_credits"),
    "rate_limit": ({}, {"requests_in_last_minute": 5_000}, Rule.RATE_LIMIT, 429, "rate_limit_exceeded"),
}
ORDER = list(CONDITIONS)


def _apply(names: tuple[str, ...]) -> tuple[Any, AdmissionRequest]:
    org_kw: dict[str, Any] = {}
    req_kw: dict[str, Any] = {}
    for name in names:
        o, r, *_ = CONDITIONS[name]
        org_kw |= o
        req_kw |= r
    return org(**org_kw), replace(REQ, **req_kw)


def test_a_healthy_request_is_allowed_with_its_cost_held() -> None:
    decision = decide(org(), REQ, NOW)
    assert decision == Allow(hold=COST, notices=())


@pytest.mark.parametrize("name", ORDER)
def test_each_rule_alone_refuses_with_its_status_and_code(name: str) -> None:
    books, request = _apply((name,))
    _, _, rule, status, code = CONDITIONS[name]
    decision = decide(books, request, NOW)
    assert isinstance(decision, Deny)
    assert (decision.rule, decision.status, decision.code) == (rule, status, code)
    assert decision.message and decision.error_type and decision.lifted_by


@pytest.mark.parametrize(("first", "second"), list(itertools.combinations(ORDER, 2)))
def test_precedence_when_two_rules_apply(first: str, second: str) -> None:
    books, request = _apply((first, second))
    decision = decide(books, request, NOW)
    assert isinstance(decision, Deny)
    assert decision.rule == CONDITIONS[first][2], f"{first} must win over {second}"


def test_precedence_holds_for_every_combination() -> None:
    for size in range(1, len(ORDER) + 1):
        for names in itertools.combinations(ORDER, size):
            books, request = _apply(names)
            decision = decide(books, request, NOW)
            assert isinstance(decision, Deny) and decision.rule == CONDITIONS[names[0]][2], names


# --- keys ------------------------------------------------------------------------------------------


def test_key_found_by_secret_hash() -> None:
    assert isinstance(decide(org(), replace(REQ, key_id=None, secret_hash=KEY.secret_hash), NOW), Allow)


def test_no_key_at_all_is_an_invalid_key() -> None:
    decision = decide(org(), replace(REQ, key_id=None), NOW)
    assert isinstance(decision, Deny) and decision.rule == Rule.INVALID_KEY


def test_revoked_key_is_invalid_and_departed_key_says_so_even_once_revoked() -> None:
    from quotadesk.billing.model import KeyStatus

    revoked = decide(org(api_keys=(replace(KEY, status=KeyStatus.REVOKED),)), REQ, NOW)
    assert isinstance(revoked, Deny) and revoked.rule == Rule.INVALID_KEY and revoked.status == 401
    assert "sk-...a1b2" in revoked.message
    gone = decide(org(api_keys=(personal_key(False, KeyStatus.REVOKED),)), REQ, NOW)
    assert isinstance(gone, Deny) and gone.rule == Rule.DEPARTED_MEMBER_KEY
    assert "organization-scoped" in (gone.lifted_by or "")


# --- suspension ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "status", "lifted"),
    [
        ((flag(FlagKind.POLICY_VIOLATION),), OrgStatus.SUSPENDED, "trust_and_safety"),
        ((flag(FlagKind.FRAUD),), OrgStatus.ACTIVE, "trust_and_safety"),
        ((flag(FlagKind.OUTSTANDING_BALANCE),), OrgStatus.ACTIVE, "finance"),
        ((flag(FlagKind.OUTSTANDING_BALANCE), flag(FlagKind.POLICY_VIOLATION)), OrgStatus.ACTIVE,
         "trust_and_safety and finance"),
        ((), OrgStatus.SUSPENDED, "trust_and_safety"),
    ],
)  # fmt: skip
def test_suspension_refuses_every_key_and_names_who_lifts_it(
    flags: tuple[Any, ...], status: OrgStatus, lifted: str
) -> None:
    decision = decide(org(flags=flags, status=status), REQ, NOW)
    assert isinstance(decision, Deny)
    assert (decision.rule, decision.status, decision.code) == (Rule.SUSPENDED, 401, "account_suspended")
    assert decision.lifted_by == lifted
    assert decision.billing


def test_an_inactive_flag_does_not_suspend() -> None:
    assert isinstance(decide(org(flags=(flag(FlagKind.FRAUD, active=False),)), REQ, NOW), Allow)


# --- model access ----------------------------------------------------------------------------------


def test_free_tier_model_outside_the_tier_names_the_tier_that_allows_it() -> None:
    books = org(tier=TierState(current="free"))
    decision = decide(books, REQ, NOW)
    assert isinstance(decision, Deny) and decision.rule == Rule.MODEL_NOT_IN_TIER and decision.status == 403
    assert decision.limit == {"model": "gpt-4o", "tier": "free"}
    assert decision.lifted_by == "reach tier1 (see its criteria)"
    assert isinstance(decide(books, replace(REQ, model="gpt-4o-mini-2024-07-18"), NOW), Allow)


def test_the_books_model_access_wins_over_the_tier_table() -> None:
    # A free org whose books allow gpt-4o (as in the trial bundle) may call it.
    books = org(tier=TierState(current="free"), model_access=("gpt-4o-mini", "gpt-4o"))
    assert isinstance(decide(books, replace(REQ, model="gpt-4o-2024-08-06"), NOW), Allow)


def test_a_model_with_no_price_is_refused_never_served_at_zero() -> None:
    decision = decide(org(), replace(REQ, model="gpt-9-ultra"), NOW)
    assert isinstance(decision, Deny) and decision.rule == Rule.MODEL_NOT_IN_TIER
    assert decision.limit["priced"] == "false"


# --- invoices --------------------------------------------------------------------------------------


def test_invoice_overdue_names_the_invoice_and_finance() -> None:
    inv = invoice(due_at=datetime(2026, 11, 15, tzinfo=UTC))
    decision = decide(org(billing_mode=BillingMode.INVOICED, invoices=(inv,)), REQ, NOW)
    assert isinstance(decision, Deny) and decision.rule == Rule.INVOICE_OVERDUE and decision.status == 402
    assert decision.limit == {
        "invoice": "inv_1",
        "amount_due": "1200.00",
        "due_at": "2026-11-15T00:00:00+00:00",
    }
    assert decision.lifted_by == "finance"


def test_invoiced_accounts_need_no_prepaid_balance() -> None:
    books = org(billing_mode=BillingMode.INVOICED, credit_grants=(), invoices=(invoice(due_at=NOW + DAY),))
    assert decide(books, REQ, NOW) == Allow(hold=COST)


# --- hard and soft limits --------------------------------------------------------------------------

LIMITS = SpendLimits(soft=usd("150"), hard=usd("200"))


def test_hard_limit_refuses_until_the_first_with_figures() -> None:
    books = org(spend_limits=LIMITS)
    decision = decide(books, replace(REQ, month_to_date=usd("200.40")), NOW)
    assert isinstance(decision, Deny)
    assert decision.limit == {"hard_limit": "200.00", "month_to_date": "200.40"}
    assert decision.resets_at == datetime(2026, 12, 1, tzinfo=UTC)
    assert decision.lifted_by == "raise the hard limit or wait until 2026-12-01 00:00 UTC"
    # Just below the limit the request goes through (and the soft notice is due).
    below = decide(books, replace(REQ, month_to_date=usd("199.99")), NOW)
    assert isinstance(below, Allow) and below.notices == ("soft_limit_reached",)
    # Raising the limit lifts it at once.
    raised = org(spend_limits=SpendLimits(hard=usd("300")))
    assert isinstance(decide(raised, replace(REQ, month_to_date=usd("200.40")), NOW), Allow)


def test_requests_in_flight_count_against_the_hard_limit() -> None:
    """Ten requests that each fit under the limit alone must not pass it together."""
    books = org(spend_limits=SpendLimits(hard=usd("200")))
    left = usd("200") - usd("199.99")
    fits = decide(books, replace(REQ, month_to_date=usd("199.99") - COST), NOW)
    assert isinstance(fits, Allow)  # exactly up to the limit
    over = decide(books, replace(REQ, month_to_date=usd("199.99"), held=left - COST + 1), NOW)
    assert isinstance(over, Deny) and over.rule == Rule.HARD_LIMIT and over.status == 402
    assert over.limit["held"] == figure(left - COST + 1) and "reserved by requests in flight" in over.message
    assert over.resets_at == datetime(2026, 12, 1, tzinfo=UTC)
    # the same request with nothing in flight fits
    assert isinstance(decide(books, replace(REQ, month_to_date=usd("199.99")), NOW), Allow) == (left >= COST)


def test_soft_limit_notice_once_a_month_and_the_api_keeps_working() -> None:
    request = replace(REQ, month_to_date=usd("160"))
    first = decide(org(spend_limits=LIMITS), request, NOW)
    assert first == Allow(hold=COST, notices=("soft_limit_reached",))
    sent = (Notice(kind=NoticeKind.SOFT_LIMIT_REACHED, at=NOW - DAY),)
    assert decide(org(spend_limits=LIMITS, notices=sent), request, NOW) == Allow(hold=COST)


# --- balance ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remaining", "held", "allowed"),
    [
        ("0.00", "0", False),
        ("0.000001", "0", False),  # less than the request's cost: no grace
        (None, "0", True),  # exactly the cost
        ("100.00", "99.999999", False),  # requests in flight hold the rest
        ("100.00", "50", True),
    ],
)
def test_balance_must_cover_the_estimated_cost_no_grace(
    remaining: str | None, held: str, allowed: bool
) -> None:
    grants = (grant(remaining=remaining if remaining is not None else figure(COST)),)
    decision = decide(org(credit_grants=grants), replace(REQ, held=usd(held)), NOW)
    assert isinstance(decision, Allow) is allowed
    if not allowed:
        assert isinstance(decision, Deny) and decision.rule == Rule.CREDITS_EXHAUSTED


def test_a_zero_cost_request_is_still_refused_with_no_balance() -> None:
    empty = replace(REQ, estimated_input_tokens=0, estimated_output_tokens=0)
    decision = decide(org(credit_grants=()), empty, NOW)
    assert isinstance(decision, Deny) and decision.rule == Rule.CREDITS_EXHAUSTED


def test_access_resumes_on_the_next_request_after_a_top_up() -> None:
    books = org(credit_grants=())
    assert isinstance(decide(books, REQ, NOW), Deny)
    topped = replace(books, credit_grants=(grant("cg_new", "10.00", granted_at=NOW),))
    assert isinstance(decide(topped, REQ, NOW), Allow)


def test_expired_credit_is_not_spendable_and_the_refusal_says_so() -> None:
    expired = grant("trial", "4.20", kind=GrantKind.FREE_TRIAL, expires_at=datetime(2026, 11, 2, tzinfo=UTC))
    decision = decide(org(credit_grants=(expired,)), REQ, NOW)
    assert isinstance(decision, Deny) and decision.rule == Rule.CREDITS_EXHAUSTED
    assert decision.limit["balance"] == "0.00" and decision.limit["expired"] == "4.20"
    assert "expired on 2026-11-02" in decision.message


def test_allow_carries_the_expired_credit_notice_once() -> None:
    expired = grant("trial", "4.20", kind=GrantKind.FREE_TRIAL, expires_at=NOW - DAY)
    books = org(credit_grants=(expired, grant("paid", "50.00")))
    assert decide(books, REQ, NOW) == Allow(hold=COST, notices=("credits_expired",))
    told = replace(books, notices=(Notice(kind=NoticeKind.CREDITS_EXPIRED, at=NOW - DAY),))
    assert decide(told, REQ, NOW) == Allow(hold=COST)


@pytest.mark.parametrize(
    ("changes", "lifted"),
    [
        ({}, "add credits or fix the card"),
        ({"payment_methods": (card(PaymentMethodStatus.DECLINED),)}, "fix the card (declined or expired), then add credits"),
        (
            {
                "auto_recharge": AutoRecharge(enabled=True, threshold=usd("10"), amount=usd("50")),
                "payments": (Payment("p1", NOW - DAY, usd("50"), PaymentStatus.FAILED, PaymentPurpose.AUTO_RECHARGE),),
            },
            "fix the card: the last auto-recharge failed; then add credits or let auto-recharge run",
        ),
    ],
)  # fmt: skip
def test_balance_refusal_says_what_lifts_it(changes: dict[str, Any], lifted: str) -> None:
    decision = decide(org(credit_grants=(), **changes), REQ, NOW)
    assert isinstance(decision, Deny) and decision.lifted_by == lifted


# --- rate limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rpm_used", "tpm_used", "rule"),
    [
        (4_999, 0, None),
        (5_000, 0, Rule.RATE_LIMIT),
        (0, 450_000 - 1_500, None),  # this request's 1,500 tokens fit exactly
        (0, 450_000 - 1_499, Rule.RATE_LIMIT),
    ],
)
def test_rate_limits_rpm_and_tpm(rpm_used: int, tpm_used: int, rule: Rule | None) -> None:
    request = replace(REQ, requests_in_last_minute=rpm_used, tokens_in_last_minute=tpm_used)
    decision = decide(org(), request, NOW)
    if rule is None:
        assert isinstance(decision, Allow)
    else:
        assert isinstance(decision, Deny) and decision.rule == rule
        assert (decision.status, decision.retry_after_s) == (429, 60)
        assert decision.resets_at == NOW + timedelta(seconds=60)
        assert not decision.billing


def test_a_request_larger_than_the_tpm_is_refused_without_a_retry_hint() -> None:
    big = replace(REQ, estimated_input_tokens=500_000)
    decision = decide(org(), big, NOW)
    assert isinstance(decision, Deny) and decision.rule == Rule.RATE_LIMIT and decision.retry_after_s is None
    assert "too large" in decision.message


def test_the_books_rate_limits_win_over_the_tier_table() -> None:
    books = org(
        tier=TierState(current="free"),
        model_access=("gpt-4o-mini", "gpt-4o"),
        rate_limits={"gpt-4o": RateLimit(rpm=3, tpm=10_000)},
    )
    decision = decide(books, replace(REQ, requests_in_last_minute=3), NOW)
    assert isinstance(decision, Deny) and decision.rule == Rule.RATE_LIMIT
    assert decision.limit["rpm"] == "3" and decision.limit["tier"] == "free"
    assert "payment method" in (decision.lifted_by or "")


# --- input -----------------------------------------------------------------------------------------


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="now: naive"):
        decide(org(), REQ, datetime(2026, 11, 20, 12))


@pytest.mark.parametrize(
    "field",
    ["estimated_input_tokens", "estimated_output_tokens", "estimated_cached_tokens", "requests_in_last_minute",
     "tokens_in_last_minute", "month_to_date", "held"],
)  # fmt: skip
@pytest.mark.parametrize("bad", [-1, True, 1.5])
def test_admission_request_refuses_bad_numbers_naming_the_field(field: str, bad: object) -> None:
    with pytest.raises(ValueError, match=field):
        AdmissionRequest(model="gpt-4o", **{field: bad})


@pytest.mark.parametrize("model", ["", "   "])
def test_admission_request_needs_a_model(model: str) -> None:
    with pytest.raises(ValueError, match="model"):
        AdmissionRequest(model=model)


@pytest.mark.parametrize(
    ("nanos", "text"), [(0, "0.00"), (usd("200.4"), "200.40"), (usd("0.0042"), "0.0042"), (1, "0.000000001")]
)
def test_figures_are_decimal_strings_that_keep_small_amounts(nanos: int, text: str) -> None:
    assert figure(nanos) == text
