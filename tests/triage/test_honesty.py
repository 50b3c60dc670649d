"""The honesty property: a reply never claims a source the case lacks.

Partial bundles are made from every case the project has (the shared examples, the own cases,
the usage cases and a fresh simulated run) by dropping any subset of the account, the usage
log and the status page. For each, ``honesty.audit`` checks the reply against the bundle's
document: no claim about an absent source, every money figure one the evidence holds (or the
customer wrote), no empty slot, no evidence pointing outside the case, and no question for
what the ticket already gave. On the engine before issue #10 this failed at once (a card
decline without the account said "your credit balance is $0.00", a hard-limit error without
the account rendered "a hard limit of  that is set"); ``test_property_has_teeth`` shows it
still fails the moment one playbook states a balance it was not given.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from triage_cases import all_cases
from triage_usage_cases import all_usage_cases

from quotadesk.sim.run import generate
from quotadesk.triage import bundle as bundle_mod
from quotadesk.triage import replies
from quotadesk.triage.engine import build_case, result_of, triage_bundle
from quotadesk.triage.evidence import Evidence, Fact
from quotadesk.triage.honesty import Given, asked, audit, claims, holes, money_figures
from quotadesk.triage.signals import extract_signals
from quotadesk.triage.tree import diagnose
from quotadesk.triage.wording import default_wording, parse_phrase

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples"
SECTIONS = ("account", "usage", "status_page")
Source = tuple[str, dict[str, Any], Path | None]


def _shared() -> list[Source]:
    if not EXAMPLES.exists():
        return []
    paths = sorted(p for p in EXAMPLES.glob("*.json") if not p.name.endswith(".expected.json"))
    return [(p.stem, json.loads(p.read_text()), EXAMPLES) for p in paths]


def _own() -> list[Source]:
    return [(name, doc, None) for name, doc, *_ in all_cases() + all_usage_cases()]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> list[Source]:
    g = generate(1010, 32, db_dir=tmp_path_factory.mktemp("books"))
    return [(c.name, c.bundle, None) for c in g.cases if c.bundle is not None]


def given_by(doc: dict[str, Any]) -> Given:
    """What the ticket states, read the way a support engineer would (the signals)."""
    t = doc["ticket"]
    b = bundle_mod.parse({"bundle_version": 1, "as_of": doc["as_of"], "ticket": t})
    s = extract_signals(t.get("subject", ""), t["body"], b.ticket.attachments, b.ticket.received_at)
    return Given(error=bool(s.errors), status=any(e.status for e in s.errors), org_id=bool(s.org_ids))


def partial(doc: dict[str, Any], drop: frozenset[str]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for section in drop:
        out.pop(section, None)
    return out


def problems(source: Source, drop: frozenset[str]) -> tuple[str, ...]:
    _name, doc, base = source
    cut = partial(doc, drop)
    result = triage_bundle(bundle_mod.parse(cut, base))
    return audit(cut, result, given_by(cut))


DROPS = st.frozensets(st.sampled_from(SECTIONS))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), drop=DROPS)
def test_partial_bundles_are_honest(
    simulated: list[Source], data: st.DataObject, drop: frozenset[str]
) -> None:
    pool = _shared() + _own() + simulated
    source = data.draw(st.sampled_from(pool), label="case")
    assert problems(source, drop) == (), source[0]


@pytest.mark.parametrize("source", _shared(), ids=lambda s: s[0])
def test_every_shared_example_without_anything_but_the_ticket(source: Source) -> None:
    assert problems(source, frozenset(SECTIONS)) == ()


def test_property_has_teeth(monkeypatch: pytest.MonkeyPatch) -> None:
    """A playbook changed to state a balance it was not given fails the property."""
    wording = default_wording()
    lying = parse_phrase("credits.lie", "Your prepaid credit balance is $0.00, so requests are refused.")
    monkeypatch.setattr(
        "quotadesk.triage.replies.default_wording",
        lambda: dataclasses.replace(wording, phrases={**wording.phrases, "credits.lie": lying}),
    )
    beats = dict(replies.BEATS)
    beats["credits_exhausted"] = (("credits.lie",), *beats["credits_exhausted"])
    monkeypatch.setattr(replies, "BEATS", beats)
    doc = {
        "bundle_version": 1,
        "as_of": "2026-11-20T10:00:00Z",
        "ticket": {
            "id": "T",
            "received_at": "2026-11-20T10:00:00Z",
            "subject": "",
            "body": "Every call fails: 402 insufficient_credits, your credit balance is too low.",
            "attachments": [],
        },
    }
    found = audit(doc, triage_bundle(bundle_mod.parse(doc)), given_by(doc))
    assert "claims the account without it in the case" in found
    assert any("0.00" in p for p in found)
    # and on the shared example with its account dropped
    source = next((s for s in _shared() if s[0] == "i1_credits_exhausted"), None)
    if source is not None:
        assert problems(source, frozenset({"account"}))


def test_a_fact_from_an_absent_section_renders_nothing() -> None:
    """The structural half: a playbook that binds an account figure for a case without an
    account gets no sentence from it, and an empty figure cannot even be made."""
    doc = {
        "bundle_version": 1,
        "as_of": "2026-11-20T10:00:00Z",
        "ticket": {"id": "T", "received_at": "2026-11-20T10:00:00Z", "body": "402 credits exhausted"},
    }
    case = build_case(bundle_mod.parse(doc))
    dx = diagnose(case)
    dx.put("account.balance", "0.00", "/account/credit_grants")
    result = result_of(case, dx)
    assert "$0.00" not in result["reply"] and audit(doc, result) == ()
    with pytest.raises(ValueError, match="empty"):
        Fact("account.balance", "", "/account/credit_grants")
    with pytest.raises(ValueError, match="empty"):
        Fact("account.hard_limit", "None", "/account/spend_limits/hard")
    with pytest.raises(ValueError, match="must be read under"):
        Fact("account.balance", "1.00", "/usage")
    assert "account.balance" not in Evidence.of([Fact("account.balance", "1.00", "/account")], {"ticket": {}})


def test_status_page_absent_is_not_no_incident() -> None:
    doc = {
        "bundle_version": 1,
        "as_of": "2026-11-20T10:00:00Z",
        "ticket": {
            "id": "T",
            "received_at": "2026-11-20T10:00:00Z",
            "body": "all our requests fail with 503",
        },
    }
    r = triage_bundle(bundle_mod.parse(doc))
    path = " ".join(r["decision_path"])
    assert "No status page in the case" in path and "no unresolved incident" not in path
    assert r["checklist"][0]["state"] == "todo" and "not in the bundle" in r["checklist"][0]["note"]
    assert not claims(r["reply"]) and audit(doc, r) == ()
    with_page = {**doc, "status_page": {"incidents": []}}
    r2 = triage_bundle(bundle_mod.parse(with_page))
    assert "no unresolved incident" in " ".join(r2["decision_path"])


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("Your credit balance is $0.00 and the last charge to your card failed.", "account"),
        ("Your key and billing are otherwise fine.", "account"),
        ("I looked at your usage: requests kept running steadily.", "usage"),
        ("The charges match the usage.", "usage"),
        ("We are currently experiencing a service incident.", "status_page"),
        ("There is no active incident right now.", "status_page"),
    ],
)
def test_claim_detectors(text: str, source: str) -> None:
    assert source in claims(text)


def test_conditional_wording_claims_nothing() -> None:
    text = (
        'The error you quoted ("Your credit balance is too low") means the organization\'s prepaid balance '
        "could not cover the request. You can check the balance under Billing."
    )
    assert claims(text) == frozenset()


def test_holes_and_money_and_asks() -> None:
    assert holes("the monthly hard limit of  that is set")
    assert holes("invoice  () is past its due date")
    assert holes("expired on .")
    assert holes("a balance of $ only")
    assert not holes("Hi,\n\nAccess resumes on your next request.")
    assert money_figures("about $1,240.50 in all, or 12 USD") == (money_figures("$1240.50")[0], 12)
    assert asked("Could you send the exact error message and HTTP status code you receive?") >= {
        "error",
        "status",
    }
    assert asked("Usage by model shows the day the new model took over.") == frozenset()
