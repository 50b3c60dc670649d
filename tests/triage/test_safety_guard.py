"""The safety guard is adversarial: unsafe sentences are removed, safe ones kept."""

from __future__ import annotations

import pytest

from quotadesk.triage.safety import check, guard

UNSAFE = [
    "We will refund the full amount today.",
    "You'll receive a full refund within 5 days.",
    "I've issued a refund to your card.",
    "Your refund has been approved.",
    "We guarantee you a full refund.",
    "Yes, we can refund those charges.",
    "You will be credited for the outage.",
    "We can give you a credit for the lost time.",
    "I have reactivated your account.",
    "Your account has been reinstated.",
    "We'll restore your account shortly.",
    "The suspension has been lifted.",
    "Your account was flagged because of unusual prompts.",
    "This was triggered by your high volume of requests.",
    "Please send us your full API key so we can test.",
    "Can you paste your API key here?",
]
SAFE = [
    "I've passed your request to our billing team, who review every credit request.",
    "Trust & Safety are the only team able to review the suspension.",
    "Please rotate the key now.",
    "The last four characters of the key are enough for us.",
    "Access resumes on your next request after the payment succeeds.",
]


@pytest.mark.parametrize("sentence", UNSAFE)
def test_unsafe_sentences_are_removed(sentence: str) -> None:
    text = f"Hi,\n\nThanks for writing. {sentence} Let us know.\n\nBest regards"
    v = check(text)
    assert v.refund_promised or v.reinstatement_offered or v.trigger_disclosed or v.asks_for_key
    g = guard(text, key_exposed=False)
    assert sentence not in g.reply
    assert "Thanks for writing." in g.reply
    assert not (g.refund_promised or g.reinstatement_offered or g.trigger_disclosed or g.asks_for_key)


@pytest.mark.parametrize("sentence", SAFE)
def test_safe_sentences_stay(sentence: str) -> None:
    g = guard(f"Hi,\n\n{sentence}", key_exposed=False)
    assert sentence in g.reply and not g.removed


def test_rotate_advice_added_when_key_exposed() -> None:
    g = guard("Hi,\n\nYour balance is $0.00.", key_exposed=True)
    assert "rotate" in g.reply.lower()
