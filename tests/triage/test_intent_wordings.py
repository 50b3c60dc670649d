"""Wordings real customers use, each pointing at its incident (phrased for the test, not copied).

Each line is a general pattern seen in public reports: money gone fast, a limit that did not
hold, a provider that suspends for its spend cap, a free allowance used up or expired, a
refund asked without the word, a Chinese or Japanese "wrong key".
"""

from __future__ import annotations

import pytest

from quotadesk.triage import intent as it
from quotadesk.triage.typos import normalise


def _top(text: str) -> str:
    norm = normalise(text)
    ranking = it.classify(norm, it.find_claims(norm))
    return ranking[0][0] if ranking else "unknown"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("The agent looped and burned $340 in 3 minutes, how is that possible", "unexpected_high_bill"),
        ("I set a monthly limit of $20 but it did not stop there and kept going", "unexpected_high_bill"),
        ("Our budget cap was not enforced, the project overshot it by $90", "unexpected_high_bill"),
        ("Account suspended, we hit the monthly spending limit apparently", "spending_limit"),
        ("You have exceeded your monthly included credits. Subscribe to PRO for more.", "free_tier"),
        ("My free trial credits expired last week and now nothing works", "free_tier"),
        ("It says my location is not supported without a billing account linked", "free_tier"),
        ("Our new team does not have any credits yet and every call fails", "payment_failure"),
        ("Not enough credits, it says, after one small question", "payment_failure"),
        ("The limit failed and I lost 13 dollars, can someone reverse this?", "refund_request"),
        ("Your outage made our client retry for an hour and we were charged for all of it", "refund_request"),
        ("apikey错误，请问怎么办", "api_key_issue"),
        ("please refnud the duplicate charge", "refund_request"),
    ],
)
def test_wording_points_at_its_incident(text: str, intent: str) -> None:
    assert _top(text) == intent


@pytest.mark.parametrize(
    ("text", "not_intent"),
    [
        ("We hit the monthly spending limit and calls are blocked until the 1st", "unexpected_high_bill"),
        ("The outage is still going on, every request times out", "refund_request"),
        ("We changed the model and the price went up", "refund_request"),
    ],
)
def test_look_alikes_do_not(text: str, not_intent: str) -> None:
    assert _top(text) != not_intent
