"""Incident accuracy on real customers' words: public reports of AI API billing and account problems.

``tests/data/real_reports.json`` (dev, 100 reports) and ``real_reports_heldout.json`` (50) are in
the scorer's ``--real`` format; each bundle is built here exactly as ``score-bundles --real``
builds it (text only, the status and error body as one ``error_response`` attachment) and run
through ``triage_bundle`` with the rules alone, so CI without the embedding extra measures the
same thing. Floors are what was measured, minus a small margin:

    rules, before this file's rule changes:  dev 77/100, held-out 33/50
    rules, after:                            dev 99/100, held-out 37/50
    later sessions:                          dev 97/100, held-out 41/50

The held-out file was written before any rule change and is never used to tune the rules.
``real_reports_fresh.json`` (60 reports from threads in neither file, more providers) was
collected later and measured before any rule was changed for it: 45/60. Rules were then
written for the general patterns its misses showed (54/60 after), so it is a tuned set now
too; its floor keeps those patterns from regressing.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from quotadesk.triage import bundle as bundle_mod
from quotadesk.triage.engine import triage_bundle

DATA = Path(__file__).resolve().parents[1] / "data"
FILES = {"dev": "real_reports.json", "heldout": "real_reports_heldout.json", "fresh": "real_reports_fresh.json"}
FLOORS = {"dev": 0.95, "heldout": 0.70, "fresh": 0.85}
SIZES = {"dev": 100, "heldout": 50, "fresh": 60}
LABEL_TO_INCIDENT = {  # the scorer's mapping
    "incident_1_payment_or_credit_exhaustion": "payment_failure",
    "incident_2_unexpected_high_bill": "unexpected_high_bill",
    "incident_3_spending_limit": "spending_limit",
    "incident_4_free_tier_or_trial": "free_tier",
    "incident_5_refund_request": "refund_request",
    "incident_6_account_suspension": "account_suspension",
    "api_key_problem": "api_key_issue",
    "rate_limit_not_billing": "rate_limit",
    "provider_outage": "provider_outage",
}
FULL_KEY = re.compile(r"sk-[A-Za-z0-9_\-]{20,}|AIza[0-9A-Za-z_\-]{20,}")
FIELDS = {"id", "label", "provider", "customer_text", "status_code", "error_body", "source"}


def _reports(which: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((DATA / FILES[which]).read_text(encoding="utf-8"))
    return rows


def scorer_bundle(r: dict[str, Any]) -> dict[str, Any]:
    """The bundle ``score-bundles --real`` makes of one report (keep in step with the scorer)."""
    atts = []
    if r.get("status_code") or r.get("error_body"):
        atts.append({"kind": "error_response", "status": r.get("status_code"), "body": r.get("error_body")})
    return {
        "bundle_version": 1,
        "as_of": "2026-11-27T00:00:00Z",
        "provider": (r.get("provider") or "generic").lower().split()[0],
        "ticket": {
            "id": str(r["id"]),
            "received_at": "2026-11-27T00:00:00Z",
            "subject": "",
            "body": r["customer_text"],
            "attachments": atts,
        },
    }


def _incident(r: dict[str, Any]) -> str:
    return str(triage_bundle(bundle_mod.parse(scorer_bundle(r)))["incident"])


@pytest.mark.parametrize("which", sorted(FILES))
def test_reports_are_well_formed(which: str) -> None:
    rows = _reports(which)
    assert len(rows) >= SIZES[which]
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert set(r) == FIELDS, r["id"]
        assert r["label"] in LABEL_TO_INCIDENT, r["id"]
        assert r["customer_text"].strip() and len(r["customer_text"]) <= 700, r["id"]
        assert r["status_code"] is None or (
            isinstance(r["status_code"], int) and 400 <= r["status_code"] < 600
        )
        assert r["error_body"] is None or isinstance(r["error_body"], str)
        assert r["source"].startswith("https://"), r["id"]
        assert not FULL_KEY.search(r["customer_text"] + (r["error_body"] or "")), r["id"]
    # every incident is represented, none dominates
    counts = Counter(r["label"] for r in rows)
    assert set(counts) == set(LABEL_TO_INCIDENT)
    assert max(counts.values()) <= 0.35 * len(rows)


def test_the_sets_are_disjoint() -> None:
    sets = {which: _reports(which) for which in FILES}
    for a in sets:
        for b in sets:
            if a < b:
                assert not {r["source"] for r in sets[a]} & {r["source"] for r in sets[b]}, (a, b)
                assert not {r["id"] for r in sets[a]} & {r["id"] for r in sets[b]}, (a, b)


@pytest.mark.parametrize("which", sorted(FILES))
def test_incident_accuracy_floor(which: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUOTADESK_INTENT_MODEL", "rules")
    rows = _reports(which)
    misses = [
        (r["id"], LABEL_TO_INCIDENT[r["label"]], got)
        for r in rows
        if (got := _incident(r)) != LABEL_TO_INCIDENT[r["label"]]
    ]
    accuracy = 1 - len(misses) / len(rows)
    assert accuracy >= FLOORS[which], misses


@pytest.mark.parametrize(
    ("text", "status", "body", "incident"),
    [
        # a bare quota message from someone who expected the API to be free: the free tier, not a cut-off
        (
            "You exceeded your current quota. i want to use it free, like chat gpt in the browser",
            None,
            None,
            "free_tier",
        ),
        # the same words from a paying customer stay a billing cut-off
        (
            "You exceeded your current quota, please check your plan and billing details.",
            None,
            None,
            "payment_failure",
        ),
        # a model the tier does not include, read from the SDK exception name
        (
            "openai.error.InvalidRequestError: The model `gpt-4` does not exist or you do not have access to it.",
            None,
            None,
            "free_tier",
        ),
        (
            "cards all decline when I try to buy API credits, org balance -$0.05, API access suspended",
            None,
            None,
            "payment_failure",
        ),
        ("Key limit exceeded (monthly limit). Manage it in settings", 403, None, "spending_limit"),
        # the quota error after the free credits ran out: the free grant, not a paid balance
        (
            "My initial free credits are gone and now every call says: You exceeded your current quota",
            None,
            None,
            "free_tier",
        ),
        ("we got a huge bill, charged $400 overnight", None, None, "unexpected_high_bill"),
        ("rate limited to 10/min on the trial key, after 4 requests it stops", None, None, "rate_limit"),
        ("The server is busy. Please try again later.", None, None, "provider_outage"),
    ],
)
def test_real_wording_shapes(
    text: str, status: int | None, body: str | None, incident: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUOTADESK_INTENT_MODEL", "rules")
    r = {"id": "t", "provider": "openai", "customer_text": text, "status_code": status, "error_body": body}
    assert _incident(r) == incident
