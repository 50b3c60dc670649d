"""billing.dialects: rendering a Deny per provider, reading provider errors back, round trips."""

from __future__ import annotations

import ast
import json
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quotadesk.billing import dialects
from quotadesk.billing.decision import BILLING_RULES, Deny, Rule
from quotadesk.billing.dialects import (
    PROVIDERS,
    RETRYABLE,
    canonical_provider,
    generic_deny,
    interpret,
    native_rules,
    render,
    wire_rule,
)

ALL_RULES = list(Rule)
RESETS = datetime(2026, 12, 1, tzinfo=UTC)


def _deny(rule: Rule, **limit: str) -> Deny:
    return generic_deny(
        rule, limit=limit or {"model": "gpt-4o", "rpm": "60"}, resets_at=RESETS, retry_after_s=7
    )


# --- render: every provider x rule ------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("rule", ALL_RULES)
def test_render_every_provider_and_rule(provider: str, rule: Rule) -> None:
    out = render(_deny(rule), provider)
    assert 400 <= out.status <= 599
    assert out.headers["content-type"] == "application/json"
    assert json.loads(out.text()) == out.body
    if wire_rule(rule) in RETRYABLE:
        assert out.headers["x-should-retry"] == "true"
        assert out.headers["retry-after"] == "7"
    else:
        assert out.headers["x-should-retry"] == "false"
        assert "retry-after" not in out.headers
    # The rendered error reads back as the rule it was rendered from (the wire's version of it).
    back = interpret(out.status, out.text(), provider)
    assert back.rule == wire_rule(rule)
    assert back.billing == (wire_rule(rule) in BILLING_RULES)


BILLING_429 = [(p, r) for p in PROVIDERS for r in sorted(BILLING_RULES) if render(_deny(r), p).status == 429]


def test_billing_429s_exist_in_the_dialects_that_send_them() -> None:
    providers = {p for p, _ in BILLING_429}
    assert {"openai", "google", "azure", "xai"} <= providers


@pytest.mark.parametrize(("provider", "rule"), BILLING_429)
def test_billing_refusal_sent_as_429_says_do_not_retry(provider: str, rule: Rule) -> None:
    out = render(_deny(rule), provider)
    assert out.status == 429
    assert out.headers["x-should-retry"] == "false"
    assert "retry-after" not in out.headers


def _field(body: dict[str, object], *path: str) -> object:
    node: object = body
    for key in path:
        assert isinstance(node, dict), (body, path)
        node = node[key]
    return node


# provider, rule, status, path into the body, expected value (or substring of a message)
NATIVE = [
    ("generic", Rule.CREDITS_EXHAUSTED, 402, ("error", "code"), "insufficient_credits"),
    ("generic", Rule.HARD_LIMIT, 402, ("error", "code"), "billing_hard_limit_reached"),
    ("generic", Rule.INVOICE_OVERDUE, 402, ("error", "code"), "invoice_overdue"),
    ("generic", Rule.PAYMENT_FAILED, 402, ("error", "code"), "payment_failed"),
    ("generic", Rule.SUSPENDED, 401, ("error", "code"), "account_suspended"),
    ("generic", Rule.INVALID_KEY, 401, ("error", "code"), "invalid_api_key"),
    ("generic", Rule.DEPARTED_MEMBER_KEY, 401, ("error", "code"), "invalid_api_key"),
    ("generic", Rule.MODEL_NOT_IN_TIER, 403, ("error", "code"), "model_not_available"),
    ("generic", Rule.RATE_LIMIT, 429, ("error", "code"), "rate_limit_exceeded"),
    ("openai", Rule.CREDITS_EXHAUSTED, 429, ("error", "code"), "insufficient_quota"),
    ("openai", Rule.PAYMENT_FAILED, 429, ("error", "code"), "billing_not_active"),
    ("openai", Rule.HARD_LIMIT, 429, ("error", "code"), "organization_spend_limit_exceeded"),
    ("openai", Rule.SUSPENDED, 401, ("error", "code"), "account_deactivated"),
    ("openai", Rule.MODEL_NOT_IN_TIER, 403, ("error", "code"), "model_not_found"),
    ("anthropic", Rule.CREDITS_EXHAUSTED, 400, ("error", "message"), "credit balance is too low"),
    ("anthropic", Rule.HARD_LIMIT, 400, ("error", "message"), "regain access on 2026-12-01 at 00:00 UTC"),
    ("anthropic", Rule.SUSPENDED, 400, ("error", "message"), "This organization has been disabled."),
    ("anthropic", Rule.INVALID_KEY, 401, ("error", "message"), "invalid x-api-key"),
    ("anthropic", Rule.MODEL_NOT_IN_TIER, 403, ("error", "type"), "permission_error"),
    ("anthropic", Rule.RATE_LIMIT, 429, ("error", "type"), "rate_limit_error"),
    ("anthropic", Rule.OVERLOADED, 529, ("error", "type"), "overloaded_error"),
    ("google", Rule.CREDITS_EXHAUSTED, 402, ("error", "message"), "prepayment credits are depleted"),
    ("google", Rule.INVALID_KEY, 400, ("error", "status"), "INVALID_ARGUMENT"),
    ("google", Rule.SUSPENDED, 403, ("error", "status"), "PERMISSION_DENIED"),
    ("google", Rule.MODEL_NOT_IN_TIER, 429, ("error", "message"), "limit: 0, model: gpt-4o"),
    ("openrouter", Rule.CREDITS_EXHAUSTED, 402, ("error", "message"), "Insufficient credits"),
    ("openrouter", Rule.HARD_LIMIT, 403, ("error", "message"), "Key limit exceeded"),
    ("openrouter", Rule.FREE_TIER_LIMIT, 429, ("error", "message"), "free-models-per-day"),
    ("deepseek", Rule.CREDITS_EXHAUSTED, 402, ("error", "message"), "Insufficient Balance"),
    ("mistral", Rule.INVALID_KEY, 401, ("detail",), "Unauthorized"),
    ("mistral", Rule.RATE_LIMIT, 429, ("type",), "rate_limited"),
    (
        "cohere",
        Rule.FREE_TIER_LIMIT,
        429,
        ("message",),
        "Trial key, which is limited to 1000 API calls / month",
    ),
    ("cohere", Rule.HARD_LIMIT, 402, ("message",), "Maximum billing reached"),
    ("together", Rule.CREDITS_EXHAUSTED, 402, ("error", "type"), "credit_limit"),
    ("together", Rule.RATE_LIMIT, 429, ("error", "type"), "credit_limit"),
    ("groq", Rule.SUSPENDED, 400, ("error", "code"), "organization_restricted"),
    ("groq", Rule.HARD_LIMIT, 400, ("error", "code"), "blocked_api_access"),
    ("groq", Rule.FREE_TIER_LIMIT, 429, ("error", "message"), "Upgrade to Dev Tier"),
    ("azure", Rule.CREDITS_EXHAUSTED, 429, ("error", "message"), "429TrialUpgrade"),
    ("azure", Rule.OVERLOADED, 429, ("error", "message"), "high demand"),
    ("azure", Rule.INVALID_KEY, 401, ("error", "message"), "invalid subscription key"),
    ("xai", Rule.CREDITS_EXHAUSTED, 429, ("error",), "used all available credits"),
]


@pytest.mark.parametrize(("provider", "rule", "status", "path", "expected"), NATIVE)
def test_native_spellings(
    provider: str, rule: Rule, status: int, path: tuple[str, ...], expected: str
) -> None:
    out = render(_deny(rule), provider)
    assert out.status == status
    assert expected in str(_field(out.body, *path))


def test_anthropic_envelope_and_google_details() -> None:
    body = render(_deny(Rule.CREDITS_EXHAUSTED), "anthropic").body
    assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
    details = render(_deny(Rule.INVALID_KEY), "google").body["error"]["details"]
    assert details[0]["reason"] == "API_KEY_INVALID"


def test_generic_render_sends_the_deny_as_is() -> None:
    deny = Deny(
        rule=Rule.HARD_LIMIT,
        status=402,
        error_type="billing_error",
        code="billing_hard_limit_reached",
        message="Monthly hard limit of $200.00 reached (month to date $200.40).",
        limit={"hard_limit": "200.00", "month_to_date": "200.40"},
    )
    out = render(deny, "generic")
    assert out.status == 402
    assert out.body == {
        "error": {
            "message": deny.message,
            "type": "billing_error",
            "param": None,
            "code": "billing_hard_limit_reached",
        }
    }


def test_hard_limit_figure_is_formatted_as_money() -> None:
    deny = generic_deny(Rule.HARD_LIMIT, limit={"hard_limit": "1200.5"})
    assert "of $1,200.50 reached" in deny.message


def test_anthropic_hard_limit_without_reset_date_drops_the_sentence() -> None:
    message = render(generic_deny(Rule.HARD_LIMIT), "anthropic").body["error"]["message"]
    assert message == "You have reached your specified API usage limits."


def test_reset_date_survives_the_round_trip() -> None:
    out = render(
        generic_deny(Rule.HARD_LIMIT, resets_at=datetime(2027, 1, 1, 3, tzinfo=timezone(timedelta(hours=5)))),
        "anthropic",
    )
    assert interpret(out.status, out.body, "anthropic").details["resets_at"] == "2026-12-31T00:00:00Z"


def test_unknown_provider_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'acme'"):
        render(_deny(Rule.RATE_LIMIT), "acme")
    with pytest.raises(ValueError, match="known: generic, openai"):
        canonical_provider("acme")


def test_aliases_and_case() -> None:
    assert canonical_provider(" Gemini ") == "google"
    assert canonical_provider("Claude") == "anthropic"
    assert canonical_provider("AZURE-OPENAI") == "azure"


def test_naive_reset_time_is_refused() -> None:
    with pytest.raises(ValueError, match="resets_at"):
        generic_deny(Rule.HARD_LIMIT, resets_at=datetime(2026, 12, 1))
    deny = Deny(
        Rule.HARD_LIMIT,
        402,
        "billing_error",
        "billing_hard_limit_reached",
        "x",
        resets_at=datetime(2026, 12, 1),
    )
    with pytest.raises(ValueError, match="resets_at"):
        render(deny, "anthropic")


def test_native_rules_name_what_each_provider_spells_itself() -> None:
    assert native_rules("generic") == frozenset(Rule) - {Rule.DEPARTED_MEMBER_KEY}
    assert Rule.INVOICE_OVERDUE not in native_rules("deepseek")
    assert Rule.CREDITS_EXHAUSTED in native_rules("anthropic")


# --- round trip property ------------------------------------------------------------------------

MODELS = st.sampled_from(
    ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.0-flash", "llama-3.3-70b", "o1"]
)
LIMITS = st.fixed_dictionaries(
    {},
    optional={
        "model": MODELS,
        "rpm": st.integers(1, 100_000).map(str),
        "tpm": st.integers(1, 10_000_000).map(str),
        "hard_limit": st.decimals(min_value=1, max_value=10**6, places=2).map(str),
        "key": st.sampled_from(["sk-...a1b2", "sk-proj-...9f9f"]),
        "team": st.uuids().map(str),
        "invoice": st.sampled_from(["inv_001", "in_2026_10"]),
    },
)
RESET_TIMES = st.none() | st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(
    provider=st.sampled_from(PROVIDERS),
    rule=st.sampled_from(ALL_RULES),
    limit=LIMITS,
    resets_at=RESET_TIMES,
    # Below Azure's day-long retry-after (5+ digits of seconds), which is read on purpose as a spent
    # subscription quota, not a rate window; the rulebook's windows are a minute.
    retry_after_s=st.none() | st.integers(0, 9_999),
    as_dict=st.booleans(),
)
def test_round_trip_every_provider_and_rule(
    provider: str,
    rule: Rule,
    limit: dict[str, str],
    resets_at: datetime | None,
    retry_after_s: int | None,
    as_dict: bool,
) -> None:
    deny = generic_deny(rule, limit=limit, resets_at=resets_at, retry_after_s=retry_after_s)
    out = render(deny, provider)
    back = interpret(out.status, out.body if as_dict else out.text(), provider)
    assert back.rule == wire_rule(rule)
    assert back.billing == deny.billing
    assert back.confidence >= 0.4 or rule == Rule.UNKNOWN
    # Read under the generic dialect (provider unknown), the body is still recognised.
    assert interpret(out.status, out.text(), "generic").rule == wire_rule(rule)


@settings(max_examples=200, deadline=None)
@given(provider=st.sampled_from(PROVIDERS), rule=st.sampled_from(ALL_RULES))
def test_body_alone_still_reads_back(provider: str, rule: Rule) -> None:
    """Without the status (a log line with the body only), the rule survives too."""
    out = render(_deny(rule), provider)
    assert interpret(None, out.text(), provider).rule == wire_rule(rule)


# --- interpret: shapes, traps and robustness ----------------------------------------------------


def test_status_only_is_low_confidence_and_names_alternatives() -> None:
    i = interpret(402, None)
    assert i.rule == Rule.CREDITS_EXHAUSTED and i.confidence < 0.5
    assert Rule.HARD_LIMIT in i.alternatives and i.billing
    assert interpret(429, None, "openai").rule == Rule.RATE_LIMIT
    assert Rule.CREDITS_EXHAUSTED in interpret(429, None, "openai").alternatives
    assert interpret(400, None, "anthropic").rule == Rule.UNKNOWN
    assert interpret(529, None, "anthropic").rule == Rule.OVERLOADED
    assert interpret(418, None).rule == Rule.UNKNOWN


@pytest.mark.parametrize("status", [401, 402, 403, 429, 500, 503])
def test_status_alone_never_beats_a_body(status: int) -> None:
    body = '{"error":{"message":"Insufficient credits. Add more using https://openrouter.ai/credits","code":402}}'
    assert interpret(status, None).confidence < interpret(status, body).confidence


def test_nothing_to_go_on() -> None:
    i = interpret(None, None)
    assert i.rule == Rule.UNKNOWN and i.confidence == 0.0
    assert interpret(None, "   ").rule == Rule.UNKNOWN


def test_body_only_takes_the_status_from_the_body() -> None:
    body = '{"error":{"code":429,"message":"Your prepayment credits are depleted.","status":"RESOURCE_EXHAUSTED"}}'
    i = interpret(None, body, "google")
    assert i.status == 429 and i.rule == Rule.CREDITS_EXHAUSTED
    assert any("taken from the body" in e for e in i.evidence)


def test_malformed_json_is_read_as_text_with_parse_error() -> None:
    truncated = '{"error": {"message": "You exceeded your current quota, please check your plan", "type": "insufficient_quota"'
    i = interpret(429, truncated, "openai")
    assert i.parse_error is not None and "not valid JSON" in i.parse_error
    assert i.rule == Rule.CREDITS_EXHAUSTED
    assert any(e.startswith("body: not valid JSON") for e in i.evidence)


def test_sdk_printed_python_repr_is_understood() -> None:
    text = (
        "Error code: 429 - {'error': {'message': 'You exceeded your current quota, please check your plan and "
        "billing details.', 'type': 'insufficient_quota', 'param': None, 'code': 'insufficient_quota'}}"
    )
    i = interpret(None, text, "openai")
    assert (i.status, i.rule, i.code) == (429, Rule.CREDITS_EXHAUSTED, "insufficient_quota")


def test_list_wrapped_google_body() -> None:
    body = '[{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT"}}]'
    assert interpret(400, body, "google").rule == Rule.INVALID_KEY


def test_undocumented_envelope_is_still_read() -> None:
    body = '{"errors": [{"message": "Insufficient credits. Add more using https://openrouter.ai/credits"}]}'
    assert interpret(402, body, "openrouter").rule == Rule.CREDITS_EXHAUSTED
    assert interpret(402, "{}").rule == Rule.CREDITS_EXHAUSTED  # status alone, low confidence
    assert interpret(402, "{}").confidence < 0.5


def test_openrouter_error_inside_http_200() -> None:
    body = '{"error": {"code": 402, "message": "Insufficient credits. Add more using https://openrouter.ai/credits"}}'
    assert interpret(200, body, "openrouter").rule == Rule.CREDITS_EXHAUSTED


def test_unknown_provider_name_reads_every_dialect() -> None:
    body = '{"type":"error","error":{"type":"invalid_request_error","message":"This organization has been disabled."}}'
    i = interpret(400, body, "acme")
    assert i.provider == "generic" and i.rule == Rule.SUSPENDED
    assert any("unknown provider 'acme'" in e for e in i.evidence)


def test_cross_dialect_match_says_whose_spelling_it_is() -> None:
    body = '{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API."}}'
    i = interpret(400, body, "openai")
    assert i.rule == Rule.CREDITS_EXHAUSTED
    assert any("how Anthropic spells it" in e for e in i.evidence)


def test_rewrapped_status_lowers_confidence_but_keeps_the_rule() -> None:
    body = '{"type":"error","error":{"type":"invalid_request_error","message":"You have reached your specified API usage limits."}}'
    direct, proxied = interpret(400, body, "anthropic"), interpret(500, body, "anthropic")
    assert direct.rule == proxied.rule == Rule.HARD_LIMIT
    assert proxied.confidence < direct.confidence
    assert any("gateway may rewrap" in e for e in proxied.evidence)


def test_generic_429_with_billing_words_is_billing_but_rate_words_are_not() -> None:
    assert interpret(429, "Your quota of credits is used up").rule == Rule.CREDITS_EXHAUSTED
    assert interpret(429, "Monthly spend cap hit").billing
    assert interpret(429, "Too many requests: 60 per minute; see billing to upgrade").rule == Rule.RATE_LIMIT


def test_details_are_parsed_from_the_message() -> None:
    body = json.dumps(
        {
            "error": {
                "message": "Rate limit reached for gpt-4o in organization org-abc123 on tokens per min (TPM): "
                "Limit 30000, Used 29937, Requested 385. Please try again in 1m6.5s.",
                "type": "tokens",
                "code": "rate_limit_exceeded",
            }
        }
    )
    d = interpret(429, body, "openai").details
    assert d["model"] == "gpt-4o" and d["organization"] == "org-abc123"
    assert (d["limit"], d["used"], d["requested"]) == ("30000", "29937", "385")
    assert d["retry_after_s"] == "66.5" and d["unit"] == "tokens per min (TPM)"


def test_full_api_key_in_a_body_is_redacted() -> None:
    key = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1w"
    body = json.dumps(
        {"error": {"message": f"Incorrect API key provided: {key}.", "code": "invalid_api_key"}}
    )
    i = interpret(401, body, "openai")
    assert i.key_exposed and key not in repr(i)
    assert "sk-proj-...Uv1w" in (i.message or "")


def test_interpretation_is_frozen() -> None:
    i = interpret(429, None)
    with pytest.raises(FrozenInstanceError):
        i.rule = Rule.UNKNOWN  # type: ignore[misc]


@settings(max_examples=300, deadline=None)
@given(
    status=st.none() | st.integers(100, 599),
    body=st.none() | st.text(max_size=300) | st.text(alphabet='{}[]":,0123456789abc \\', max_size=80),
    provider=st.sampled_from([*PROVIDERS, "acme", ""]),
)
def test_interpret_never_raises(status: int | None, body: str | None, provider: str) -> None:
    i = interpret(status, body, provider)
    assert 0.0 <= i.confidence <= 1.0
    assert i.billing == (i.rule in BILLING_RULES)
    assert i.evidence


def test_dialects_module_is_pure() -> None:
    tree = ast.parse(Path(dialects.__file__).read_text())
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    allowed_pkgs = ("quotadesk.money", "quotadesk.billing")
    stdlib = {
        "__future__",
        "ast",
        "json",
        "re",
        "collections.abc",
        "dataclasses",
        "datetime",
        "decimal",
        "typing",
    }
    for name in imported:
        assert name in stdlib or name.startswith(allowed_pkgs), name
