"""Test bundles written independently of the shared examples: other accounts, figures, wording
and provider dialects. Each scenario builds a healthy account, then changes what its root cause
needs; three variants per root cause differ in wording, dialect and figures.
"""

from __future__ import annotations

import copy
import json
from typing import Any

AS_OF = "2026-11-20T15:00:00Z"


def err(status: int, body: dict[str, Any] | str) -> dict[str, Any]:
    return {
        "kind": "error_response",
        "status": status,
        "body": body if isinstance(body, str) else json.dumps(body),
        "seen_at": None,
    }


def base(
    body: str,
    *,
    provider: str = "generic",
    attachments: list[dict[str, Any]] | None = None,
    subject: str = "",
) -> dict[str, Any]:
    return {
        "bundle_version": 1,
        "as_of": AS_OF,
        "provider": provider,
        "ticket": {
            "id": "T",
            "received_at": AS_OF,
            "subject": subject,
            "body": body,
            "attachments": attachments or [],
        },
        "status_page": {"incidents": []},
        "account": {
            "id": "org_test9",
            "name": "Acme Robotics",
            "created_at": "2025-01-15T10:00:00Z",
            "billing_mode": "prepaid",
            "status": "active",
            "console_access": "ok",
            "flags": [],
            "notices": [],
            "tier": {"current": "tier3", "since": "2025-04-01T00:00:00Z", "pending": None},
            "payment_methods": [
                {
                    "id": "pm_9",
                    "brand": "visa",
                    "last4": "1881",
                    "exp_month": 4,
                    "exp_year": 2029,
                    "status": "valid",
                    "default": True,
                }
            ],
            "payments": [
                {
                    "id": "py_1",
                    "at": "2026-11-01T09:00:00Z",
                    "amount": "250.00",
                    "purpose": "top_up",
                    "status": "succeeded",
                    "failure_code": None,
                }
            ],
            "credit_grants": [
                {
                    "id": "cg_p",
                    "kind": "purchased",
                    "amount": "250.00",
                    "remaining": "131.40",
                    "granted_at": "2026-11-01T09:00:00Z",
                    "expires_at": "2027-11-01T09:00:00Z",
                }
            ],
            "auto_recharge": {"enabled": False, "threshold": None, "amount": None},
            "spend_limits": {"soft": None, "hard": None},
            "invoices": [],
            "api_keys": [
                {
                    "id": "key_a",
                    "name": "backend",
                    "redacted": "sk-...Zt4e",
                    "scope": "organization",
                    "owner": None,
                    "owner_active": True,
                    "environment": "production",
                    "status": "active",
                    "created_at": "2025-01-15T11:00:00Z",
                    "last_used_at": "2026-11-20T14:58:00Z",
                }
            ],
            "rate_limits": {
                "gpt-4o": {"rpm": 5000, "tpm": 800000},
                "gpt-4o-mini": {"rpm": 5000, "tpm": 4000000},
            },
            "model_access": None,
        },
    }


OPENAI_QUOTA = {
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota",
        "param": None,
        "code": "insufficient_quota",
    }
}
ANTHROPIC_LOW = {
    "type": "error",
    "error": {
        "type": "invalid_request_error",
        "message": "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to "
        "upgrade or purchase credits.",
    },
}
DEEPSEEK_402 = {
    "error": {
        "message": "Insufficient Balance",
        "type": "unknown_error",
        "param": None,
        "code": "invalid_request_error",
    }
}
GENERIC_402 = {
    "error": {
        "type": "billing_error",
        "code": "insufficient_credits",
        "message": "Payment required: your credit balance is exhausted.",
    }
}


def _zero_balance(b: dict[str, Any]) -> dict[str, Any]:
    b["account"]["credit_grants"][0]["remaining"] = "0.00"
    return b


def credits_exhausted(v: int) -> dict[str, Any]:
    texts = [
        "Everything returns 429 since an hour ago, are you rate limiting us?? I have money in my account",
        "our bot is dead. error below",
        "API stopped responding with results. pls fix asap",
    ]
    atts = [[err(429, OPENAI_QUOTA)], [err(400, ANTHROPIC_LOW)], [err(402, DEEPSEEK_402)]]
    b = _zero_balance(base(texts[v], provider=["openai", "anthropic", "deepseek"][v], attachments=atts[v]))
    return b


def card_declined(v: int) -> dict[str, Any]:
    b = _zero_balance(
        base(
            [
                "My API calls stopped working this morning.",
                "getting payment required errors",
                "Tried to buy credits, it failed and now nothing works",
            ][v],
            attachments=[err(402, GENERIC_402)] if v < 2 else [],
        )
    )
    a = b["account"]
    a["payment_methods"][0]["status"] = ["declined", "expired", "declined"][v]
    a["payments"].append(
        {
            "id": "py_2",
            "at": "2026-11-20T06:00:00Z",
            "amount": ["80.00", "40.00", "500.00"][v],
            "purpose": "top_up",
            "status": "failed",
            "failure_code": ["card_declined", "expired_card", "insufficient_funds"][v],
        }
    )
    return b


def auto_recharge_failed(v: int) -> dict[str, Any]:
    b = _zero_balance(
        base(
            [
                "We have auto recharge on but requests fail with 402 now.",
                "Why is my API blocked? Auto top-up should handle this.",
                "requests failing since last night",
            ][v],
            attachments=[err(402, GENERIC_402)],
        )
    )
    a = b["account"]
    a["auto_recharge"] = {"enabled": True, "threshold": "10.00", "amount": ["50.00", "100.00", "25.00"][v]}
    a["payments"].append(
        {
            "id": "py_3",
            "at": "2026-11-20T02:10:00Z",
            "amount": a["auto_recharge"]["amount"],
            "purpose": "auto_recharge",
            "status": "failed",
            "failure_code": "card_declined",
        }
    )
    a["notices"].append({"kind": "auto_recharge_failed", "at": "2026-11-20T02:11:00Z"})
    return b


def invoice_overdue(v: int) -> dict[str, Any]:
    b = base(
        [
            "All requests get 402 invoice overdue.",
            "API is blocked for our enterprise account",
            "Our integration stopped. Is something wrong with billing?",
        ][v],
        attachments=[
            err(
                402,
                {
                    "error": {
                        "type": "billing_error",
                        "code": "invoice_overdue",
                        "message": "Invoice overdue.",
                    }
                },
            )
        ]
        if v != 2
        else [],
    )
    a = b["account"]
    a["billing_mode"] = "invoiced"
    a["credit_grants"] = []
    a["invoices"] = [
        {
            "id": "in_2610",
            "period_start": "2026-10-01T00:00:00Z",
            "period_end": "2026-11-01T00:00:00Z",
            "amount": ["1840.22", "960.00", "12500.00"][v],
            "status": ["overdue", "open", "overdue"][v],
            "due_at": "2026-11-15T00:00:00Z",
        }
    ]
    return b


def hard_limit(v: int) -> dict[str, Any]:
    bodies = [
        {
            "error": {
                "message": "You exceeded your current quota, please check your plan and billing details.",
                "type": "insufficient_quota",
                "code": "organization_spend_limit_exceeded",
            }
        },
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "You have reached your specified API usage limits. You will regain access on 2026-12-01 at 00:00 UTC.",
            },
        },
        {
            "error": {
                "type": "billing_error",
                "code": "billing_hard_limit_reached",
                "message": "You have reached your monthly spending limit.",
            }
        },
    ]
    b = base(
        [
            "Why are we blocked? We have plenty of credits.",
            "the api refuses everything, i have $300 balance",
            "limit reached?",
        ][v],
        provider=["openai", "anthropic", "generic"][v],
        attachments=[err([429, 400, 402][v], bodies[v])],
    )
    a = b["account"]
    a["spend_limits"] = {"soft": None, "hard": ["120.00", "300.00", "75.00"][v]}
    a["notices"].append({"kind": "hard_limit_reached", "at": "2026-11-19T22:00:00Z"})
    return b


def trial(v: int, *, expired: bool) -> dict[str, Any]:
    b = base(
        [
            "I just signed up and the API already says my credits are gone",
            "free credits not working anymore?",
            "new account, getting 402 on first day",
        ][v],
        attachments=[err(402, GENERIC_402)],
    )
    a = b["account"]
    a["tier"] = {"current": "free", "since": "2026-11-01T00:00:00Z", "pending": None}
    a["payment_methods"] = []
    a["payments"] = []
    a["created_at"] = "2026-08-01T00:00:00Z" if expired else "2026-11-18T00:00:00Z"
    a["credit_grants"] = [
        {
            "id": "cg_t",
            "kind": "free_trial",
            "amount": ["5.00", "18.00", "10.00"][v],
            "remaining": ["3.20", "18.00", "0.40"][v] if expired else "0.00",
            "granted_at": a["created_at"],
            "expires_at": "2026-11-01T00:00:00Z" if expired else "2027-02-18T00:00:00Z",
        }
    ]
    return b


def free_rate(v: int) -> dict[str, Any]:
    b = trial(v, expired=False)
    b["ticket"]["body"] = [
        "getting 429 too many requests after 3 calls",
        "rate limited constantly on free plan",
        "Too Many Requests error, tiny volume",
    ][v]
    b["ticket"]["attachments"] = [
        err(
            429,
            {
                "error": {
                    "type": "rate_limit_error",
                    "code": "rate_limit_exceeded",
                    "message": "Rate limit reached: Limit 3 RPM.",
                }
            },
        )
    ]
    b["account"]["credit_grants"][0]["remaining"] = "4.10"
    return b


def pending(v: int) -> dict[str, Any]:
    b = free_rate(v)
    b["ticket"]["body"] = [
        "I added my card yesterday but still on the free limits",
        "Upgraded with a payment method, limits didn't change",
        "added billing, still 429",
    ][v]
    a = b["account"]
    a["payment_methods"] = [
        {
            "id": "pm_n",
            "brand": "visa",
            "last4": "4444",
            "exp_month": 1,
            "exp_year": 2030,
            "status": "valid",
            "default": True,
        }
    ]
    a["tier"]["pending"] = {"target": "tier1", "requested_at": "2026-11-19T18:00:00Z"}
    return b


def model_tier(v: int) -> dict[str, Any]:
    b = trial(v, expired=False)
    b["account"]["credit_grants"][0]["remaining"] = "4.10"
    b["account"]["model_access"] = ["gpt-4o-mini"]
    b["ticket"]["body"] = [
        "I can't use gpt-4o, says no access",
        "o1 returns 403 for me",
        "model_not_found on gpt-4o but the docs say it exists",
    ][v]
    b["ticket"]["attachments"] = [
        err(
            403,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "model_not_found",
                    "message": "Project `proj_x` does not have access to model "
                    f"`{['gpt-4o', 'o1', 'gpt-4o'][v]}`",
                }
            },
        )
    ]
    return b


def rate_limit(v: int) -> dict[str, Any]:
    bodies = [
        {
            "error": {
                "message": "Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): "
                "Limit 800000, Used 799000, Requested 3000.",
                "type": "tokens",
                "code": "rate_limit_exceeded",
            }
        },
        {
            "error": {
                "message": "You have been rate limited. Your rate limit is 60 queries per minute.",
                "type": "credit_limit",
            }
        },
        {
            "type": "error",
            "error": {
                "type": "rate_limit_error",
                "message": "This request would exceed the "
                "rate limit for your organization of 40,000 input tokens per minute.",
            },
        },
    ]
    return base(
        ["429s during our nightly batch", "random 429 errors at peak", "throttled by the API"][v],
        provider=["openai", "together", "anthropic"][v],
        attachments=[err(429, bodies[v])],
    )


def suspension(v: int, kind: str) -> dict[str, Any]:
    b = base(
        [
            "My account was disabled without warning",
            "API says organization has been disabled",
            "Why was I banned? I need this back today, please reactivate it and tell me what triggered it",
        ][v],
        attachments=[
            err(
                401,
                {
                    "error": {
                        "type": "authentication_error",
                        "code": "account_suspended",
                        "message": "Your organization has been suspended.",
                    }
                },
            )
        ],
    )
    a = b["account"]
    a["status"] = "suspended"
    a["console_access"] = "blocked"
    a["flags"] = [
        {
            "kind": kind,
            "source": ["automated", "manual", "automated"][v],
            "at": "2026-11-19T03:00:00Z",
            "active": True,
        }
    ]
    if kind == "outstanding_balance":
        a["billing_mode"] = "invoiced"
        a["invoices"] = [
            {
                "id": "in_9",
                "period_start": "2026-08-01T00:00:00Z",
                "period_end": "2026-09-01T00:00:00Z",
                "amount": "4410.00",
                "status": "overdue",
                "due_at": "2026-09-15T00:00:00Z",
            }
        ]
    return b


def revoked_key(v: int, *, departed: bool) -> dict[str, Any]:
    b = base(
        [
            "Our key suddenly says invalid",
            "401 incorrect api key provided, worked yesterday",
            "I think my account is suspended? the API rejects my key but I can log in fine",
        ][v],
        provider=["openai", "openai", "generic"][v],
        attachments=[
            err(
                401,
                {
                    "error": {
                        "message": "Incorrect API key provided: sk-...9fQ2.",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                },
            )
        ],
    )
    keys = b["account"]["api_keys"]
    keys.append(
        {
            "id": "key_b",
            "name": "jenkins" if not departed else "maria-laptop",
            "redacted": "sk-...9fQ2",
            "scope": "personal" if departed else "organization",
            "owner": "maria@acme.test" if departed else None,
            "owner_active": not departed,
            "environment": "ci",
            "status": "revoked",
            "created_at": "2025-03-01T00:00:00Z",
            "last_used_at": "2026-11-18T00:00:00Z",
        }
    )
    return b


def outage(v: int) -> dict[str, Any]:
    b = base(
        ["Everything is timing out", "503 on all calls!!", "Is the API down? nothing works"][v],
        attachments=[
            err(
                [500, 503, 529][v],
                [
                    "Internal Server Error",
                    "Service Unavailable",
                    {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
                ][v],
            )
        ],
    )
    b["status_page"]["incidents"] = [
        {
            "id": f"inc_{40 + v}",
            "name": ["Degraded performance", "API errors", "Elevated error rates"][v],
            "status": ["identified", "investigating", "monitoring"][v],
            "impact": "major",
            "created_at": "2026-11-20T14:10:00Z",
            "resolved_at": None,
            "components": [{"name": "API"}],
        }
    ]
    return b


def sync_delay(v: int) -> dict[str, Any]:
    b = base(
        [
            "I just topped up but still get 402",
            "paid 5 minutes ago, still blocked",
            "Bought credits an hour ago, still payment required!",
        ][v],
        attachments=[err(402, GENERIC_402)],
    )
    b["account"]["payments"].append(
        {
            "id": "py_s",
            "at": ["2026-11-20T14:56:00Z", "2026-11-20T14:55:00Z", "2026-11-20T13:50:00Z"][v],
            "amount": "50.00",
            "purpose": "top_up",
            "status": "succeeded",
            "failure_code": None,
        }
    )
    return b


def unconfirmed(v: int) -> dict[str, Any]:
    """The customer says suspended; the bundle has no account to confirm or rule it out."""
    b = base(
        [
            "My account has been suspended, why??",
            "we got banned from the API out of nowhere",
            "Our org was deactivated this morning, please look into it",
        ][v]
    )
    del b["account"]
    return b


def vague(v: int) -> dict[str, Any]:
    """Nothing says what happened: ask, do not guess."""
    b = base(["Please call me back.", "Hello, I have a question about my account.", "help"][v])
    del b["account"]
    return b


EXPECTED: list[tuple[str, Any, str, str, str]] = []


def _add(name: str, fn: Any, incident: str, root: str, route: str) -> None:
    EXPECTED.append((name, fn, incident, root, route))


_add("credits_exhausted", credits_exhausted, "payment_failure", "credits_exhausted", "none")
_add("card_declined", card_declined, "payment_failure", "card_expired_or_declined", "none")
_add("auto_recharge_failed", auto_recharge_failed, "payment_failure", "auto_recharge_failed", "none")
_add("invoice_overdue", invoice_overdue, "payment_failure", "invoice_overdue", "finance")
_add("hard_limit", hard_limit, "spending_limit", "hard_limit_reached", "none")
_add("trial_consumed", lambda v: trial(v, expired=False), "free_tier", "trial_credits_consumed", "none")
_add("trial_expired", lambda v: trial(v, expired=True), "free_tier", "trial_credits_expired", "none")
_add("free_rate", free_rate, "free_tier", "free_tier_rate_limit", "none")
_add("pending", pending, "free_tier", "tier_upgrade_pending", "none")
_add("model_tier", model_tier, "free_tier", "model_not_in_tier", "none")
_add("rate_limit", rate_limit, "rate_limit", "rate_limit", "none")
_add(
    "policy",
    lambda v: suspension(v, "policy_violation"),
    "account_suspension",
    "policy_violation",
    "trust_and_safety",
)
_add("fraud", lambda v: suspension(v, "fraud"), "account_suspension", "fraud_flag", "trust_and_safety")
_add(
    "outstanding",
    lambda v: suspension(v, "outstanding_balance"),
    "account_suspension",
    "outstanding_balance",
    "finance",
)
_add("revoked", lambda v: revoked_key(v, departed=False), "api_key_issue", "invalid_or_revoked_key", "none")
_add("departed", lambda v: revoked_key(v, departed=True), "api_key_issue", "departed_member_key", "none")
_add("outage", outage, "provider_outage", "active_incident", "none")
_add("unconfirmed", unconfirmed, "account_suspension", "unconfirmed", "none")
_add("vague", vague, "needs_info", "undetermined", "none")


def all_cases() -> list[tuple[str, dict[str, Any], str, str, str]]:
    out = []
    for name, fn, inc, root, route in EXPECTED:
        for v in range(3):
            doc = copy.deepcopy(fn(v))
            doc["ticket"]["id"] = f"{name}-{v}"
            out.append((f"{name}-{v}", doc, inc, root, route))
    sd = [
        (
            f"sync_delay-{v}",
            sync_delay(v),
            "payment_failure",
            "sync_delay",
            ["none", "none", "engineering"][v],
        )
        for v in range(3)
    ]
    return out + sd
