"""Typo repair: one slip from a word the rules key on is repaired; real words are left alone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quotadesk.triage import intent as it
from quotadesk.triage.typos import VOCABULARY, normalise, repair


@pytest.mark.parametrize(
    ("raw", "fixed"),
    [
        ("please refnud those charges", "please refund those charges"),  # two letters swapped
        ("charegd twice this month", "charged twice this month"),
        ("my acount was suspnded", "my account was suspended"),  # a letter missing
        ("the paymet was declnied", "the payment was declined"),
        ("invocie is overdue", "invoice is overdue"),
        ("our subscriptiion lapsed", "our subscription lapsed"),  # a letter too many
        ("Insuficient balance", "insufficient balance"),
    ],
)
def test_slips_are_repaired(raw: str, fixed: str) -> None:
    assert normalise(raw) == fixed


@pytest.mark.parametrize(
    "text",
    [
        "we changed the model last week",  # one wrong letter from "charged": a real word, kept
        "the change was small",
        "form from",  # short words are never touched
        "the error was strange",
        "balances and credits",
        # real words one slip from the vocabulary (failed, spending, prepaid, retried, flagged, reload)
        "we filed a ticket while filing the report",
        "pending invoices and sending reminders",
        "the loan was repaid",
        "the retired endpoint",
        "requests lagged this morning",
        "preload the cache",
        "the charge was declined",  # a vocabulary word's other form: "charge" is not "charged"
    ],
)
def test_real_words_stay(text: str) -> None:
    assert repair(text) == text


@given(st.sampled_from(sorted(VOCABULARY)))
def test_vocabulary_words_are_never_changed(word: str) -> None:
    assert repair(word) == word


def test_a_misspelt_refund_request_is_a_refund_request() -> None:
    norm = normalise("please refnud those charges from your outage")
    ranking = it.classify(norm, it.find_claims(norm))
    assert ranking[0][0] == "refund_request"


def test_a_real_word_keeps_its_ticket_s_intent() -> None:
    norm = normalise("Our requests lagged for an hour this morning, is there an incident?")
    assert it.classify(norm, it.find_claims(norm))[0][0] == "provider_outage"
