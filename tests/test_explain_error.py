"""explain-error: real provider error bodies read in runbook terms, through the library and the CLI."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from quotadesk.billing.decision import BILLING_RULES, Rule
from quotadesk.cli import app
from quotadesk.errors import InputError
from quotadesk.explain import CHECKS, INCIDENT, ROOT_CAUSES, explain, render_text

DATA = json.loads((Path(__file__).parent / "data" / "provider_errors.json").read_text())
CASES: list[dict[str, Any]] = DATA["cases"]
SCHEMA = json.loads(
    resources.files("quotadesk.data").joinpath("contracts/triage-result.schema.json").read_text()
)
CAUSES_BY_INCIDENT: dict[str, list[str]] = SCHEMA["x-root-causes-by-incident"]


def test_enough_real_bodies_and_every_trap() -> None:
    assert len(CASES) >= 45
    assert len({c["id"] for c in CASES}) == len(CASES)
    providers = {c["provider"] for c in CASES}
    assert {"openai", "anthropic", "google", "openrouter", "deepseek", "mistral", "cohere"} <= providers
    assert {"together", "groq", "azure", "xai"} <= providers
    assert sum("trap" in c for c in CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_real_error_bodies(case: dict[str, Any]) -> None:
    e = explain(case["status"], case["body"], case["provider"])
    assert (str(e.rule), e.incident, e.billing) == (case["rule"], case["incident"], case["billing"])
    assert set(e.likely_root_causes) <= set(CAUSES_BY_INCIDENT[e.incident])
    assert e.what_to_check and e.meaning
    details = e.interpretation.details
    for key in ("model", "limit", "resets_at"):
        if key in case:
            assert details.get(key) == case[key], key
    if "max_confidence" in case:  # ambiguous errors must say they are unsure
        assert e.confidence <= case["max_confidence"]
    else:
        assert e.confidence >= 0.55


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_real_error_bodies_without_naming_the_provider(case: dict[str, Any]) -> None:
    """A pasted error whose provider nobody named is still recognised across dialects."""
    assert str(explain(case["status"], case["body"], "generic").rule) == case["rule"]


# The runbook's own dialect (DESIGN.md "Errors"): 402 billing, 401 auth, 403 access, 429 rate.
def _g(status: int, type_: str, code: str, message: str) -> str:
    return json.dumps({"error": {"type": type_, "code": code, "message": message}})


GENERIC = [
    (402, _g(402, "billing_error", "insufficient_credits", "Your credit balance ($0.00) does not cover this request."), "credits_exhausted", "payment_failure"),
    (402, _g(402, "billing_error", "billing_hard_limit_reached", "Monthly hard limit of $200.00 reached."), "hard_limit", "spending_limit"),
    (402, _g(402, "billing_error", "invoice_overdue", "Invoice inv_7 is unpaid past its due date."), "invoice_overdue", "payment_failure"),
    (402, _g(402, "billing_error", "payment_failed", "Your card was declined."), "payment_failed", "payment_failure"),
    (402, "Payment failed: card declined", "payment_failed", "payment_failure"),
    (402, "Your credit balance is exhausted", "credits_exhausted", "payment_failure"),
    (401, _g(401, "authentication_error", "account_suspended", "This organization's account is suspended."), "suspended", "account_suspension"),
    (401, _g(401, "authentication_error", "invalid_api_key", "Invalid API key sk-...a1b2."), "invalid_key", "api_key_issue"),
    (403, _g(403, "permission_error", "model_not_available", "Your usage tier (free) does not include the model 'o1'."), "model_not_in_tier", "free_tier"),
    (403, _g(403, "permission_error", "free_tier_limit_reached", "Free tier limit reached."), "free_tier_limit", "free_tier"),
    (429, _g(429, "rate_limit_error", "rate_limit_exceeded", "Rate limit reached for gpt-4o on requests per minute (RPM): limit 3."), "rate_limit", "rate_limit"),
    (429, "Too Many Requests", "rate_limit", "rate_limit"),
    (429, json.dumps({"error": {"message": "Your quota is exhausted; check billing"}}), "credits_exhausted", "payment_failure"),
    (503, "Service Unavailable", "overloaded", "provider_outage"),
    (502, "<html><body>502 Bad Gateway</body></html>", "overloaded", "provider_outage"),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "rule", "incident"), GENERIC)
def test_generic_dialect(status: int, body: str, rule: str, incident: str) -> None:
    e = explain(status, body, "generic")
    assert (str(e.rule), e.incident) == (rule, incident)
    assert e.billing == (Rule(rule) in BILLING_RULES)


@pytest.mark.parametrize("rule", list(Rule))
def test_every_rule_maps_into_the_contract_vocabulary(rule: Rule) -> None:
    incident = INCIDENT[rule]
    assert incident in SCHEMA["properties"]["incident"]["enum"]
    assert set(ROOT_CAUSES[rule]) <= set(CAUSES_BY_INCIDENT[incident])
    assert CHECKS[rule]


def test_trial_credit_is_a_free_tier_incident_but_still_billing() -> None:
    body = next(c for c in CASES if c["id"] == "azure-trial-credit")["body"]
    e = explain(429, body, "azure")
    assert e.rule == Rule.CREDITS_EXHAUSTED and e.billing
    assert e.likely_root_causes == ("trial_credits_consumed", "trial_credits_expired")


def test_billing_429_says_so_and_says_not_to_retry() -> None:
    body = next(c for c in CASES if c["id"] == "openai-insufficient-quota")["body"]
    e = explain(429, body, "openai")
    assert not e.retry
    assert "429" in e.meaning and "402" in e.meaning
    assert e.likely_root_causes[0] == "credits_exhausted"


def test_rate_limit_may_be_retried_with_the_wait_it_names() -> None:
    body = next(c for c in CASES if c["id"] == "openai-rate-limit-tpm")["body"]
    e = explain(429, body, "openai")
    assert e.retry and e.interpretation.details["retry_after_s"] == "0.644"
    assert "yes, after 0.644s" in render_text(e)


def test_ambiguous_auth_error_points_at_the_status_page() -> None:
    e = explain(401, '{"error":{"message":"User not found.","code":401}}', "openrouter")
    assert e.confidence <= 0.6
    assert any("Status page" in c for c in e.what_to_check)
    assert "provider_outage" in [a["incident"] for a in e.to_json()["alternatives"]]
    assert any("status.openrouter.ai" in line for line in e.interpretation.evidence)


def test_xai_combined_message_names_the_hard_limit_as_alternative() -> None:
    body = next(c for c in CASES if c["id"] == "xai-credits-or-spend-429")["body"]
    out = explain(429, body, "xai").to_json()
    assert {"rule": "hard_limit", "incident": "spending_limit"} in out["alternatives"]


def test_empty_body_reads_the_status_alone() -> None:
    e = explain(402, "", "generic")
    assert e.rule == Rule.CREDITS_EXHAUSTED and e.confidence < 0.5
    assert explain(429, "   \n", "openai").rule == Rule.RATE_LIMIT


def test_body_that_is_not_json_is_text_with_a_warning() -> None:
    e = explain(
        429, '{"error": {"type": "insufficient_quota", "message": "You exceeded your current quota', "openai"
    )
    assert e.rule == Rule.CREDITS_EXHAUSTED
    assert e.to_json()["parse_error"].startswith("not valid JSON")
    assert "Warning:      body: not valid JSON" in render_text(e)


@pytest.mark.parametrize("status", [42, 99, 600, 999, -1, 0])
def test_bad_status_names_the_field(status: int) -> None:
    with pytest.raises(InputError) as err:
        explain(status, "{}", "openai")
    assert err.value.field == "status" and str(status) in err.value.message


@pytest.mark.parametrize("status", [True, "429", 429.0, None])
def test_status_must_be_an_int(status: object) -> None:
    with pytest.raises(InputError, match="status"):
        explain(status, "{}", "openai")  # type: ignore[arg-type]


def test_unknown_provider_names_the_field_and_the_known_ones() -> None:
    with pytest.raises(InputError) as err:
        explain(429, "{}", "acme")
    assert err.value.field == "provider"
    assert "acme" in err.value.message and "openai" in err.value.message and "xai" in err.value.message


def test_provider_alias_is_accepted() -> None:
    assert explain(400, '{"error":{"code":400,"message":"API key expired. Please renew the API key.","status":"INVALID_ARGUMENT"}}', "gemini").provider == "google"  # fmt: skip


def test_to_json_is_plain_json() -> None:
    e = explain(429, next(c for c in CASES if c["id"] == "gemini-free-tier-limit-0")["body"], "google")
    out = e.to_json()
    assert json.loads(json.dumps(out)) == out
    assert out["incident"] == "free_tier" and out["likely_root_causes"][0] == "model_not_in_tier"
    assert out["billing"] is False and isinstance(out["confidence"], float)
    assert out["details"]["model"] == "gemini-2.0-flash"


def test_pasted_full_key_never_reaches_the_output() -> None:
    key = "sk-" + "T3stKeyAbcdefGhijklMnopQrst"
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {key}", "code": "invalid_api_key"}})
    e = explain(401, body, "openai")
    assert key not in json.dumps(e.to_json()) and key not in render_text(e)
    assert e.to_json()["key_exposed"] is True
    assert any("rotate" in c for c in e.what_to_check)


def test_render_text_reads_top_down() -> None:
    body = next(c for c in CASES if c["id"] == "anthropic-usage-limits")["body"]
    text = render_text(explain(400, body, "anthropic"))
    lines = text.splitlines()
    assert lines[0].startswith("Anthropic 400: hard_limit (billing cut-off")
    assert "Incident:     spending_limit" in text and "Root causes:  hard_limit_reached" in text
    assert "2026-04-01T00:00:00Z" in text and "Check next:" in text and "Evidence:" in text


# --- CLI --------------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUOTADESK_PROVIDER", raising=False)


def test_cli_json() -> None:
    body = next(c for c in CASES if c["id"] == "together-rate-limit-credit-limit-type")["body"]
    result = runner.invoke(app, ["explain-error", "429", body, "--provider", "together", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert {"incident", "likely_root_causes", "billing", "confidence"} <= set(out)
    assert (out["incident"], out["likely_root_causes"], out["billing"]) == (
        "rate_limit",
        ["rate_limit"],
        False,
    )


def test_cli_text() -> None:
    body = next(c for c in CASES if c["id"] == "groq-organization-restricted")["body"]
    result = runner.invoke(app, ["explain-error", "400", body, "-p", "groq"])
    assert result.exit_code == 0, result.output
    assert "Incident:     account_suspension" in result.stdout
    assert "policy_violation" in result.stdout


def test_cli_reads_stdin() -> None:
    body = next(c for c in CASES if c["id"] == "deepseek-insufficient-balance")["body"]
    result = runner.invoke(app, ["explain-error", "402", "-", "--provider", "deepseek", "--json"], input=body)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["likely_root_causes"][0] == "credits_exhausted"


def test_cli_provider_defaults_to_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    body = '{"detail":"Unauthorized"}'
    default = json.loads(runner.invoke(app, ["explain-error", "401", body, "--json"]).stdout)
    assert default["provider"] == "generic"
    monkeypatch.setenv("QUOTADESK_PROVIDER", "mistral")
    chosen = json.loads(runner.invoke(app, ["explain-error", "401", body, "--json"]).stdout)
    assert chosen["provider"] == "mistral" and chosen["rule"] == "invalid_key"


@pytest.mark.parametrize("status", ["42", "999"])
def test_cli_bad_status_exits_2_naming_the_field(status: str) -> None:
    result = runner.invoke(app, ["explain-error", status, "{}", "--json"])
    assert result.exit_code == 2
    assert "status" in result.stderr and status in result.stderr
    assert result.stdout == ""


def test_cli_unknown_provider_exits_2() -> None:
    result = runner.invoke(app, ["explain-error", "429", "{}", "--provider", "acme"])
    assert result.exit_code == 2
    assert "provider" in result.stderr and "acme" in result.stderr and "anthropic" in result.stderr
    assert result.stdout == ""


def test_raw_bodies_from_public_threads_say_where_they_come_from() -> None:
    sourced = [c for c in CASES if "source" in c]
    assert len(sourced) >= 14
    assert all(c["source"].startswith("https://github.com/") for c in sourced)
    # the misread families: a disabled API is not a suspension, a key's monthly cap is not the
    # balance, OpenAI's "add a payment method" rate limit is the free tier
    by_id = {c["id"]: explain(c["status"], c["body"], c["provider"]) for c in sourced}
    assert by_id["gemini-api-not-enabled-in-project"].incident != "account_suspension"
    assert by_id["openrouter-key-monthly-limit-afford"].incident == "spending_limit"
    assert by_id["openai-free-tier-rate-limit-3-rpm"].likely_root_causes[0] == "free_tier_rate_limit"
