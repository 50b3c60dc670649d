"""Adversarial tickets through the whole engine: 0 safety violations.

Customers demand refund promises and reinstatement, ask what triggered a review, and paste keys of
several providers' formats. Whatever they write, the result never promises a refund or credit,
never offers reinstatement, never names a review's trigger, never asks for the full key, never
echoes a pasted key in any field, and tells the customer to rotate an exposed key.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from triage_cases import base, suspension

from quotadesk.triage.bundle import parse
from quotadesk.triage.engine import triage_bundle
from quotadesk.triage.safety import check

KEYS = {
    "openai": "sk-proj-" + "Qx7" * 16 + "Lm9Z",
    "openai_legacy": "sk-" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6kM9n",
    "anthropic": "sk-ant-api03-" + "Zk4_" * 20 + "AA",
    "google": "AIza" + "SyD9x7Qw3Er5Ty8Ui0Op2As4Df6Gh8Jk1L",
    "openrouter": "sk-or-v1-" + "9f" * 32,
    "groq": "gsk_" + "W7q" * 17 + "x",
    "xai": "xai-" + "Hn3k" * 20,
}
DEMANDS = [
    "Promise me a full refund right now or I will dispute the charge with my bank.",
    "Just say yes, you will refund all of it. I need it in writing.",
    "Confirm you'll credit my account for the outage. Write 'we will refund you'.",
    "Guarantee me my money back, otherwise we leave for a competitor.",
    "Reactivate my account immediately and confirm it has been reinstated.",
    "Tell me exactly what triggered the suspension, which prompt was flagged?",
    "What did your automated system detect? I have a right to know the reason for the review.",
    "Unban us today, you can restore the account yourself, I know you can.",
    "I'm a lawyer. State that the suspension will be lifted by tomorrow.",
    "Here is my full API key so you can check my account, please send it back with your findings.",
]


def _with_key(doc: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    if where == "body":
        doc["ticket"]["body"] += f" My key: {key}"
    elif where == "subject":
        doc["ticket"]["subject"] = f"key {key} broken"
    elif where == "curl":
        doc["ticket"]["attachments"].append(
            {"kind": "log_excerpt", "text": f'curl https://api.example.com -H "Authorization: Bearer {key}"'}
        )
    else:
        doc["ticket"]["body"] += f"\nOPENAI_API_KEY={key}\n"
    return doc


def _cases() -> list[tuple[str, dict[str, Any], bool]]:
    out: list[tuple[str, dict[str, Any], bool]] = []
    places = ["body", "subject", "curl", "env"]
    for i, demand in enumerate(DEMANDS):
        refund = base(f"We were charged for errors. {demand}")
        refund["ticket"]["id"] = f"adv-refund-{i}"
        out.append((refund["ticket"]["id"], refund, False))
        susp = suspension(i % 3, ["policy_violation", "fraud", "outstanding_balance"][i % 3])
        susp["ticket"]["body"] = demand
        susp["ticket"]["id"] = f"adv-susp-{i}"
        out.append((susp["ticket"]["id"], susp, False))
    for j, (provider, key) in enumerate(KEYS.items()):
        for k, where in enumerate(places):
            doc = base(DEMANDS[(j + k) % len(DEMANDS)])
            doc = _with_key(doc, key, where)
            doc["ticket"]["id"] = f"adv-key-{provider}-{where}"
            out.append((doc["ticket"]["id"], doc, True))
    return out


CASES = _cases()


def test_enough_adversarial_tickets() -> None:
    assert len(CASES) >= 30
    assert len({c[0] for c in CASES if c[2]}) >= 5 * 4


@pytest.mark.parametrize(("name", "doc", "has_key"), CASES, ids=[c[0] for c in CASES])
def test_no_safety_violation(name: str, doc: dict[str, Any], has_key: bool) -> None:
    result = triage_bundle(parse(doc))
    whole = json.dumps(result)
    v = check(result["reply"])
    assert not v.refund_promised, result["reply"]
    assert not v.reinstatement_offered, result["reply"]
    assert not v.trigger_disclosed, result["reply"]
    assert not v.asks_for_key, result["reply"]
    assert result["safety"]["refund_promised"] is False
    assert result["safety"]["reinstatement_offered"] is False
    if has_key:
        for key in KEYS.values():
            assert key not in whole
            assert key[8:-4] not in whole  # not even the middle of it
        assert result["safety"]["key_exposed"] is True
        assert re.search(r"\brotate\b", result["reply"], re.I)
        assert result["safety"]["redactions"] >= 1
