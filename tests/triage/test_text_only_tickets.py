"""Floors on the team's text-only tickets (tests/data/text_only_tickets*.json, issue #10).

83 tickets with no account, usage or status page, written and labelled before any rule was
changed for them. Measured with the rules alone (``python tests/triage/text_only_set.py``):

    before the rules (engine at e6ce7e2): incident 61/83, route 58/83, compromise and
        suspension-email routes 7/28, honest 57/83, never asks for what was given 56/83
    after:                                incident 83/83, route 83/83, 28/28, 83/83, 83/83

``text_only_tickets_heldout.json`` (24, written after those rules): 19/24 incident and 6/9 routes at
first, 24/24 after the general fixes its misses showed. The rules were written against both sets,
so they are tuned sets now; the floors keep its general
patterns from regressing. Incident must stay at or above 90%; routes of compromise and of
suspensions whose email gives a reason, honesty and re-asks allow no miss at all.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from text_only_set import DATA, HELDOUT, measure, tickets

from quotadesk.triage.vocabulary import CLAIM_ROWS, INTENT_ROWS

INCIDENTS = {
    "payment_failure",
    "unexpected_high_bill",
    "spending_limit",
    "free_tier",
    "refund_request",
    "account_suspension",
    "api_key_issue",
    "rate_limit",
    "provider_outage",
    "needs_info",
}
GIVES = {"error", "status", "org_id", "dates", "amount"}


def test_vocabulary_survives_folding() -> None:
    """Patterns are lowercased with the text (``typos.fold``): an upper-case escape (\\S, \\W, \\B)
    would silently become its opposite."""
    import re

    for target, pattern, _w, _n in (*CLAIM_ROWS, *INTENT_ROWS):
        assert not re.search(r"\\[A-Z]", pattern), target


def test_the_heldout_set_is_disjoint() -> None:
    assert not {r["id"] for r in tickets(HELDOUT)} & {r["id"] for r in tickets()}
    assert not {r["body"] for r in tickets(HELDOUT)} & {r["body"] for r in tickets()}


def test_the_set_is_well_formed() -> None:
    rows = tickets()
    assert len(rows) >= 60
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert r["incident"] in INCIDENTS, r["id"]
        assert set(r["gives"]) <= GIVES, r["id"]
        assert r["body"].strip(), r["id"]
    langs = Counter(r["lang"] for r in rows)
    assert {"en", "es", "fr", "de", "pt", "ja", "zh"} <= set(langs)
    # the six incidents in each of the six other languages
    six = {
        "payment_failure",
        "unexpected_high_bill",
        "spending_limit",
        "free_tier",
        "refund_request",
        "account_suspension",
    }
    for lang in ("es", "fr", "de", "pt", "ja", "zh"):
        assert six <= {r["incident"] for r in rows if r["lang"] == lang}, lang


@pytest.fixture(scope="module", params=[DATA, HELDOUT], ids=["set", "heldout"])
def scores(request: pytest.FixtureRequest, monkeypatch_module: pytest.MonkeyPatch) -> dict[str, Any]:
    return measure(request.param)


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QUOTADESK_INTENT_MODEL", "rules")
        yield mp


def _misses(scores: dict[str, Any], what: str) -> list[str]:
    return [
        f"{o.ticket['id']}: {o.result['incident']}/{o.result['root_cause']}/{o.result['route']} {o.problems}"
        for o in scores["outcomes"]
        if not getattr(o, what)
    ]


def test_incident_floor(scores: dict[str, Any]) -> None:
    assert scores["incident"] / scores["n"] >= 0.90, _misses(scores, "incident_ok")


def test_compromise_and_suspension_email_routes(scores: dict[str, Any]) -> None:
    assert scores["routed_ok"] == scores["routed"], [
        m
        for o, m in zip(scores["outcomes"], _misses(scores, "route_ok"), strict=False)
        if {"compromise", "suspension_email"} & set(o.ticket["tags"])
    ]


def test_every_reply_is_honest(scores: dict[str, Any]) -> None:
    assert scores["honest"] == scores["n"], _misses(scores, "honest")


def test_no_reply_asks_for_what_was_given(scores: dict[str, Any]) -> None:
    assert scores["no_reask"] == scores["n"], _misses(scores, "no_reask")


def test_compromise_replies_say_rotate(scores: dict[str, Any]) -> None:
    for o in scores["outcomes"]:
        if "compromise" in o.ticket["tags"]:
            assert "rotate" in o.result["reply"].lower(), o.ticket["id"]
            assert "match the usage" not in o.result["reply"].lower(), o.ticket["id"]
