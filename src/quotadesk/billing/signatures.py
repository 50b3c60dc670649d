"""The known ways providers report each rule: the tables ``interpret`` matches against.

One table of *signatures* drives the reading: each names a rule, the provider it comes from,
the statuses it arrives with, and patterns for ``error.type``, ``error.code`` (or Google's
reason, Anthropic's ``details.error_code``) and the message. Why a table and not
``if status == 429``: providers disagree with the runbook (credit exhaustion is a 429 at
OpenAI, a 400 at Anthropic; Together labels a per-minute limit ``credit_limit``), so the
status alone never decides. When no signature matches, ``STATUS_FALLBACK`` and the
per-provider ``PROVIDER_FALLBACK`` give a low-confidence guess from the status and say what
else it could be. How matches are scored is in ``billing.reading``.

Decisions worth knowing:

- Gemini 429 ``free_tier_requests, limit: 0`` is ``MODEL_NOT_IN_TIER``: ``limit: 0`` means the
  model is not offered on the free tier at all, so waiting never helps (a non-zero free-tier
  limit is ``FREE_TIER_LIMIT``). ``FREE_TIER_LIMIT`` is listed as the alternative.

Pure: standard library, ``quotadesk.money`` and ``quotadesk.billing`` only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from quotadesk.billing.decision import Rule

_R = Rule


@dataclass(frozen=True, slots=True)
class Signature:
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
) -> Signature:
    def rx(p: str | None) -> re.Pattern[str] | None:
        return re.compile(p, re.I | re.S) if p else None

    return Signature(
        name, rule, confidence, frozenset(dialects.split()), frozenset(status), strict,
        rx(type), rx(code), rx(msg), rx(unless), loose, note, alt,
    )  # fmt: skip


# fmt: off
_RATE_WORDS = r"rate[ -]?limit|per minute|queries per|requests per|tokens per|\bRPM\b|\bTPM\b|try again in"
SIGNATURES: tuple[Signature, ...] = (
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
    # OpenAI-compatible providers (Moonshot, …) copy the wording, sometimes without "your".
    _sig("exceeded your current quota", _R.CREDITS_EXHAUSTED, 0.88, "openai",
         msg=r"exceeded (?:your )?current quota|exceeded_current_quota",
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
    _sig("organization must be verified", _R.MODEL_NOT_IN_TIER, 0.85, "openai",
         msg=r"organization must be verified to (use|stream|generate)",
         note="OpenAI gates this model (or its streaming, or reasoning summaries) behind organization "
              "verification, not a tier or billing: Verify Organization in the settings; access takes up to 15 minutes"),
    _sig("missing scopes", _R.INVALID_KEY, 0.8, "openai", status=(401, 403),
         msg=r"insufficient permissions for this operation|missing scopes?:", alt=(_R.MODEL_NOT_IN_TIER,),
         note="a restricted key or a role without the scope this endpoint needs: widen the key's permissions"),
    _sig("not an organization member", _R.INVALID_KEY, 0.75, "openai", msg=r"must be a member of an organization"),
    _sig("free-tier rate limit: add a payment method", _R.FREE_TIER_LIMIT, 0.92, "openai",
         msg=r"add a payment method to your account to increase your rate limit",
         note="the limits of an account without a payment method (the free tier): adding one raises them"),
    _sig("rate limit reached", _R.RATE_LIMIT, 0.9, "openai groq",
         msg=r"rate limit reached for .{0,160}? on (tokens|requests) per",
         unless=r"on_demand|upgrade to dev tier|add a payment method to your account"),
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
    _sig("API not enabled in project", _R.UNKNOWN, 0.88, "google", status=(403,),
         msg=r"has not been used in project .{0,120}(before )?or it is disabled",
         note="a project-setup step, not a suspension: the API is not enabled in this Google Cloud project "
              "(enable it at the activation link in the error; it takes a few minutes)"),
    _sig("SERVICE_DISABLED", _R.UNKNOWN, 0.86, "google", status=(403,), code=r"\bSERVICE_DISABLED\b",
         note="a project-setup step, not a suspension: enable the API in the project"),
    _sig("permission denied on project", _R.UNKNOWN, 0.7, "google", status=(403,),
         msg=r"permission denied on resource project", alt=(_R.INVALID_KEY,),
         note="the project named in the request does not exist or this key's account has no access to it: "
              "configuration, not a suspension"),
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
         msg=r"requires more credits|can only afford", unless=r"key with a higher",
         note="the balance cannot cover max_tokens: add credits or lower max_tokens"),
    _sig("openrouter_credits", _R.CREDITS_EXHAUSTED, 0.9, "openrouter", msg=r"openrouter_credits"),
    _sig("key limit exceeded", _R.HARD_LIMIT, 0.92, "openrouter", status=(402, 403),
         msg=r"key limit exceeded|key with a higher (?:(?:monthly|daily|weekly|total) )?limit",
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
    # Some providers enforce a spend cap by suspending the account (Fireworks: "suspended, possibly due to
    # reaching the monthly spending limit or failure to pay past invoices"): the cap comes first.
    _sig("words: suspended for a spend limit", _R.HARD_LIMIT, 0.66, loose=True,
         msg=r"suspended\b.{0,80}\b(spend(ing)?|budget|usage) (limit|cap)", alt=(_R.INVOICE_OVERDUE, _R.SUSPENDED),
         note="a suspension the provider ties to a spending limit: raise the limit (or pay an overdue invoice)"),
    _sig("words: suspended", _R.SUSPENDED, 0.62, loose=True, unless=r"has not been used in project|SERVICE_DISABLED",
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
Fallback = tuple[Rule, float, tuple[Rule, ...], str | None]
STATUS_FALLBACK: dict[int, Fallback] = {
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
PROVIDER_FALLBACK: dict[str, dict[int, Fallback]] = {
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
