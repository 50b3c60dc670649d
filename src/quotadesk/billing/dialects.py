"""How each provider spells a refusal, in both directions.

``render(deny, provider)`` turns a ``Deny`` (always carrying the generic, runbook dialect)
into the status, headers and body a given provider would send; ``interpret(status, body,
provider)`` reads a real provider's error back into a ``Rule``.

This module is the public face: callers import everything from here. It holds the rendering
(placeholders, envelopes, headers) and re-exports the rest, which lives beside it:

- ``billing.providers``: provider names and aliases, the runbook's statuses, what is
  retryable, ``wire_rule``: what both directions share.
- ``billing.spellings``: how each provider spells each rule (data ``render`` fills).
- ``billing.signatures``: the signatures and status fallbacks ``interpret`` matches against
  (data; why a table and not ``if status == 429`` is explained there).
- ``billing.reading``: body parsing, field extraction, redaction, scoring and ``interpret``.

Decisions worth knowing (the ones about reading are in ``billing.signatures`` and
``billing.providers``):

- A rule a provider has no native spelling for is sent in that provider's envelope with the
  project's own code (``invoice_overdue``, ``free_tier_limit_reached``, ...), so every rule
  survives a round trip through every dialect (``native_rules`` tells which are native).
- Every refusal that retrying cannot fix carries ``x-should-retry: false`` (SDKs retry 429s
  otherwise); rate limits and overloads carry ``retry-after`` and ``x-should-retry: true``.

Pure: standard library, ``quotadesk.money`` and ``quotadesk.billing`` only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from quotadesk.billing.decision import Deny, Rule
from quotadesk.billing.providers import (
    ALIASES,
    DEFAULT_RETRY_AFTER_S,
    PROVIDERS,
    RETRYABLE,
    RUNBOOK_STATUS,
    canonical_provider,
    provider_name,
    wire_rule,
)
from quotadesk.billing.reading import Interpretation, interpret
from quotadesk.billing.spellings import GENERIC_SPELLING, NATIVE_SPELLING, Spelling, native_rules
from quotadesk.money import MoneyError, dollars, fmt

__all__ = [
    "ALIASES",
    "DEFAULT_RETRY_AFTER_S",
    "GENERIC_SPELLING",
    "PROVIDERS",
    "RETRYABLE",
    "RUNBOOK_STATUS",
    "Interpretation",
    "RenderedError",
    "canonical_provider",
    "generic_deny",
    "interpret",
    "native_rules",
    "provider_name",
    "render",
    "wire_rule",
]


@dataclass(frozen=True, slots=True)
class RenderedError:
    """A refusal as a provider sends it: HTTP status, headers and JSON body."""

    status: int
    headers: dict[str, str] = field(hash=False)
    body: dict[str, Any] = field(hash=False)

    def text(self) -> str:
        """The body as the bytes on the wire would read."""
        return json.dumps(self.body, ensure_ascii=False)


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
    provider: str, sp: Spelling, status: int, message: str, rule: Rule, values: Mapping[str, str]
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
        sp = Spelling(
            deny.status or canon.status,
            deny.error_type or canon.type,
            deny.code or canon.code,
            deny.message or _fill(canon.message, values),
        )
        message = sp.message
    else:
        sp = NATIVE_SPELLING[p].get(rule) or GENERIC_SPELLING[rule]
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
