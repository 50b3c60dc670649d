"""How each provider spells a refusal, in both directions.

``render(deny, provider)`` turns a ``Deny`` (always carrying the generic, runbook dialect)
into the status, headers and body a given provider would send; ``interpret(status, body,
provider)`` reads a real provider's error back into a ``Rule``. One table of *signatures*
drives the reading: each names a rule, the provider it comes from, the statuses it arrives
with, and patterns for ``error.type``, ``error.code`` (or Google's reason, Anthropic's
``details.error_code``) and the message. Why a table and not ``if status == 429``: providers
disagree with the runbook (credit exhaustion is a 429 at OpenAI, a 400 at Anthropic; Together
labels a per-minute limit ``credit_limit``), so the status alone never decides.

Scoring: every signature that matches contributes ``confidence x provider factor x status
factor``; the best score wins. A signature from another dialect still counts (a body pasted
under the wrong provider is still recognisable) but less, and much less for texts that mean
different things at different providers ("Unauthorized"). A status that differs from what the
provider sends for that signature lowers the score instead of vetoing it, because gateways
rewrap statuses (an Anthropic 400 seen as 500 behind a proxy). When no signature matches, a
per-provider status table gives a low-confidence guess and says what else it could be.

Decisions worth knowing:

- Gemini 429 ``free_tier_requests, limit: 0`` is ``MODEL_NOT_IN_TIER``: ``limit: 0`` means the
  model is not offered on the free tier at all, so waiting never helps (a non-zero free-tier
  limit is ``FREE_TIER_LIMIT``). ``FREE_TIER_LIMIT`` is listed as the alternative.
- ``DEPARTED_MEMBER_KEY`` goes on the wire as an invalid key (the key is revoked): the wire
  cannot tell the two apart, so ``interpret`` reports ``INVALID_KEY`` (see ``wire_rule``).
- A rule a provider has no native spelling for is sent in that provider's envelope with the
  project's own code (``invoice_overdue``, ``free_tier_limit_reached``, ...), so every rule
  survives a round trip through every dialect (``native_rules`` tells which are native).
- Every refusal that retrying cannot fix carries ``x-should-retry: false`` (SDKs retry 429s
  otherwise); rate limits and overloads carry ``retry-after`` and ``x-should-retry: true``.

Pure: standard library, ``quotadesk.money`` and ``quotadesk.billing`` only.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from quotadesk.billing.decision import BILLING_RULES, Deny, Rule
from quotadesk.money import MoneyError, dollars, fmt

PROVIDERS: tuple[str, ...] = (
    "generic",
    "openai",
    "anthropic",
    "google",
    "openrouter",
    "deepseek",
    "mistral",
    "cohere",
    "together",
    "groq",
    "azure",
    "xai",
)
ALIASES: dict[str, str] = {
    "runbook": "generic",
    "claude": "anthropic",
    "gemini": "google",
    "vertex": "google",
    "vertex_ai": "google",
    "azure_openai": "azure",
    "azure-openai": "azure",
    "together_ai": "together",
    "togetherai": "together",
    "grok": "xai",
    "x.ai": "xai",
}
_NAMES: dict[str, str] = {
    "generic": "Generic (runbook)",
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "google": "Google (Gemini/Vertex)",
    "openrouter": "OpenRouter",
    "deepseek": "DeepSeek",
    "mistral": "Mistral",
    "cohere": "Cohere",
    "together": "Together",
    "groq": "Groq",
    "azure": "Azure OpenAI",
    "xai": "xAI",
}

RETRYABLE = frozenset({Rule.RATE_LIMIT, Rule.OVERLOADED})
RUNBOOK_STATUS: dict[Rule, int] = {
    Rule.CREDITS_EXHAUSTED: 402,
    Rule.PAYMENT_FAILED: 402,
    Rule.HARD_LIMIT: 402,
    Rule.INVOICE_OVERDUE: 402,
    Rule.SUSPENDED: 401,
    Rule.INVALID_KEY: 401,
    Rule.DEPARTED_MEMBER_KEY: 401,
    Rule.MODEL_NOT_IN_TIER: 403,
    Rule.FREE_TIER_LIMIT: 403,
    Rule.RATE_LIMIT: 429,
    Rule.OVERLOADED: 503,
}
DEFAULT_RETRY_AFTER_S = {Rule.RATE_LIMIT: 60, Rule.OVERLOADED: 30}
_WIRE_RULE = {Rule.DEPARTED_MEMBER_KEY: Rule.INVALID_KEY}


def provider_name(provider: str) -> str:
    """A provider's display name, for messages."""
    return _NAMES.get(provider, provider)


def canonical_provider(provider: str) -> str:
    """``provider`` as one of ``PROVIDERS`` (aliases such as ``gemini`` accepted), else ValueError."""
    key = provider.strip().lower() if isinstance(provider, str) else ""
    key = ALIASES.get(key, key)
    if key not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; known: {', '.join(PROVIDERS)}")
    return key


def wire_rule(rule: Rule) -> Rule:
    """The rule a refusal still names once on the wire (a departed member's key is an invalid key)."""
    return _WIRE_RULE.get(rule, rule)


# ---------------------------------------------------------------------------------------------
# Rendering


@dataclass(frozen=True, slots=True)
class RenderedError:
    """A refusal as a provider sends it: HTTP status, headers and JSON body."""

    status: int
    headers: dict[str, str] = field(hash=False)
    body: dict[str, Any] = field(hash=False)

    def text(self) -> str:
        """The body as the bytes on the wire would read."""
        return json.dumps(self.body, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class _Spelling:
    """Status, type, code and message template of one rule in one dialect.

    Templates use ``{name}`` placeholders filled from the Deny; a ``[[...]]`` segment is
    dropped when a placeholder inside it has no value, so messages never show a blank.
    ``extra`` is the dialect's secondary code: Google's ErrorInfo reason, Anthropic's
    ``details.error_code``, OpenRouter's ``metadata.error_code``.
    """

    status: int
    type: str | None
    code: str | None
    message: str
    extra: str | None = None


_R = Rule
_QUOTA_TEXT = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
)
_GEMINI_QUOTA = (
    "You exceeded your current quota, please check your plan and billing details. For more information on "
    "this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. * Quota exceeded for metric: "
    "generativelanguage.googleapis.com/{metric}, limit: {quota}[[, model: {model}]][[ Please retry in {retry}s.]]"
)

# fmt: off
S = _Spelling
GENERIC_SPELLING: dict[Rule, _Spelling] = {
    _R.CREDITS_EXHAUSTED: S(402, "billing_error", "insufficient_credits", (
        "Your credit balance is exhausted. Add credits or enable auto-recharge to continue."
    )),
    _R.PAYMENT_FAILED: S(402, "billing_error", "payment_failed", (
        "Your last payment failed. Update your payment method to continue."
    )),
    _R.HARD_LIMIT: S(402, "billing_error", "billing_hard_limit_reached", (
        "Monthly hard limit[[ of {hard_limit}]] reached. Access resumes when the limit is raised or on the "
        "1st of next month[[ ({date} 00:00 UTC)]]."
    )),
    _R.INVOICE_OVERDUE: S(402, "billing_error", "invoice_overdue", (
        "Invoice[[ {invoice}]] is unpaid past its due date; pay it to resume."
    )),
    _R.SUSPENDED: S(401, "authentication_error", "account_suspended", (
        "This organization's account is suspended."
    )),
    _R.INVALID_KEY: S(401, "authentication_error", "invalid_api_key", "Invalid API key[[ {key}]]."),
    _R.MODEL_NOT_IN_TIER: S(403, "permission_error", "model_not_available", (
        "The model[[ '{model}']] is not available on your tier."
    )),
    _R.FREE_TIER_LIMIT: S(403, "permission_error", "free_tier_limit_reached", (
        "Free tier limit reached. Add a payment method to move to a paid tier."
    )),
    _R.RATE_LIMIT: S(429, "rate_limit_error", "rate_limit_exceeded", (
        "Rate limit reached[[ for {model}]][[ on {unit}: limit {limit}]]. Please retry after {retry}s."
    )),
    _R.OVERLOADED: S(503, "overloaded_error", "service_unavailable", (
        "The service is temporarily overloaded. Please retry shortly."
    )),
    _R.UNKNOWN: S(400, "invalid_request_error", "request_refused", "The request was refused."),
}
_NATIVE: dict[str, dict[Rule, _Spelling]] = {
    "openai": {
        _R.CREDITS_EXHAUSTED: S(429, "insufficient_quota", "insufficient_quota", _QUOTA_TEXT),
        _R.PAYMENT_FAILED: S(429, "billing_not_active", "billing_not_active", (
            "Your account is not active, please check your billing details on our website."
        )),
        _R.HARD_LIMIT: S(429, "insufficient_quota", "organization_spend_limit_exceeded", _QUOTA_TEXT),
        _R.INVOICE_OVERDUE: S(429, "billing_not_active", "invoice_overdue", (
            "Your account is not active: an invoice is overdue."
        )),
        _R.SUSPENDED: S(401, "invalid_request_error", "account_deactivated", (
            "The OpenAI account associated with this API key has been deactivated. If you are the developer "
            "for this OpenAI app, please check your email for more information."
        )),
        _R.INVALID_KEY: S(401, "invalid_request_error", "invalid_api_key", (
            "Incorrect API key provided: {key}. You can find your API key at "
            "https://platform.openai.com/account/api-keys."
        )),
        _R.MODEL_NOT_IN_TIER: S(403, "invalid_request_error", "model_not_found", (
            "Project does not have access to model `{model}`"
        )),
        _R.FREE_TIER_LIMIT: S(429, "requests", "free_tier_limit_reached", (
            "Free tier limit reached. Add a payment method to continue."
        )),
        _R.RATE_LIMIT: S(429, "requests", "rate_limit_exceeded", (
            "Rate limit reached for {model}[[ on {unit}: Limit {limit}]]. Please try again in {retry}s."
        )),
        _R.OVERLOADED: S(503, "server_error", None, (
            "That model is currently overloaded with other requests. You can retry your request, or contact "
            "us through our help center at help.openai.com if the error persists."
        )),
        _R.UNKNOWN: S(400, "invalid_request_error", None, "The request was refused."),
    },
    "anthropic": {
        _R.CREDITS_EXHAUSTED: S(400, "invalid_request_error", None, (
            "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to "
            "upgrade or purchase credits."
        )),
        _R.PAYMENT_FAILED: S(402, "billing_error", None, (
            "There's an issue with your billing or payment information. Check your payment details in the "
            "Claude Console."
        )),
        _R.HARD_LIMIT: S(400, "invalid_request_error", None, (
            "You have reached your specified API usage limits.[[ You will regain access on {date} at 00:00 "
            "UTC.]]"
        )),
        _R.INVOICE_OVERDUE: S(402, "billing_error", None, (
            "An invoice is unpaid past its due date."
        ), extra="invoice_overdue"),
        _R.SUSPENDED: S(400, "invalid_request_error", None, "This organization has been disabled."),
        _R.INVALID_KEY: S(401, "authentication_error", None, "invalid x-api-key"),
        _R.MODEL_NOT_IN_TIER: S(403, "permission_error", None, (
            "Your API key does not have permission to use the specified resource.[[ (model: {model})]]"
        )),
        _R.FREE_TIER_LIMIT: S(429, "rate_limit_error", None, (
            "Free tier limit reached."
        ), extra="free_tier_limit_reached"),
        _R.RATE_LIMIT: S(429, "rate_limit_error", None, (
            "This request would exceed the rate limit for your organization[[ of {limit} {unit}]]. Please try"
            " again later."
        )),
        _R.OVERLOADED: S(529, "overloaded_error", None, "Overloaded"),
        _R.UNKNOWN: S(400, "invalid_request_error", None, "The request was refused."),
    },
    "google": {
        _R.CREDITS_EXHAUSTED: S(402, "RESOURCE_EXHAUSTED", None, (
            "Your prepayment credits are depleted. Please go to AI Studio at https://ai.studio/projects to "
            "manage your project and billing. Learn more at https://ai.google.dev/gemini-"
            "api/docs/billing#prepay."
        )),
        _R.PAYMENT_FAILED: S(403, "PERMISSION_DENIED", None, (
            "Billing account for project is not found. Billing must be enabled for activation of service(s) "
            "generativelanguage.googleapis.com to proceed."
        ), extra="UREQ_PROJECT_BILLING_NOT_FOUND"),
        _R.HARD_LIMIT: S(429, "RESOURCE_EXHAUSTED", None, (
            "Your project reached its spend cap; Gemini API services are paused until the cap is raised[[ or "
            "until {date}]]."
        )),
        _R.INVOICE_OVERDUE: S(402, "FAILED_PRECONDITION", None, (
            "An invoice is unpaid past its due date."
        ), extra="INVOICE_OVERDUE"),
        _R.SUSPENDED: S(403, "PERMISSION_DENIED", None, (
            "Permission denied: Consumer[[ 'api_key:{key}']] has been suspended."
        ), extra="CONSUMER_SUSPENDED"),
        _R.INVALID_KEY: S(400, "INVALID_ARGUMENT", None, (
            "API key not valid. Please pass a valid API key."
        ), extra="API_KEY_INVALID"),
        _R.MODEL_NOT_IN_TIER: S(429, "RESOURCE_EXHAUSTED", None, _GEMINI_QUOTA),
        _R.FREE_TIER_LIMIT: S(429, "RESOURCE_EXHAUSTED", None, _GEMINI_QUOTA),
        _R.RATE_LIMIT: S(429, "RESOURCE_EXHAUSTED", None, _GEMINI_QUOTA),
        _R.OVERLOADED: S(503, "UNAVAILABLE", None, "The model is overloaded. Please try again later."),
        _R.UNKNOWN: S(400, "INVALID_ARGUMENT", None, "Request contains an invalid argument."),
    },
    "openrouter": {
        _R.CREDITS_EXHAUSTED: S(402, None, None, (
            "Insufficient credits. Add more using https://openrouter.ai/credits"
        )),
        _R.PAYMENT_FAILED: S(402, None, None, (
            "Your last payment failed. Update your payment method."
        ), extra="payment_failed"),
        _R.HARD_LIMIT: S(403, None, None, "Key limit exceeded. Manage it using https://openrouter.ai/keys"),
        _R.INVOICE_OVERDUE: S(402, None, None, "An invoice is overdue.", extra="invoice_overdue"),
        _R.SUSPENDED: S(403, None, None, "This account has been suspended.", extra="account_suspended"),
        _R.INVALID_KEY: S(401, None, None, "No auth credentials found"),
        _R.MODEL_NOT_IN_TIER: S(403, None, None, (
            "Your account does not have access to this model."
        ), extra="model_not_available"),
        _R.FREE_TIER_LIMIT: S(429, None, None, (
            "Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model requests per "
            "day"
        )),
        _R.RATE_LIMIT: S(429, None, None, "You are being rate limited"),
        _R.OVERLOADED: S(502, None, None, (
            "Your chosen model is down or we received an invalid response from it"
        )),
        _R.UNKNOWN: S(400, None, None, "The request was refused."),
    },
    "deepseek": {
        _R.CREDITS_EXHAUSTED: S(402, "unknown_error", "invalid_request_error", "Insufficient Balance"),
        _R.INVALID_KEY: S(401, "authentication_error", "invalid_request_error", (
            "Authentication Fails, Your api key: {key} is invalid"
        )),
        _R.RATE_LIMIT: S(429, "rate_limit_error", "rate_limit_exceeded", "Rate Limit Reached"),
        _R.OVERLOADED: S(503, "server_error", None, "Server Overloaded"),
    },
    "mistral": {
        _R.CREDITS_EXHAUSTED: S(402, "billing_error", None, "Your prepaid credit balance has reached zero."),
        _R.PAYMENT_FAILED: S(402, "billing_error", None, "A recent invoice payment failed."),
        _R.HARD_LIMIT: S(402, "billing_error", None, (
            "Organization or Workspace monthly spending limit is reached."
        )),
        _R.FREE_TIER_LIMIT: S(402, "billing_error", None, (
            "Included monthly usage is exhausted and pay-as-you-go is not enabled."
        )),
        _R.INVALID_KEY: S(401, "detail", None, "Unauthorized"),
        _R.MODEL_NOT_IN_TIER: S(403, "invalid_request_error", None, (
            "The model[[ {model}]] is not available on your subscription tier."
        )),
        _R.RATE_LIMIT: S(429, "rate_limited", "1300", "Rate limit exceeded"),
        _R.OVERLOADED: S(503, "service_unavailable", None, "Service unavailable: the model is overloaded."),
    },
    "cohere": {
        _R.PAYMENT_FAILED: S(402, None, None, (
            "Please add or update your payment method at https://dashboard.cohere.com/billing?tab=payment to "
            "continue"
        )),
        _R.HARD_LIMIT: S(402, None, None, (
            "Maximum billing reached for this API key as set in your dashboard, please go to "
            "https://dashboard.cohere.com/billing?tab=payment to increase your maximum amount to continue "
            "using this API key. Your billing capacity will reset at the beginning of next month."
        )),
        _R.INVALID_KEY: S(401, None, None, "invalid api token"),
        _R.MODEL_NOT_IN_TIER: S(404, None, None, (
            "model '{model}' not found, make sure the correct model ID was used and that you have access to "
            "the model."
        )),
        _R.FREE_TIER_LIMIT: S(429, None, None, (
            "You are using a Trial key, which is limited to 1000 API calls / month."
        )),
        _R.RATE_LIMIT: S(429, None, None, (
            "You are past the per minute request limit, please wait and try again later."
        )),
    },
    "together": {
        _R.CREDITS_EXHAUSTED: S(402, "credit_limit", None, (
            "Credit limit exceeded. Please navigate to https://api.together.xyz/settings/billing to add "
            "credit or upgrade your plan."
        )),
        _R.HARD_LIMIT: S(402, "invalid_request_error", None, (
            "The account associated with the API key has reached its maximum allowed monthly spending limit."
        )),
        _R.INVALID_KEY: S(401, "invalid_request_error", "invalid_api_key", (
            "Invalid API key provided. You can find your API key at https://api.together.xyz/settings/api-"
            "keys."
        )),
        _R.MODEL_NOT_IN_TIER: S(403, "invalid_request_error", None, (
            "Access to this model is allowed for build tier 2 and above. Also please make sure that you have "
            "a positive balance. Please upgrade your tier by buying credits at "
            "https://api.together.xyz/settings/billing."
        )),
        _R.FREE_TIER_LIMIT: S(429, "invalid_request_error", "free_tier_limit_reached", (
            "Free tier limit reached."
        )),
        _R.RATE_LIMIT: S(429, "credit_limit", None, (
            "You have been rate limited. Your rate limit is {limit} queries per minute. Please navigate to "
            "https://api.together.xyz/settings/billing to upgrade to a paid plan."
        )),
        _R.OVERLOADED: S(503, "server_error", None, (
            "Engine Overloaded. Our servers are seeing high amounts of traffic."
        )),
    },
    "groq": {
        _R.HARD_LIMIT: S(400, "invalid_request_error", "blocked_api_access", (
            "API access is blocked: the organization reached its spend limit."
        )),
        _R.SUSPENDED: S(400, "invalid_request_error", "organization_restricted", (
            "Organization has been restricted. Please reach out to support if you believe this was in error."
        )),
        _R.INVALID_KEY: S(401, "invalid_request_error", "invalid_api_key", "Invalid API Key"),
        _R.FREE_TIER_LIMIT: S(429, "tokens", "rate_limit_exceeded", (
            "Rate limit reached for model `{model}` service tier `on_demand`[[ on {unit}: Limit {limit}]]. "
            "Please try again in {retry}s. Need more tokens? Upgrade to Dev Tier today at "
            "https://console.groq.com/settings/billing"
        )),
        _R.RATE_LIMIT: S(429, "tokens", "rate_limit_exceeded", (
            "Rate limit reached for model `{model}`[[ on {unit}: Limit {limit}]]. Please try again in "
            "{retry}s."
        )),
        _R.OVERLOADED: S(503, "server_error", None, "Our servers are experiencing high traffic."),
    },
    "azure": {
        _R.CREDITS_EXHAUSTED: S(429, None, "429", (
            "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
            "2024-08-01-preview have exceeded token rate limit of your current OpenAI S0 pricing tier. Please"
            " retry after 86400 seconds. For Free Account customers, upgrade to Pay as you Go here: "
            "https://aka.ms/429TrialUpgrade."
        )),
        _R.PAYMENT_FAILED: S(403, None, "SubscriptionDisabled", (
            "The subscription has been disabled because its payment failed. Update the payment method in the "
            "Azure portal."
        )),
        _R.HARD_LIMIT: S(403, None, "SubscriptionDisabled", (
            "The subscription has been disabled because it reached its spending limit. Remove or raise the "
            "spending limit in the Azure portal."
        )),
        _R.SUSPENDED: S(403, None, "Forbidden", "The resource has been temporarily blocked."),
        _R.INVALID_KEY: S(401, None, "401", (
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
            "valid key for an active subscription and use a correct regional API endpoint for your resource."
        )),
        _R.MODEL_NOT_IN_TIER: S(404, None, "DeploymentNotFound", (
            "The API deployment for this resource does not exist."
        )),
        _R.FREE_TIER_LIMIT: S(429, None, "429", (
            "Requests to the ChatCompletions_Create Operation have exceeded call rate limit of your current "
            "pricing tier F0 (free). Upgrade to a paid pricing tier."
        )),
        _R.RATE_LIMIT: S(429, None, "429", (
            "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
            "2024-08-01-preview have exceeded token rate limit of your current OpenAI S0 pricing tier. Please"
            " retry after {retry} seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like"
            " to further increase the default rate limit."
        )),
        _R.OVERLOADED: S(429, None, "429", (
            "The system is currently experiencing high demand and cannot process your request. Please retry "
            "after {retry} seconds."
        )),
    },
    "xai": {
        _R.CREDITS_EXHAUSTED: S(429, None, "Some resource has been exhausted", (
            "Your team[[ {team}]] has either used all available credits or reached its monthly spending "
            "limit. To continue making API requests, please purchase more credits or raise your spending "
            "limit."
        )),
        _R.HARD_LIMIT: S(429, None, "Some resource has been exhausted", (
            "Your team[[ {team}]] has reached its monthly spending limit. To continue making API requests, "
            "please raise your spending limit."
        )),
        _R.INVALID_KEY: S(401, None, "Unauthorized", (
            "Incorrect API key provided: {key}. You can obtain an API key from https://console.x.ai."
        )),
        _R.RATE_LIMIT: S(429, None, "Too many requests", (
            "Rate limit exceeded. Please try again in {retry}s."
        )),
        _R.OVERLOADED: S(503, None, "Unavailable", (
            "The service is temporarily overloaded. Please retry shortly."
        )),
    },
}
# fmt: on


def native_rules(provider: str) -> frozenset[Rule]:
    """Rules ``provider`` has its own spelling for (the rest go out with the project's codes)."""
    p = canonical_provider(provider)
    return frozenset(GENERIC_SPELLING) if p == "generic" else frozenset(_NATIVE[p])


_SEGMENT = re.compile(r"\[\[(.*?)\]\]", re.S)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _fill(template: str, values: Mapping[str, str]) -> str:
    def segment(m: re.Match[str]) -> str:
        inner = m.group(1)
        return inner if all(n in values for n in _PLACEHOLDER.findall(inner)) else ""

    text = _SEGMENT.sub(segment, template)
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(1)), text)


def _values(deny: Deny, rule: Rule) -> dict[str, str]:
    """Placeholder values from the Deny's figures: what is known, plus neutral defaults."""
    limit = deny.limit
    out: dict[str, str] = {
        "key": limit.get("key") or "sk-...",
        "model": limit.get("model") or "the requested model",
    }
    out |= {name: limit[name] for name in ("team", "invoice") if limit.get(name)}
    if limit.get("rpm"):
        out |= {"unit": "requests per min (RPM)", "limit": limit["rpm"]}
    elif limit.get("tpm"):
        out |= {"unit": "tokens per min (TPM)", "limit": limit["tpm"]}
    if limit.get("hard_limit"):
        try:
            out["hard_limit"] = fmt(dollars(limit["hard_limit"], "limit.hard_limit"))
        except MoneyError:
            out["hard_limit"] = limit["hard_limit"]
    if deny.resets_at is not None:
        if deny.resets_at.tzinfo is None:
            raise ValueError("resets_at: must be timezone-aware (UTC)")
        out["date"] = deny.resets_at.astimezone(UTC).strftime("%Y-%m-%d")
    retry = deny.retry_after_s if deny.retry_after_s is not None else DEFAULT_RETRY_AFTER_S.get(rule, 60)
    out["retry"] = str(retry)
    # Gemini quota figures: a model off the free tier has limit 0; other limits keep their figure.
    free = rule in (Rule.MODEL_NOT_IN_TIER, Rule.FREE_TIER_LIMIT)
    out["metric"] = "generate_content_free_tier_requests" if free else "generate_content_paid_tier_requests"
    out["quota"] = "0" if rule == Rule.MODEL_NOT_IN_TIER else out.get("limit", "20")
    out.setdefault("limit", "60")
    return out


def _envelope(
    provider: str, sp: _Spelling, status: int, message: str, rule: Rule, values: Mapping[str, str]
) -> dict[str, Any]:
    if provider == "anthropic":
        err: dict[str, Any] = {"type": sp.type, "message": message}
        if sp.extra:
            err["details"] = {"error_code": sp.extra}
        return {"type": "error", "error": err}
    if provider == "google":
        details: list[dict[str, Any]] = []
        if rule in (Rule.MODEL_NOT_IN_TIER, Rule.FREE_TIER_LIMIT, Rule.RATE_LIMIT):
            free = rule != Rule.RATE_LIMIT
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {
                            "quotaMetric": "generativelanguage.googleapis.com/" + values["metric"],
                            "quotaId": "GenerateRequestsPerDayPerProjectPerModel"
                            + ("-FreeTier" if free else ""),
                        }
                    ],
                }
            )
            details.append(
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": values["retry"] + "s"}
            )
        elif sp.extra:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": sp.extra,
                    "domain": "googleapis.com",
                }
            )
        body: dict[str, Any] = {"code": status, "message": message, "status": sp.type}
        if details:
            body["details"] = details
        return {"error": body}
    if provider == "openrouter":
        err = {"code": status, "message": message}
        if sp.extra:
            err["metadata"] = {"error_code": sp.extra}
        return {"error": err}
    if provider == "cohere":
        return {"message": message} if sp.code is None else {"message": message, "code": sp.code}
    if provider == "mistral":
        if sp.type == "detail":
            return {"detail": message}
        return {"object": "error", "message": message, "type": sp.type, "param": None, "code": sp.code}
    if provider == "azure":
        return {"error": {"code": sp.code or str(status), "message": message}}
    if provider == "xai":
        return {"code": sp.code or str(status), "error": message}
    return {"error": {"message": message, "type": sp.type, "param": None, "code": sp.code}}


def render(deny: Deny, provider: str) -> RenderedError:
    """Spell ``deny`` the way ``provider`` does: status, headers and body.

    The generic dialect sends the Deny's own status, type, code and message (the Deny is the
    runbook's spelling by contract). Unknown provider → ValueError naming it.
    """
    p = canonical_provider(provider)
    rule = wire_rule(deny.rule)
    values = _values(deny, rule)
    if p == "generic":
        canon = GENERIC_SPELLING[rule]
        sp = _Spelling(
            deny.status or canon.status,
            deny.error_type or canon.type,
            deny.code or canon.code,
            deny.message or _fill(canon.message, values),
        )
        message = sp.message
    else:
        sp = _NATIVE[p].get(rule) or GENERIC_SPELLING[rule]
        message = _fill(sp.message, values)
    status = sp.status
    headers = {"content-type": "application/json"}
    if rule in RETRYABLE:
        headers["retry-after"] = values["retry"]
        headers["x-should-retry"] = "true"
    else:
        headers["x-should-retry"] = "false"
    return RenderedError(status=status, headers=headers, body=_envelope(p, sp, status, message, rule, values))


def generic_deny(
    rule: Rule,
    *,
    limit: Mapping[str, str] | None = None,
    resets_at: datetime | None = None,
    retry_after_s: int | None = None,
    lifted_by: str | None = None,
) -> Deny:
    """A Deny in the runbook's canonical spelling of ``rule`` (for gateways, tests and samples)."""
    sp = GENERIC_SPELLING[wire_rule(rule)]
    deny = Deny(
        rule=rule,
        status=sp.status,
        error_type=sp.type or "",
        code=sp.code or "",
        message="",
        limit=dict(limit or {}),
        resets_at=resets_at,
        lifted_by=lifted_by,
        retry_after_s=retry_after_s,
    )
    return replace(deny, message=_fill(sp.message, _values(deny, wire_rule(rule))))


# ---------------------------------------------------------------------------------------------
# Interpretation


@dataclass(frozen=True, slots=True)
class Interpretation:
    """Which rule a provider's error reports, and how sure we are.

    ``billing`` is true for account cut-offs (credits, payment, hard limit, invoice,
    suspension), not for rate limits, tier limits or outages. ``evidence`` says what
    matched (and any caveat, e.g. "seen during outages"); ``details`` holds figures parsed
    from the message (limit, used, model, resets_at, retry_after_s, ...); ``alternatives``
    are other rules the same error is known to mean. ``parse_error`` is set when the body
    looked like JSON but did not parse (it was then read as text). ``key_exposed`` is true
    when a full API key was found in the body (it is redacted in every field here).
    """

    rule: Rule
    billing: bool
    confidence: float
    provider: str
    status: int | None = None
    error_type: str | None = None
    code: str | None = None
    message: str | None = None
    evidence: tuple[str, ...] = ()
    details: dict[str, str] = field(default_factory=dict, hash=False)
    alternatives: tuple[Rule, ...] = ()
    parse_error: str | None = None
    key_exposed: bool = False


@dataclass(frozen=True, slots=True)
class _Signature:
    """One known way a provider reports a rule; every given pattern must match."""

    name: str
    rule: Rule
    confidence: float
    dialects: frozenset[str]
    statuses: frozenset[int]
    strict: bool
    type: re.Pattern[str] | None
    code: re.Pattern[str] | None
    msg: re.Pattern[str] | None
    unless: re.Pattern[str] | None
    loose: bool
    note: str | None
    alternatives: tuple[Rule, ...]


def _sig(
    name: str,
    rule: Rule,
    confidence: float,
    dialects: str = "",
    *,
    status: tuple[int, ...] = (),
    strict: bool = False,
    type: str | None = None,
    code: str | None = None,
    msg: str | None = None,
    unless: str | None = None,
    loose: bool = False,
    note: str | None = None,
    alt: tuple[Rule, ...] = (),
) -> _Signature:
    def rx(p: str | None) -> re.Pattern[str] | None:
        return re.compile(p, re.I | re.S) if p else None

    return _Signature(
        name, rule, confidence, frozenset(dialects.split()), frozenset(status), strict,
        rx(type), rx(code), rx(msg), rx(unless), loose, note, alt,
    )  # fmt: skip


# fmt: off
_RATE_WORDS = r"rate[ -]?limit|per minute|queries per|requests per|tokens per|\bRPM\b|\bTPM\b|try again in"
_SIGNATURES: tuple[_Signature, ...] = (
    # The project's own codes (generic dialect): valid in any envelope.
    _sig("invoice_overdue", _R.INVOICE_OVERDUE, 0.96, code=r"invoice_overdue"),
    _sig("billing_hard_limit_reached", _R.HARD_LIMIT, 0.95, code=r"billing_hard_limit"),
    _sig("insufficient_credits", _R.CREDITS_EXHAUSTED, 0.95, code=r"insufficient_credits"),
    _sig("payment_failed", _R.PAYMENT_FAILED, 0.94, code=r"payment_failed|card_declined|expired_card"),
    _sig("account_suspended", _R.SUSPENDED, 0.95, code=r"account_suspended"),
    _sig("invalid_api_key", _R.INVALID_KEY, 0.93, code=r"invalid_api_key"),
    _sig("model_not_available", _R.MODEL_NOT_IN_TIER, 0.92, code=r"model_not_available|model_not_in_tier"),
    _sig("free_tier_limit_reached", _R.FREE_TIER_LIMIT, 0.94, code=r"free_tier_limit"),
    _sig("rate_limit_exceeded", _R.RATE_LIMIT, 0.85, code=r"rate_limit_exceeded"),
    _sig("overloaded", _R.OVERLOADED, 0.85, type=r"overloaded_error|service_unavailable", code=None),
    _sig("request_refused", _R.UNKNOWN, 0.7, code=r"request_refused"),
    # OpenAI
    _sig("insufficient_quota", _R.CREDITS_EXHAUSTED, 0.95, "openai", status=(429,), code=r"\binsufficient_quota\b"),
    _sig("credit_balance_exhausted", _R.CREDITS_EXHAUSTED, 0.96, "openai", status=(429,), code=r"credit_balance_exhausted"),
    _sig("insufficient_quota type", _R.CREDITS_EXHAUSTED, 0.9, "openai", status=(429,), type=r"\binsufficient_quota\b",
         unless=r"_limit_exceeded|credit_balance_exhausted"),
    _sig("spend_limit_exceeded", _R.HARD_LIMIT, 0.96, "openai", status=(429,),
         code=r"(organization|project)_spend_limit_exceeded"),
    _sig("usage_limit_exceeded", _R.HARD_LIMIT, 0.85, "openai", status=(429,), code=r"usage_limit_exceeded",
         note="OpenAI's own tier cap: it lifts with a tier upgrade or at the next period"),
    _sig("billing_not_active", _R.PAYMENT_FAILED, 0.94, "openai", status=(429,), code=r"billing_not_active"),
    _sig("billing_not_active type", _R.PAYMENT_FAILED, 0.92, "openai", status=(429,), type=r"billing_not_active"),
    _sig("account not active", _R.PAYMENT_FAILED, 0.9, "openai", msg=r"account is not active, please check your billing"),
    _sig("exceeded your current quota", _R.CREDITS_EXHAUSTED, 0.88, "openai", msg=r"exceeded your current quota",
         unless=r"quota exceeded for metric|RESOURCE_EXHAUSTED|_limit_exceeded"),
    _sig("billing hard limit", _R.HARD_LIMIT, 0.93, "openai", msg=r"billing hard limit has been reached"),
    _sig("account_deactivated", _R.SUSPENDED, 0.95, "openai", status=(401,), code=r"account_deactivated"),
    _sig("deactivated account", _R.SUSPENDED, 0.9, "openai", msg=r"has been deactivated|with a deactivated account"),
    _sig("model_not_found", _R.MODEL_NOT_IN_TIER, 0.85, "openai", status=(403, 404), code=r"model_not_found",
         note="a misspelt model name gives the same error: check the name first"),
    _sig("no access to model", _R.MODEL_NOT_IN_TIER, 0.85, "openai",
         msg=r"does not have access to model|does not exist or you do not have access"),
    _sig("model does not exist", _R.MODEL_NOT_IN_TIER, 0.6, "openai",
         msg=r"the model:? `?[\w.\-]+`? does not exist",
         note="older accounts were told a model they could not use 'does not exist'; a misspelt name reads the same"),
    _sig("unsupported country", _R.UNKNOWN, 0.85, "openai",
         msg=r"country, region, or territory not supported|unsupported_country",
         note="a country block: not billing, not fixable by paying"),
    _sig("incorrect API key", _R.INVALID_KEY, 0.93, "openai xai", msg=r"incorrect api key provided"),
    _sig("not an organization member", _R.INVALID_KEY, 0.75, "openai", msg=r"must be a member of an organization"),
    _sig("rate limit reached", _R.RATE_LIMIT, 0.9, "openai groq",
         msg=r"rate limit reached for .{0,160}? on (tokens|requests) per", unless=r"on_demand|upgrade to dev tier"),
    _sig("request too large", _R.RATE_LIMIT, 0.75, "openai groq", msg=r"request too large for",
         unless=r"on_demand|upgrade to dev tier",
         note="one request is bigger than the per-minute token limit: retrying the same request will not help"),
    _sig("slow_down", _R.RATE_LIMIT, 0.9, "openai", code=r"\bslow_down\b"),
    _sig("model overloaded", _R.OVERLOADED, 0.93, "openai", msg=r"currently overloaded with other requests"),
    _sig("server_is_overloaded", _R.OVERLOADED, 0.9, "openai", code=r"server_is_overloaded"),
    # Anthropic
    _sig("credit balance is too low", _R.CREDITS_EXHAUSTED, 0.96, "anthropic", status=(400, 402),
         msg=r"credit balance is too low"),
    _sig("specified API usage limits", _R.HARD_LIMIT, 0.96, "anthropic", status=(400, 429),
         msg=r"reached your specified (workspace )?api usage limits"),
    _sig("enforced_spend_limit_reached", _R.HARD_LIMIT, 0.94, "anthropic", status=(429,),
         code=r"enforced_spend_limit_reached",
         note="the usage tier's monthly cap set by Anthropic: it lifts at 00:00 UTC on the 1st or with a tier upgrade"),
    _sig("organization disabled", _R.SUSPENDED, 0.94, "anthropic", status=(400, 403),
         msg=r"organization has been disabled"),
    _sig("invalid x-api-key", _R.INVALID_KEY, 0.85, "anthropic", status=(401,), msg=r"invalid x-api-key",
         note="one customer cleared this by buying credits: check the balance as well"),
    _sig("billing_error", _R.PAYMENT_FAILED, 0.8, "anthropic", status=(402,), type=r"^billing_error$",
         alt=(_R.CREDITS_EXHAUSTED,)),
    _sig("no permission for resource", _R.MODEL_NOT_IN_TIER, 0.75, "anthropic", status=(403,),
         msg=r"does not have permission to use the specified resource"),
    _sig("auth method not allowed", _R.INVALID_KEY, 0.6, "anthropic", status=(403,),
         msg=r"authentication is currently not allowed for this organization",
         note="the organization's policy forbids this way of signing in: use an API key"),
    _sig("rate_limit_error", _R.RATE_LIMIT, 0.9, "anthropic", status=(429,), type=r"^rate_limit_error$",
         unless=r"enforced_spend_limit|usage limits|free_tier"),
    _sig("would exceed the rate limit", _R.RATE_LIMIT, 0.9, "anthropic", msg=r"would exceed the rate limit"),
    _sig("overloaded_error", _R.OVERLOADED, 0.95, "anthropic", status=(529, 503), type=r"overloaded_error"),
    _sig("Overloaded", _R.OVERLOADED, 0.85, "anthropic", loose=True, msg=r"^\s*overloaded\.?\s*$"),
    _sig("request not allowed", _R.OVERLOADED, 0.4, "anthropic", status=(403,), loose=True,
         msg=r"^\s*request not allowed\s*$", alt=(_R.MODEL_NOT_IN_TIER,),
         note="seen transiently at Anthropic's edge: check the status page and retry before treating it as access"),
    _sig("api_error", _R.OVERLOADED, 0.7, "anthropic", type=r"^api_error$"),
    _sig("Claude subscription usage", _R.UNKNOWN, 0.7, "anthropic", msg=r"out of extra usage|claude\.ai/settings",
         note="a claude.ai subscription limit, not API billing"),
    # Google (Gemini API, Vertex AI)
    _sig("prepayment credits depleted", _R.CREDITS_EXHAUSTED, 0.96, "google", status=(402, 429),
         msg=r"prepayment credits are depleted"),
    _sig("no free tier in country", _R.FREE_TIER_LIMIT, 0.85, "google", status=(400,),
         msg=r"free tier is not available in your country|without a billing account linked",
         note="no free tier in this region: billing must be enabled on the project"),
    _sig("billing not enabled", _R.PAYMENT_FAILED, 0.85, "google",
         msg=r"billing account for project .{0,80}not found|billing must be enabled"),
    _sig("billing not found reason", _R.PAYMENT_FAILED, 0.85, "google",
         code=r"UREQ_PROJECT_BILLING_NOT_FOUND|BILLING_DISABLED"),
    _sig("spend cap", _R.HARD_LIMIT, 0.85, "google", msg=r"\bspend(ing)? caps?\b"),
    _sig("API_KEY_INVALID", _R.INVALID_KEY, 0.95, "google", status=(400,), code=r"API_KEY_INVALID"),
    _sig("API key not valid", _R.INVALID_KEY, 0.93, "google", status=(400,),
         msg=r"api key (not valid|not found|expired)"),
    _sig("key reported as leaked", _R.INVALID_KEY, 0.9, "google", status=(403,), msg=r"reported as leaked",
         note="Google blocked the key because it leaked: create a new key and keep it out of code"),
    _sig("consumer suspended", _R.SUSPENDED, 0.93, "google", status=(403,),
         code=r"CONSUMER_SUSPENDED"),
    _sig("consumer has been suspended", _R.SUSPENDED, 0.93, "google", status=(403,),
         msg=r"consumer .{0,120}has been suspended"),
    _sig("project denied access", _R.SUSPENDED, 0.9, "google", status=(403,), msg=r"project has been denied access"),
    _sig("free tier quota, limit 0", _R.MODEL_NOT_IN_TIER, 0.93, "google", status=(429,),
         msg=r"quota exceeded for metric: \S*free_tier\S*,? limit: 0\b", alt=(_R.FREE_TIER_LIMIT,),
         note="limit: 0 means the model is not offered on the free tier at all: waiting will not help"),
    _sig("free tier quota", _R.FREE_TIER_LIMIT, 0.9, "google", status=(429,),
         msg=r"quota exceeded for metric: \S*free_tier\S*,? limit: [1-9]"),
    _sig("FreeTier quota id", _R.FREE_TIER_LIMIT, 0.8, "google", status=(429,), msg=r"-FreeTier\b",
         unless=r"limit: 0\b"),
    _sig("quota limit 0", _R.MODEL_NOT_IN_TIER, 0.8, "google", status=(429,),
         msg=r"quota exceeded for metric: \S+,? limit: 0\b"),
    _sig("quota exceeded for metric", _R.RATE_LIMIT, 0.82, "google", status=(429,), msg=r"quota exceeded for metric",
         unless=r"limit: 0\b"),
    _sig("Vertex resource exhausted", _R.OVERLOADED, 0.75, "google", status=(429,),
         msg=r"resource exhausted\. please try again later",
         note="Vertex AI's shared capacity ran out: not billing and not your own quota; retry with backoff"),
    _sig("Vertex resource has been exhausted", _R.OVERLOADED, 0.6, "google", status=(429,),
         msg=r"resource has been exhausted", alt=(_R.RATE_LIMIT,),
         note="older Vertex text: shared capacity, or the project's own quota (check the quota page)"),
    _sig("model overloaded", _R.OVERLOADED, 0.93, "google", status=(503,),
         msg=r"model is overloaded|currently experiencing high demand"),
    _sig("UNAVAILABLE", _R.OVERLOADED, 0.85, "google", type=r"^UNAVAILABLE$"),
    _sig("INVALID_ARGUMENT", _R.UNKNOWN, 0.6, "google", status=(400,), type=r"^INVALID_ARGUMENT$",
         note="a malformed request, not billing or access"),
    # Cohere
    _sig("add payment method", _R.PAYMENT_FAILED, 0.93, "cohere", status=(402,),
         msg=r"add or update your payment method"),
    _sig("maximum billing reached", _R.HARD_LIMIT, 0.95, "cohere", status=(402,), msg=r"maximum billing reached",
         note="Cohere's per-key monthly cap set in the dashboard; it resets at the start of next month"),
    _sig("trial key monthly cap", _R.FREE_TIER_LIMIT, 0.95, "cohere", status=(429,),
         msg=r"trial key, which is limited to [\d,]+ api calls ?/ ?month"),
    _sig("trial key rate", _R.FREE_TIER_LIMIT, 0.9, "cohere", status=(429,),
         msg=r"trial key, which is limited to [\d,]+ api calls ?/ ?minute|trial token rate limit exceeded"),
    _sig("invalid api token", _R.INVALID_KEY, 0.93, "cohere", status=(401,), msg=r"invalid api token|no api key supplied"),
    _sig("api key has expired", _R.INVALID_KEY, 0.8, "cohere", status=(401,), msg=r"api key has expired",
         alt=(_R.FREE_TIER_LIMIT,), note="trial keys expire: a production key (with billing) is the fix"),
    _sig("model not found", _R.MODEL_NOT_IN_TIER, 0.7, "cohere", status=(404,),
         msg=r"model .{0,80} not found, make sure the correct model id", note="also what a misspelt model id gives"),
    _sig("per minute request limit", _R.RATE_LIMIT, 0.93, "cohere", status=(429,),
         msg=r"past the per minute request limit"),
    # Mistral
    _sig("Unauthorized", _R.INVALID_KEY, 0.5, "mistral", status=(401,), loose=True, msg=r"^\s*unauthorized\s*$",
         alt=(_R.CREDITS_EXHAUSTED,),
         note="Mistral sends the same bare 401 for a key whose plan budget is exhausted: check usage first"),
    _sig("rate_limited", _R.RATE_LIMIT, 0.9, "mistral", type=r"^rate_limited$", unless=r"capacity|overload"),
    _sig("requests rate limit exceeded", _R.RATE_LIMIT, 0.9, "mistral", msg=r"requests rate limit exceeded"),
    _sig("capacity exceeded", _R.OVERLOADED, 0.8, "mistral", msg=r"capacity exceeded"),
    _sig("prepaid balance zero", _R.CREDITS_EXHAUSTED, 0.9, "mistral", msg=r"prepaid credit balance has reached zero"),
    _sig("monthly spending limit reached", _R.HARD_LIMIT, 0.9, "mistral", msg=r"monthly spending limit is reached"),
    _sig("included usage exhausted", _R.FREE_TIER_LIMIT, 0.85, "mistral", msg=r"included monthly usage is exhausted"),
    _sig("invoice payment failed", _R.PAYMENT_FAILED, 0.88, "mistral", msg=r"invoice payment failed"),
    _sig("not on subscription tier", _R.MODEL_NOT_IN_TIER, 0.88, "mistral", msg=r"not available on your subscription tier"),
    # OpenRouter
    _sig("insufficient credits", _R.CREDITS_EXHAUSTED, 0.95, "openrouter", status=(402,), msg=r"insufficient credits"),
    _sig("cannot afford max_tokens", _R.CREDITS_EXHAUSTED, 0.9, "openrouter", status=(402,),
         msg=r"requires more credits|can only afford",
         note="the balance cannot cover max_tokens: add credits or lower max_tokens"),
    _sig("openrouter_credits", _R.CREDITS_EXHAUSTED, 0.9, "openrouter", msg=r"openrouter_credits"),
    _sig("key limit exceeded", _R.HARD_LIMIT, 0.92, "openrouter", status=(402, 403),
         msg=r"key limit exceeded|key with a higher limit",
         note="this API key's own spending cap, not the account balance"),
    _sig("User not found", _R.INVALID_KEY, 0.5, "openrouter", status=(401,), loose=True, msg=r"user not found",
         alt=(_R.OVERLOADED,),
         note="OpenRouter also sent this for valid keys during an incident: check status.openrouter.ai first"),
    _sig("no auth credentials", _R.INVALID_KEY, 0.85, "openrouter", status=(401,),
         msg=r"no (cookie )?auth credentials found"),
    _sig("free-models-per-day", _R.FREE_TIER_LIMIT, 0.95, "openrouter", status=(429,), msg=r"free-models-per-day"),
    _sig("moderation", _R.UNKNOWN, 0.8, "openrouter", status=(403,), msg=r"requires moderation",
         note="moderation flagged the input: not billing or access"),
    _sig("being rate limited", _R.RATE_LIMIT, 0.85, "openrouter", status=(429,), msg=r"you are being rate limited"),
    _sig("model down", _R.OVERLOADED, 0.85, "openrouter", status=(502,), msg=r"model is down|invalid response from it"),
    _sig("no provider", _R.OVERLOADED, 0.55, "openrouter", status=(503,), msg=r"no available model provider",
         note="can also be routing preferences that exclude every provider"),
    # DeepSeek
    _sig("Insufficient Balance", _R.CREDITS_EXHAUSTED, 0.95, "deepseek", status=(402,), msg=r"insufficient balance"),
    _sig("no such user", _R.INVALID_KEY, 0.45, "deepseek", status=(401,), loose=True, msg=r"no such user",
         alt=(_R.OVERLOADED,),
         note="DeepSeek returned this for valid keys during an outage: check status.deepseek.com first"),
    _sig("Authentication Fails", _R.INVALID_KEY, 0.9, "deepseek", status=(401,), msg=r"authentication fails",
         unless=r"no such user"),
    _sig("Rate Limit Reached", _R.RATE_LIMIT, 0.85, "deepseek", status=(429,), msg=r"^\s*rate limit reached"),
    _sig("Server Overloaded", _R.OVERLOADED, 0.9, "deepseek", status=(503,), msg=r"server overloaded"),
    # Groq
    _sig("organization_restricted", _R.SUSPENDED, 0.95, "groq", status=(400,), code=r"organization_restricted"),
    _sig("organization restricted", _R.SUSPENDED, 0.9, "groq", msg=r"organization has been restricted"),
    _sig("blocked_api_access", _R.HARD_LIMIT, 0.94, "groq", status=(400,), code=r"blocked_api_access",
         note="Groq blocks every key of the organization once the spend limit you set is reached"),
    _sig("on_demand tier", _R.FREE_TIER_LIMIT, 0.92, "groq", status=(429, 413),
         msg=r"service tier .?on_demand|upgrade to dev tier"),
    _sig("Invalid API Key", _R.INVALID_KEY, 0.9, "groq", msg=r"^\s*invalid api key\.?\s*$"),
    _sig("flex capacity", _R.OVERLOADED, 0.9, "groq", status=(498,), code=r"capacity_exceeded"),
    _sig("high traffic", _R.OVERLOADED, 0.85, "groq", msg=r"experiencing high traffic"),
    # Together
    _sig("credit_limit: credit limit exceeded", _R.CREDITS_EXHAUSTED, 0.96, "together", status=(402,),
         type=r"credit_limit", msg=r"credit limit exceeded"),
    _sig("credit_limit: rate limited", _R.RATE_LIMIT, 0.93, "together", status=(429,), type=r"credit_limit",
         msg=r"rate limit|queries per minute",
         note="Together labels its per-minute rate limit 'credit_limit': this is a rate limit, not billing"),
    _sig("credit limit exceeded", _R.CREDITS_EXHAUSTED, 0.9, "together", msg=r"credit limit exceeded"),
    _sig("model rate limit", _R.RATE_LIMIT, 0.9, "together",
         msg=r"rate limit specific to this model|rate limit is [\d.]+ queries per minute"),
    _sig("maximum monthly spending limit", _R.HARD_LIMIT, 0.92, "together", status=(402,),
         msg=r"maximum allowed monthly spending limit"),
    _sig("invalid API key provided", _R.INVALID_KEY, 0.93, "together", msg=r"invalid api key provided"),
    _sig("build tier", _R.MODEL_NOT_IN_TIER, 0.88, "together", msg=r"allowed for build tier \d+ and above",
         note="it also needs a positive balance; the build tier rises with cumulative purchases"),
    _sig("context length", _R.UNKNOWN, 0.85, "together", msg=r"must be less than the context length",
         note="Together sends 'prompt too long' as 403: not an access or tier problem"),
    _sig("engine overloaded", _R.OVERLOADED, 0.9, "together", msg=r"engine overloaded"),
    # Azure OpenAI
    _sig("trial upgrade", _R.CREDITS_EXHAUSTED, 0.8, "azure", status=(429,),
         msg=r"429TrialUpgrade|free account customers",
         note="the credit of a free or trial subscription is used up; Azure words it as a rate limit"),
    _sig("day-long retry-after", _R.CREDITS_EXHAUSTED, 0.6, "azure", status=(429,), msg=r"retry after \d{5,} seconds",
         alt=(_R.RATE_LIMIT,),
         note="a retry-after of a day means the subscription's quota or credit is spent, not a per-minute limit"),
    _sig("pricing tier rate limit", _R.RATE_LIMIT, 0.9, "azure", status=(429,),
         msg=r"exceeded (the )?(token |call |request )?rate limit (of|for) your current",
         unless=r"retry after \d{5,} seconds|429TrialUpgrade|free account customers|\bF0\b"),
    _sig("F0 pricing tier", _R.FREE_TIER_LIMIT, 0.8, "azure", status=(429,), msg=r"pricing tier F0|F0 pricing tier"),
    _sig("high demand", _R.OVERLOADED, 0.92, "azure", msg=r"experiencing high demand"),
    _sig("invalid subscription key", _R.INVALID_KEY, 0.92, "azure", status=(401,), msg=r"invalid subscription key"),
    _sig("DeploymentNotFound", _R.MODEL_NOT_IN_TIER, 0.55, "azure", status=(404,),
         code=r"DeploymentNotFound", note="the deployment name does not exist (or is minutes old): configuration"),
    _sig("deployment does not exist", _R.MODEL_NOT_IN_TIER, 0.55, "azure",
         msg=r"deployment for this resource does not exist"),
    _sig("subscription spending limit", _R.HARD_LIMIT, 0.82, "azure",
         msg=r"reached its spending limit|spending limit .{0,40}disabled"),
    _sig("subscription disabled", _R.PAYMENT_FAILED, 0.7, "azure", msg=r"subscription (is|has been) disabled",
         alt=(_R.CREDITS_EXHAUSTED,)),
    _sig("resource blocked", _R.SUSPENDED, 0.6, "azure", status=(403,), msg=r"resource has been temporarily blocked"),
    _sig("quota feature required", _R.MODEL_NOT_IN_TIER, 0.6, "azure", msg=r"SpecialFeatureOrQuotaIdRequired"),
    # xAI
    _sig("credits or monthly spending limit", _R.CREDITS_EXHAUSTED, 0.78, "xai", status=(429, 403),
         msg=r"used all available credits or reached its monthly spending limit", alt=(_R.HARD_LIMIT,),
         note="xAI sends one message for an empty balance and for the monthly spending limit: check both"),
    _sig("team without credits", _R.CREDITS_EXHAUSTED, 0.85, "xai", status=(403, 429),
         msg=r"(doesn't|does not) have any credits( or licenses)?",
         note="a new xAI team starts with no credits: purchasing credits lifts it"),
    _sig("monthly spending limit", _R.HARD_LIMIT, 0.85, "xai", status=(429, 403),
         msg=r"reached its monthly spending limit", unless=r"used all available credits"),
    # Words any provider may use (low confidence; the specific signatures above win).
    _sig("words: credit balance", _R.CREDITS_EXHAUSTED, 0.7, loose=True,
         msg=r"credit balance|insufficient (credits?|balance|funds)|out of credits?|credits? (are |have been )?"
         r"(exhausted|depleted)|balance is (too low|exhausted|zero)|no (remaining )?credits"),
    _sig("words: payment failed", _R.PAYMENT_FAILED, 0.7, loose=True,
         msg=r"payment (has )?(failed|declined)|card (was |has been )?declined|card (has )?expired|"
         r"update your payment method|billing (is )?not active"),
    _sig("words: spend limit", _R.HARD_LIMIT, 0.65, loose=True,
         msg=r"(hard|spend(ing)?|budget|billing|usage) (limit|cap)s? (has been |was )?(reached|exceeded|hit)|"
         r"reached (your|the|its) (monthly )?(hard |spend(ing)? |usage |budget )(limit|cap)"),
    _sig("words: invoice overdue", _R.INVOICE_OVERDUE, 0.75, loose=True,
         msg=r"invoice\b.{0,60}\boverdue|overdue invoice|unpaid invoice|invoice (is )?past due"),
    _sig("words: suspended", _R.SUSPENDED, 0.62, loose=True,
         msg=r"(account|organi[sz]ation|\borg\b|team|project|consumer)\b.{0,40}\b(suspended|deactivated|disabled|"
         r"banned|terminated|restricted)\b"),
    _sig("words: api key", _R.INVALID_KEY, 0.5, loose=True,
         msg=r"api[ _-]?key|unauthori[sz]ed|authentication|invalid (token|credentials)"),
    _sig("words: access or tier", _R.MODEL_NOT_IN_TIER, 0.5, loose=True,
         msg=r"(does not|don't|do not) have access|not available (on|for|in) (your|the current) (plan|tier)|"
         r"upgrade your (plan|tier)|not allowed to (use|access)"),
    _sig("words: free tier", _R.FREE_TIER_LIMIT, 0.55, loose=True, msg=r"free[ -]tier|\btrial\b|free plan"),
    _sig("words: rate limit", _R.RATE_LIMIT, 0.6, loose=True,
         msg=r"rate[ -]?limit|too many requests|requests per (min|minute|second)|tokens per (min|minute)|slow down"),
    _sig("words: overloaded", _R.OVERLOADED, 0.55, loose=True,
         msg=r"overloaded|service unavailable|high demand|temporarily unavailable|bad gateway|gateway time-?out|"
         r"internal server error|over capacity"),
    _sig("429 saying credit or billing", _R.CREDITS_EXHAUSTED, 0.5, status=(429,), strict=True, loose=True,
         msg=r"quota|credit|balance|billing|payment", unless=_RATE_WORDS),
    _sig("429 saying spend", _R.HARD_LIMIT, 0.52, status=(429,), strict=True, loose=True,
         msg=r"\bspend|budget", unless=_RATE_WORDS),
)

# When nothing in the body matches: (rule, confidence, alternatives, note) per status.
_Fallback = tuple[Rule, float, tuple[Rule, ...], str | None]
_STATUS_FALLBACK: dict[int, _Fallback] = {
    400: (_R.UNKNOWN, 0.2, (), "a 400 alone says only that the request was refused"),
    401: (_R.INVALID_KEY, 0.45, (_R.SUSPENDED,), "the runbook's 401: a key problem or a suspended account"),
    402: (_R.CREDITS_EXHAUSTED, 0.45, (_R.PAYMENT_FAILED, _R.HARD_LIMIT, _R.INVOICE_OVERDUE),
          "the runbook's 402: credits, a failed payment or the hard limit"),
    403: (_R.MODEL_NOT_IN_TIER, 0.4, (_R.FREE_TIER_LIMIT,), "the runbook's 403: free tier or model access"),
    404: (_R.UNKNOWN, 0.2, (_R.MODEL_NOT_IN_TIER,), "a 404 is usually a wrong URL or model name"),
    408: (_R.OVERLOADED, 0.3, (), None),
    429: (_R.RATE_LIMIT, 0.45, (_R.CREDITS_EXHAUSTED,), "the runbook's 429: a rate limit"),
    500: (_R.OVERLOADED, 0.5, (), "a server error on the provider's side"),
    502: (_R.OVERLOADED, 0.55, (), None),
    503: (_R.OVERLOADED, 0.6, (), None),
    504: (_R.OVERLOADED, 0.5, (), None),
    529: (_R.OVERLOADED, 0.7, (), None),
}
_BILLING_429 = (_R.CREDITS_EXHAUSTED, _R.PAYMENT_FAILED, _R.HARD_LIMIT)
_PROVIDER_FALLBACK: dict[str, dict[int, _Fallback]] = {
    "openai": {429: (_R.RATE_LIMIT, 0.35, _BILLING_429, "OpenAI also sends quota and billing refusals as 429")},
    "anthropic": {
        400: (_R.UNKNOWN, 0.2, (_R.CREDITS_EXHAUSTED, _R.HARD_LIMIT, _R.SUSPENDED),
              "Anthropic sends low credit, its usage limits and a disabled organization as 400"),
        402: (_R.PAYMENT_FAILED, 0.45, (_R.CREDITS_EXHAUSTED,), None),
        429: (_R.RATE_LIMIT, 0.45, (_R.HARD_LIMIT,), "the tier's monthly spend cap is also a 429"),
        529: (_R.OVERLOADED, 0.8, (), None),
    },
    "google": {
        400: (_R.UNKNOWN, 0.25, (_R.INVALID_KEY,), "Gemini sends an invalid key as 400"),
        402: (_R.CREDITS_EXHAUSTED, 0.6, (), None),
        403: (_R.SUSPENDED, 0.3, (_R.INVALID_KEY, _R.PAYMENT_FAILED), None),
        429: (_R.RATE_LIMIT, 0.35, (_R.FREE_TIER_LIMIT, _R.MODEL_NOT_IN_TIER, _R.CREDITS_EXHAUSTED), None),
        503: (_R.OVERLOADED, 0.7, (), None),
    },
    "openrouter": {
        401: (_R.INVALID_KEY, 0.4, (_R.OVERLOADED,), None),
        402: (_R.CREDITS_EXHAUSTED, 0.6, (_R.HARD_LIMIT,), None),
        403: (_R.HARD_LIMIT, 0.3, (_R.UNKNOWN,), "OpenRouter's 403 is a key limit or moderation"),
        429: (_R.RATE_LIMIT, 0.4, (_R.FREE_TIER_LIMIT,), None),
    },
    "deepseek": {
        401: (_R.INVALID_KEY, 0.5, (_R.OVERLOADED,), None),
        402: (_R.CREDITS_EXHAUSTED, 0.8, (), "DeepSeek's only 402 is an exhausted balance"),
        429: (_R.RATE_LIMIT, 0.7, (), None),
        503: (_R.OVERLOADED, 0.8, (), None),
    },
    "mistral": {
        401: (_R.INVALID_KEY, 0.35, (_R.CREDITS_EXHAUSTED,), "Mistral's bare 401 can be an exhausted budget"),
        402: (_R.CREDITS_EXHAUSTED, 0.45, (_R.HARD_LIMIT, _R.PAYMENT_FAILED, _R.FREE_TIER_LIMIT), None),
        429: (_R.RATE_LIMIT, 0.35, (_R.HARD_LIMIT,), "Mistral has sent its monthly usage limit as 429"),
    },
    "cohere": {
        402: (_R.PAYMENT_FAILED, 0.4, (_R.HARD_LIMIT,), None),
        404: (_R.MODEL_NOT_IN_TIER, 0.3, (), None),
        429: (_R.RATE_LIMIT, 0.35, (_R.FREE_TIER_LIMIT,), "Cohere's trial monthly cap is also a 429"),
    },
    "together": {
        402: (_R.CREDITS_EXHAUSTED, 0.55, (_R.HARD_LIMIT,), None),
        403: (_R.UNKNOWN, 0.3, (), "Together's 403 is a prompt longer than the context"),
        429: (_R.RATE_LIMIT, 0.6, (), None),
    },
    "groq": {
        400: (_R.UNKNOWN, 0.2, (_R.SUSPENDED, _R.HARD_LIMIT), "Groq sends restriction and its spend limit as 400"),
        413: (_R.UNKNOWN, 0.3, (_R.FREE_TIER_LIMIT,), None),
        429: (_R.RATE_LIMIT, 0.45, (_R.FREE_TIER_LIMIT,), None),
        498: (_R.OVERLOADED, 0.8, (), None),
    },
    "azure": {
        403: (_R.SUSPENDED, 0.3, (), None),
        404: (_R.MODEL_NOT_IN_TIER, 0.35, (), None),
        429: (_R.RATE_LIMIT, 0.45, (_R.OVERLOADED, _R.CREDITS_EXHAUSTED), None),
    },
    "xai": {
        403: (_R.UNKNOWN, 0.25, (_R.CREDITS_EXHAUSTED,), None),
        429: (_R.RATE_LIMIT, 0.35, (_R.CREDITS_EXHAUSTED, _R.HARD_LIMIT), None),
    },
}
# fmt: on


@dataclass(frozen=True, slots=True)
class _Fields:
    """What a body says, whatever its envelope."""

    structured: bool
    raw: str
    error_type: str | None = None
    code: str | None = None
    reasons: tuple[str, ...] = ()
    message: str | None = None
    extras: tuple[str, ...] = ()
    embedded_status: int | None = None
    parse_error: str | None = None

    @property
    def codes(self) -> str:
        return " ".join(c for c in (self.code, *self.reasons) if c)

    @property
    def text(self) -> str:
        return " ".join(t for t in (self.message, *self.extras) if t)


_MAX_BODY = 200_000


def _load(text: str) -> tuple[Any, str | None]:
    """Parse JSON (or a Python dict repr, as SDKs print) from ``text``; never raises."""
    stripped = text.strip()
    if stripped[:1] in "{[":
        try:
            return json.loads(stripped), None
        except json.JSONDecodeError as exc:
            error = f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); read as text"
        try:
            value = ast.literal_eval(stripped)
            if isinstance(value, dict | list):
                return value, None
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
        return None, error
    start = stripped.find("{")
    if start > 0:  # a prefix such as "Error code: 429 - {...}" around the body
        inner = stripped[start : stripped.rfind("}") + 1]
        for attempt in (json.loads, ast.literal_eval):
            try:
                value = attempt(inner)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            if isinstance(value, dict):
                return value, None
    return None, None


def _s(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


def _strings(value: object, out: list[str], depth: int = 0) -> None:
    """Every string and number under ``value`` (metadata, details), for the message patterns."""
    if depth > 6 or len(out) > 200:
        return
    if isinstance(value, dict):
        for v in value.values():
            _strings(v, out, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out, depth + 1)
    elif isinstance(value, str | int) and not isinstance(value, bool):
        out.append(str(value))


def _http(value: object) -> int | None:
    text = _s(value)
    if text is not None and text.isdigit() and 100 <= int(text) <= 599:
        return int(text)
    return None


def _fields(body: str | Mapping[str, Any] | None) -> _Fields | None:
    if body is None:
        return None
    parse_error = None
    if isinstance(body, Mapping):
        obj: Any = dict(body)
        raw = json.dumps(obj, default=str)
    else:
        raw = str(body)[:_MAX_BODY]
        if not raw.strip():
            return None
        obj, parse_error = _load(raw)
    if isinstance(obj, list):
        obj = next((x for x in obj if isinstance(x, dict)), None)
    if not isinstance(obj, dict):
        return _Fields(False, raw, parse_error=parse_error, embedded_status=_status_in_text(raw))
    err = obj.get("error")
    extras: list[str] = []
    reasons: list[str] = []
    if isinstance(err, dict):
        message = _s(err.get("message"))
        etype = _s(err.get("type")) or _s(err.get("status"))
        code = _s(err.get("code"))
        status = _http(err.get("code")) or _http(obj.get("raw_status_code"))
        details = err.get("details")
        if isinstance(details, dict):  # Anthropic
            reasons += [x for x in (_s(details.get("error_code")),) if x]
        elif isinstance(details, list):  # Google
            for d in details:
                if isinstance(d, dict) and _s(d.get("reason")):
                    reasons.append(str(d["reason"]))
            _strings(details, extras)
        meta = err.get("metadata")
        if isinstance(meta, dict) and _s(meta.get("error_code")):
            reasons.append(str(meta["error_code"]))
        _strings(meta, extras)
        if reasons and (code is None or code.isdigit()):
            code = reasons[0]
    else:
        message = _s(err) or _s(obj.get("message")) or _s(obj.get("detail")) or _s(obj.get("error_message"))
        if isinstance(obj.get("detail"), list):  # a validation error list
            parts: list[str] = []
            _strings(obj["detail"], parts)
            message = "; ".join(parts)
        etype = _s(obj.get("type")) if obj.get("type") != "error" else None
        code = _s(obj.get("code"))
        status = _http(obj.get("raw_status_code")) or _http(obj.get("status"))
        _strings(obj.get("metadata"), extras)
    if message is None and not extras:  # an envelope nobody documented: read every string in it
        _strings(obj, extras)
    return _Fields(
        True, raw, etype, code, tuple(reasons), message, tuple(extras),
        status or _status_in_text(raw if not raw.lstrip().startswith("{") else ""), parse_error,
    )  # fmt: skip


_STATUS_IN_TEXT = re.compile(r"\b(?:status(?: code)?|error code|http)\s*[:=]?\s*\(?([1-5]\d\d)\b", re.I)


def _status_in_text(text: str) -> int | None:
    m = _STATUS_IN_TEXT.search(text)
    return int(m.group(1)) if m else None


# Full API keys are redacted from everything an Interpretation carries.
_KEY = re.compile(
    r"(?<![\w-])((?:sk-(?:ant-(?:api\d\d-)?|or-v\d-|proj-)?|AIza|gsk_|xai-))[A-Za-z0-9_\-]{16,}([A-Za-z0-9]{4})(?![\w-])"
)


def _redact(text: str | None) -> tuple[str | None, bool]:
    if text is None:
        return None, False
    redacted, count = _KEY.subn(lambda m: f"{m.group(1)}...{m.group(2)}", text)
    return redacted, count > 0


_DETAILS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(p, re.I))
    for name, p in (
        ("resets_at", r"regain access on (\d{4}-\d{2}-\d{2})"),
        ("model", r"\bmodel[:\s]+[`'\"]([^`'\"\s]+)[`'\"]"),
        ("model", r"\bmodel[:\s]+([A-Za-z][\w.:/-]*[-/\d][\w.:/-]*[A-Za-z0-9])"),
        ("model", r"(?:rate limit reached|request too large) for ([\w.:/-]+) in organi[sz]ation"),
        ("organization", r"organi[sz]ation[:\s]+[`(]?(org[-_][\w-]+|[0-9a-f-]{8,})"),
        ("team", r"your team ([\w-]{8,})"),
        ("service_tier", r"service tier [`']?(\w+)"),
        ("quota_metric", r"quota exceeded for metric: ([\w./-]+)"),
        ("limit", r"\blimit[:\s]+([\d,]+)"),
        ("limit", r"limited to ([\d,]+) api calls"),
        ("limit", r"rate limit is ([\d.]+) queries"),
        ("limit", r"of ([\d,]+) (?:input |output )?tokens per minute"),
        ("used", r"\bused[:\s]+([\d,]+)"),
        ("requested", r"\brequested[:\s]+(?:up to )?([\d,]+)"),
        ("affordable_tokens", r"can only afford ([\d,]+)"),
        ("period", r"api calls ?/ ?(month|minute)"),
        ("unit", r"\bon ((?:tokens|requests) per (?:min|minute|day)(?: \(\w+\))?)"),
        ("retry_after", r"(?:try again|retry) in ((?:\d+h)?(?:\d+m(?!s))?(?:[\d.]+(?:ms|s)))"),
        ("retry_after", r"retry after (\d+) seconds"),
        ("retry_after", r"retryDelay[\"':\s]+([\d.]+s)"),
        ("quota_id", r"\b(\w+-FreeTier)\b"),
    )
)
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m(?!s))?(?:([\d.]+)(ms|s))?$")


def _seconds(text: str) -> str | None:
    """``9m38.016s`` → ``578.016``; ``644ms`` → ``0.644``; a bare number is seconds."""
    if text.isdigit():
        return text
    m = _DURATION.fullmatch(text)
    if not m or not any(m.groups()):
        return None
    try:
        total = Decimal(m.group(1) or 0) * 3600 + Decimal(m.group(2) or 0) * 60
        if m.group(3):
            total += Decimal(m.group(3)) / (1000 if m.group(4) == "ms" else 1)
    except InvalidOperation:
        return None
    return format(total.normalize(), "f")


def _details(fields: _Fields) -> dict[str, str]:
    text = fields.text if fields.structured else fields.raw
    out: dict[str, str] = {}
    for name, pattern in _DETAILS:
        if name in out:
            continue
        m = pattern.search(text)
        if m:
            out[name] = m.group(1).replace(",", "") if name in ("limit", "used", "requested") else m.group(1)
    if "resets_at" in out:
        out["resets_at"] += "T00:00:00Z"
    if "retry_after" in out:
        seconds = _seconds(out.pop("retry_after"))
        if seconds is not None:
            out["retry_after_s"] = seconds
    if out.get("model", "").lower() in ("is", "not", "the", "provider"):
        del out["model"]
    return out


def _match(sig: _Signature, f: _Fields) -> list[str] | None:
    """What matched, as evidence phrases, or None when the signature does not apply."""
    found: list[str] = []
    checks = (
        (sig.type, f.error_type or "", "type"),
        (sig.code, f.codes, "code"),
        (sig.msg, f.text, "message"),
    )
    for pattern, target, label in checks:
        if pattern is None:
            continue
        m = pattern.search(target if f.structured else f.raw)
        if not m:
            return None
        found.append(f"{label} {m.group(0).strip()!r}" if f.structured else f"text {m.group(0).strip()!r}")
    if sig.unless is not None and sig.unless.search(f.raw + " " + f.text):
        return None
    return found


def _score(sig: _Signature, provider: str, status: int | None) -> tuple[float, str | None] | None:
    factor, note = 1.0, None
    if sig.dialects and provider not in sig.dialects:
        factor = 0.8 if sig.loose else 0.97
        origin = "/".join(provider_name(d) for d in sorted(sig.dialects))
        note = f"this is how {origin} spells it" + (
            "" if provider == "generic" else f", not {provider_name(provider)}"
        )
    if sig.statuses and status is not None and status not in sig.statuses:
        if sig.strict:
            return None
        factor *= 0.75
        usual = "/".join(str(s) for s in sorted(sig.statuses))
        rewrap = f"it usually comes as {usual}, not {status} (a gateway may rewrap it)"
        note = f"{note}; {rewrap}" if note else rewrap
    return sig.confidence * factor, note


def interpret(
    status: int | None, body: str | Mapping[str, Any] | None, provider: str = "generic"
) -> Interpretation:
    """Which rule a provider's error reports: keyed on provider, status, type, code and message.

    Works with the body alone (``status=None``) and with the status alone (``body=None``, low
    confidence). An unknown provider name is read as ``generic``: every dialect is tried.
    Never raises on a malformed body; a body that looks like JSON but is not gets
    ``parse_error`` and is read as text.
    """
    evidence: list[str] = []
    try:
        p = canonical_provider(provider)
    except ValueError:
        evidence.append(f"unknown provider {provider!r}: matched against every dialect")
        p = "generic"
    fields = _fields(body)
    if status is None and fields is not None and fields.embedded_status is not None:
        status = fields.embedded_status
        evidence.append(f"status {status} taken from the body")
    # Specific signatures outrank wording heuristics even when scored lower: a low score there
    # is a deliberate "ambiguous" (with a caveat to show), not a weaker match.
    best: tuple[float, _Signature, list[str], str | None] | None = None
    best_heuristic: tuple[float, _Signature, list[str], str | None] | None = None
    matches: list[tuple[float, _Signature]] = []
    if fields is not None:
        for sig in _SIGNATURES:
            found = _match(sig, fields)
            scored = None if found is None else _score(sig, p, status)
            if found is None or scored is None:
                continue
            matches.append((scored[0], sig))
            candidate = (scored[0], sig, found, scored[1])
            if sig.loose and not sig.dialects:
                if best_heuristic is None or scored[0] > best_heuristic[0]:
                    best_heuristic = candidate
            elif best is None or scored[0] > best[0]:
                best = candidate
    best = best or best_heuristic
    if best is not None and status is None:
        best = (best[0] * 0.9, *best[1:])
        evidence.append("no HTTP status given: read from the body alone")
    alternatives: list[Rule] = []
    fallback = _PROVIDER_FALLBACK.get(p, {}).get(status or 0) or _STATUS_FALLBACK.get(status or 0)
    if fallback is None and status is not None and 500 <= status <= 599:
        fallback = (_R.OVERLOADED, 0.4, (), None)
    if best is not None:
        score, sig, found, note = best
        rule = sig.rule
        origin = "/".join(provider_name(d) for d in sorted(sig.dialects)) or "any provider"
        evidence.append(f"matched {origin} signature '{sig.name}': " + ", ".join(found))
        if not sig.statuses and fallback is not None and fallback[0] == rule:
            # A wording-only match and the status say the same thing independently.
            score = min(0.99, 1 - (1 - score) * (1 - fallback[1] / 2))
            evidence.append(f"status {status} agrees")
        if note:
            evidence.append(note)
        if sig.note:
            evidence.append(sig.note)
        alternatives += [a for a in sig.alternatives if a != rule]
        for other_score, other in sorted(matches, key=lambda m: -m[0]):
            if other.rule != rule and other.rule not in alternatives and other_score >= score - 0.15:
                alternatives.append(other.rule)
                evidence.append(f"also consistent with {other.rule} ('{other.name}')")
    else:
        if fields is not None:
            evidence.append("no known signature matched the body")
        if status is None:
            rule, score = _R.UNKNOWN, 0.0
            evidence.append("neither a status nor a recognisable body: nothing to go on")
        elif fallback is None:
            rule, score = _R.UNKNOWN, 0.1
            evidence.append(f"status {status} alone says nothing about billing")
        else:
            rule, score, alts, why = fallback
            score *= 0.8 if fields is not None else 1.0
            alternatives += list(alts)
            evidence.append(f"status {status} alone" + (f": {why}" if why else ""))
    if (
        status is not None
        and rule in RUNBOOK_STATUS
        and not (RUNBOOK_STATUS[rule] == status or (rule == _R.OVERLOADED and status >= 500))
    ):
        evidence.append(
            f"{provider_name(p)} answered {status} where the runbook would say {RUNBOOK_STATUS[rule]}: "
            "go by the body, not the status"
        )
    details: dict[str, str] = {}
    message = error_type = code = parse_error = None
    exposed = False
    if fields is not None:
        details = _details(fields)
        message, exposed = _redact(fields.message if fields.structured else fields.raw.strip()[:2000])
        error_type, code, parse_error = fields.error_type, fields.code or None, fields.parse_error
        if parse_error:
            evidence.append(f"body: {parse_error}")
    clean_evidence = []
    for line in evidence:
        red, hit = _redact(line)
        exposed |= hit
        clean_evidence.append(red or "")
    for k, v in list(details.items()):
        red, hit = _redact(v)
        exposed |= hit
        details[k] = red or ""
    if exposed:
        clean_evidence.append("a full API key was in the body: it is redacted here and must be rotated")
    return Interpretation(
        rule=rule,
        billing=rule in BILLING_RULES,
        confidence=round(max(0.0, min(1.0, score)), 3),
        provider=p,
        status=status,
        error_type=error_type,
        code=code,
        message=message,
        evidence=tuple(clean_evidence),
        details=details,
        alternatives=tuple(dict.fromkeys(alternatives)),
        parse_error=parse_error,
        key_exposed=exposed,
    )
