"""Signals from a ticket: errors in attachments and prose, keys, org ids, amounts, models, claims, intent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quotadesk.billing.decision import Rule
from quotadesk.errors import InputError
from quotadesk.triage.signals import extract_signals

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples"
QUOTA_429 = (
    "openai.RateLimitError: Error code: 429 - {'error': {'message': 'You exceeded your current quota, please "
    "check your plan and billing details.', 'type': 'insufficient_quota', 'param': None, 'code': "
    "'insufficient_quota'}}"
)


def sig(
    body: str, attachments: list[dict[str, Any]] | None = None, provider: str = "generic", subject: str = ""
):  # type: ignore[no-untyped-def]
    return extract_signals(subject, body, attachments or [], NOW, provider, intent_model="rules")


def _example_tickets() -> list[tuple[str, dict[str, Any], str, str]]:
    out = []
    for p in sorted(EXAMPLES.glob("*.expected.json")):
        bundle = json.loads(p.with_name(p.name.replace(".expected", "")).read_text())
        out.append(
            (
                p.stem,
                bundle["ticket"],
                bundle.get("provider", "generic"),
                json.loads(p.read_text())["incident"],
            )
        )
    return out


@pytest.mark.skipif(not EXAMPLES.exists(), reason="shared examples not laid beside the repo")
@pytest.mark.parametrize(("name", "ticket", "provider", "incident"), _example_tickets())
def test_shared_examples_intent(name: str, ticket: dict[str, Any], provider: str, incident: str) -> None:
    s = extract_signals(
        ticket["subject"], ticket["body"], ticket["attachments"], NOW, provider, intent_model="rules"
    )
    assert s.intent == incident, (name, s.intents)


def test_sdk_quota_429_in_prose_is_billing_not_rate_limit() -> None:
    s = sig(f"we keep hitting rate limits??\n{QUOTA_429}")
    assert s.intent == "payment_failure"
    assert len(s.errors) == 1
    e = s.errors[0]
    assert e.status == 429 and e.source == "/ticket/body" and e.in_prose
    assert isinstance(e.body, dict) and e.body["error"]["code"] == "insufficient_quota"
    assert e.interpretation.billing and e.interpretation.rule is Rule.CREDITS_EXHAUSTED


def test_attached_error_keeps_its_pointer_and_seen_at() -> None:
    seen = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    body = '{"error": {"type": "billing_error", "code": "billing_hard_limit_reached", "message": "limit"}}'
    s = sig(
        "The API just stopped working. I have money in my account.",
        [
            {"kind": "log_excerpt", "text": "nothing"},
            {"kind": "error_response", "status": 402, "body": body, "seen_at": seen},
        ],
    )
    assert [(e.source, e.status, e.seen_at) for e in s.errors] == [("/ticket/attachments/1", 402, seen)]
    assert s.errors[0].interpretation.rule is Rule.HARD_LIMIT
    assert s.intent == "spending_limit"
    assert "has_money" in s.claims


@pytest.mark.parametrize(
    ("text", "statuses"),
    [
        ("getting 402 on every call", [402]),
        ("HTTP 429 at peak, then HTTP 503", [429, 503]),
        ("error code 401 since this morning", [401]),
        ('Error: 402 {"error": {"code": "insufficient_credits"}}', [402]),
        (
            "anthropic.InternalServerError: Error code: 529 - {'type': 'error', 'error': {'type': "
            "'overloaded_error', 'message': 'Overloaded'}}",
            [529],
        ),
        ("litellm.RateLimitError: OpenAIException - You exceeded your current quota", [429]),
        (
            "openai.error.InvalidRequestError: The model `gpt-4` does not exist or you do not have access to it.",
            [400],
        ),
        ("we have 200 users and pay $402 a month", []),
        ("bill went from 500 USD to 4,000 USD", []),
    ],
)
def test_statuses_in_prose(text: str, statuses: list[int]) -> None:
    assert [e.status for e in sig(text).errors] == statuses


def test_pasted_traceback() -> None:
    frames = (
        '  File "app.py", line 42, in <module>\n    resp = client.chat.completions.create(model="o1")\n' * 30
    )
    s = sig(f"Our worker crashes:\nTraceback (most recent call last):\n{frames}{QUOTA_429}\nplease help")
    assert [e.status for e in s.errors] == [429]
    assert s.intent == "payment_failure"
    assert s.models == ("o1",)


def test_log_excerpt_errors_are_read() -> None:
    log = "2026-11-27T08:00:01Z ERROR openai.AuthenticationError: Error code: 401 - {'error': {'code': 'invalid_api_key'}}"
    s = sig("keys broke", [{"kind": "log_excerpt", "text": log}])
    assert [(e.source, e.status) for e in s.errors] == [("/ticket/attachments/0", 401)]
    assert s.intent == "api_key_issue"


def test_keys_are_found_everywhere_and_never_kept_in_bodies() -> None:
    key = "sk-proj-Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6kM9nP2rS5uV8xA1dG4"
    s = sig(
        f"Here is my key: {key} - it returns 402.",
        [{"kind": "error_response", "status": 402, "body": f"bad key {key}"}],
        subject=f"key {key}",
    )
    assert s.key_exposed
    assert [x.source for x in s.secrets] == ["/ticket/subject", "/ticket/body", "/ticket/attachments/0/body"]
    assert all(x.hit.redacted == "sk-proj-...1dG4" for x in s.secrets)
    assert key not in repr(s)


def test_org_ids_models_amounts_times() -> None:
    s = sig(
        "org org-AbC123dEf456 spent €1.234,56 and 800 dollars on gpt-4o-mini and Claude Sonnet; "
        "it was $40 last month (2k USD?) since yesterday evening"
    )
    assert s.org_ids == ("org-AbC123dEf456",)
    assert s.models == ("gpt-4o-mini", "claude-sonnet")
    assert [(a.amount, a.currency) for a in s.amounts] == [
        (Decimal("1234.56"), "EUR"),
        (Decimal("800"), "USD"),
        (Decimal("40"), "USD"),
        (Decimal("2000"), "USD"),
    ]
    assert [t.text for t in s.times] == ["last month", "since yesterday evening"]


@pytest.mark.parametrize(
    ("text", "claims"),
    [
        ("Nothing in my code changed", {"nothing_changed"}),
        ("I have money in my account", {"has_money"}),
        ("I have no balance left", set()),
        ("I can still log in to the dashboard", {"can_log_in"}),
        ("I can't log in anymore", {"cannot_log_in"}),
        ("I just signed up", {"new_account"}),
        ("I added a payment method", {"added_card"}),
        ("my card was declined", {"card_problem"}),
        ("mi tarjeta fue rechazada", {"card_problem"}),
        ("my free credits are gone", {"mentions_free_credits"}),
        ("the trial ended", {"mentions_trial"}),
        ("I hit my limit", {"mentions_limit"}),
        ("Rechnung is wrong", {"mentions_invoice"}),
        ("auto-recharge did not fire", {"mentions_auto_recharge"}),
        ("someone used my key, it was not me", {"reports_compromise"}),
        ("quero reembolso", {"wants_refund"}),
        ("Rückerstattung bitte", {"wants_refund"}),
        ("I do not want a refund, just an explanation", set()),
        ("our account was deactivated", {"says_suspended"}),
        ("is the API down?", {"says_outage"}),
        ("I was overcharged", {"says_bill_high"}),
        ("an infinite loop", {"mentions_loop"}),
        ("our retries", {"mentions_retries"}),
        ("a bug in our code", {"mentions_bug"}),
        ("I forgot to turn off the job", {"forgot_to_stop"}),
        ("used o1 by mistake", {"chose_expensive_model"}),
        ("an ex-colleague's key", {"member_left"}),
        ("the key was revoked", {"key_problem"}),
        ("too many requests", {"rate_limited"}),
        ("3 different cards all decline", {"card_problem"}),
        ("every payment method declines on org billing", {"card_problem"}),
        ("i want to use it free, like the app", {"expects_free"}),
        ("I thought Gemini CLI was free", {"expects_free"}),
        ("generate_content_free_tier_requests, limit: 0", {"mentions_trial"}),
        ("The server is busy. Please try again later.", {"says_outage"}),
        ("Unexpected API charges: I lost 300 USD in seconds", {"says_bill_high"}),
        ("my credit is decreasing very quickly", {"says_bill_high"}),
        ("this burnt through £25 of credit in minutes", {"says_bill_high"}),
        ("Rate limit reached on tokens per day (TPD)", {"rate_limited"}),
    ],
)
def test_claims(text: str, claims: set[str]) -> None:
    assert claims <= sig(text).claims
    if not claims:
        assert not ({"has_money", "wants_refund"} & sig(text).claims)


@pytest.mark.parametrize(
    ("text", "attachments", "intent"),
    [
        ("My account was compromised and someone used my API key. I want a refund.", [], "refund_request"),
        ("my free credits ran out", [], "free_tier"),
        ("I hit my limit", [], "spending_limit"),
        ("my bill is way higher than last month", [], "unexpected_high_bill"),
        ("this is not a rate limit issue, we get 402", [], "payment_failure"),
        ("We see 429 at peak time", [], "rate_limit"),
        (
            "We see 429 at peak time",
            [{"kind": "error_response", "status": 429, "body": QUOTA_429.split(" - ", 1)[1]}],
            "payment_failure",
        ),
        ("hello there", [], "unknown"),
        (
            "openai.error.InvalidRequestError: The model `gpt-4` does not exist or you do not have access to it.",
            [],
            "free_tier",
        ),
    ],
)
def test_intent_combines_text_and_errors(text: str, attachments: list[dict[str, Any]], intent: str) -> None:
    s = sig(text, attachments, provider="openai")
    assert s.intent == intent, s.intents
    if s.intents:
        assert s.intents[0][0] == s.intent
        assert abs(sum(v for _, v in s.intents) - 1) < 0.01


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"received_at": datetime(2026, 11, 27)}, "received_at"),
        ({"body": None}, "ticket.body"),
        ({"subject": 3}, "ticket.subject"),
        ({"intent_model": "gpt"}, "intent_model"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {
        "subject": "",
        "body": "x",
        "attachments": [],
        "received_at": NOW,
        "provider": "generic",
    }
    args.update(kwargs)
    with pytest.raises(InputError, match=field):
        extract_signals(**args)


def test_attachment_records_work_like_dicts() -> None:
    from quotadesk.triage.bundle import Attachment

    att = Attachment(kind="error_response", status=401, body='{"error": {"code": "account_suspended"}}')
    s = extract_signals("", "disabled?", (att,), NOW, "generic", intent_model="rules")
    assert s.errors[0].interpretation.rule is Rule.SUSPENDED
    assert s.intent == "account_suspension"
