"""How each provider spells each refusal: the tables ``billing.dialects.render`` fills.

``GENERIC_SPELLING`` is the runbook's own spelling of every rule (what a ``Deny`` carries);
``NATIVE_SPELLING`` holds, per provider, the status, ``error.type``, ``error.code`` and
message template that provider really sends. The envelope around them (Anthropic's
``{"type": "error", ...}``, Google's ``details``, ...) is built by ``render``; these tables
are data only, kept apart so the rendering code stays readable.

A provider's table lists only the rules it has a native spelling for (``native_rules``);
``render`` sends the others with the generic spelling in that provider's envelope (see
``billing.dialects``).

Pure: standard library, ``quotadesk.money`` and ``quotadesk.billing`` only.
"""

from __future__ import annotations

from dataclasses import dataclass

from quotadesk.billing.decision import Rule
from quotadesk.billing.providers import canonical_provider


@dataclass(frozen=True, slots=True)
class Spelling:
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
S = Spelling
GENERIC_SPELLING: dict[Rule, Spelling] = {
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
NATIVE_SPELLING: dict[str, dict[Rule, Spelling]] = {
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
    return frozenset(GENERIC_SPELLING) if p == "generic" else frozenset(NATIVE_SPELLING[p])
