"""The providers the dialects know, and what rendering and reading both rely on.

``PROVIDERS`` and ``ALIASES`` name the dialects (``canonical_provider`` accepts either,
``provider_name`` gives the display name); ``RUNBOOK_STATUS`` is the status the runbook sends
for each rule; ``RETRYABLE`` and ``DEFAULT_RETRY_AFTER_S`` say which refusals a retry can
fix and after how long. They live apart from the spelling and signature tables because both
directions (``billing.dialects.render`` and ``billing.reading.interpret``) need them and
neither should import the other.

Decisions worth knowing:

- ``DEPARTED_MEMBER_KEY`` goes on the wire as an invalid key (the key is revoked): the wire
  cannot tell the two apart, so ``interpret`` reports ``INVALID_KEY`` (see ``wire_rule``).

Pure: standard library, ``quotadesk.money`` and ``quotadesk.billing`` only.
"""

from __future__ import annotations

from quotadesk.billing.decision import Rule

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
