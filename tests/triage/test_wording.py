"""The wording of replies as data: the runbook's default, a deployment's override, and what an
override may not do (state a figure, claim a source no slot backs, break a safety rule)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from quotadesk.errors import InputError
from quotadesk.triage import bundle as bundle_mod
from quotadesk.triage import honesty
from quotadesk.triage.engine import triage_bundle
from quotadesk.triage.replies import BEATS, render
from quotadesk.triage.safety import check
from quotadesk.triage.wording import (
    SLOTS,
    WordingError,
    default_wording,
    load_wording,
    parse_phrase,
    validate_wording,
)

CARD_CASE: dict[str, Any] = {
    "bundle_version": 1,
    "as_of": "2026-11-20T10:00:00Z",
    "ticket": {
        "id": "T",
        "received_at": "2026-11-20T10:00:00Z",
        "subject": "",
        "body": "I tried to top up and got 'Your card was declined.' Now every call returns 402.",
        "attachments": [],
    },
}


def test_the_default_is_complete_and_safe() -> None:
    w = default_wording()
    for beats in BEATS.values():
        for beat in beats:
            for pid in beat:
                assert pid in w.phrases, pid
    for p in w.phrases.values():
        plain = "".join(x for seg in p.segments for x in seg.parts if isinstance(x, str))
        v = check(plain)
        assert not (v.refund_promised or v.reinstatement_offered or v.trigger_disclosed or v.asks_for_key), (
            p.id
        )
        assert set(p.evidence) <= set(SLOTS), p.id
    # a phrase with no evidence slot never speaks about a source as seen
    for p in w.phrases.values():
        if not p.evidence:
            assert not honesty.claims(p.text), p.id


def test_an_override_changes_places_teams_and_tone(tmp_path: Path) -> None:
    path = tmp_path / "wording.toml"
    path.write_text(
        'greeting = "Hello there,"\n'
        'sign_off = "Kind regards,\\nAcme Support"\n'
        'money = "{amount} USD"\n'
        "[places]\n"
        'payment_methods = "Settings → Billing → Cards"\n'
        "[teams]\n"
        'finance = "our Accounts Receivable team"\n'
        "[phrases]\n"
        '"card.fix" = "Please replace the card under {place.payment_methods}, then top up under {place.add_credits}."\n',
        encoding="utf-8",
    )
    w = load_wording(path)
    r = triage_bundle(bundle_mod.parse(CARD_CASE), wording=w)
    assert r["reply"].startswith("Hello there,") and r["reply"].endswith("Acme Support")
    assert "Settings → Billing → Cards" in r["reply"]
    assert w.teams["finance"] == "our Accounts Receivable team"
    assert honesty.audit(CARD_CASE, r) == ()
    # the default is untouched
    assert "Billing → Payment methods" in triage_bundle(bundle_mod.parse(CARD_CASE))["reply"]


def test_money_format_applies_to_evidence_figures() -> None:
    w = validate_wording({"money": "{amount} USD"})
    phrase = w.phrases["credits.state"]
    from quotadesk.triage.evidence import Fact

    text, used = render(
        phrase, {"account.balance": Fact("account.balance", "0.00", "/account/credit_grants")}, w
    ) or (
        "",
        (),
    )
    assert "0.00 USD" in text and used


def test_json_overrides_load(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"teams": {"security": "the Security desk"}}), encoding="utf-8")
    assert load_wording(path).teams["security"] == "the Security desk"


@pytest.mark.parametrize(
    ("doc", "field", "why"),
    [
        (
            {"phrases": {"credits.if": "Add $20.00 of credits to continue."}},
            "phrases.credits.if",
            "money figure",
        ),
        (
            {"phrases": {"credits.if": "Your credit balance is empty, add credits."}},
            "phrases.credits.if",
            "speaks about the account",
        ),
        (
            {"phrases": {"bill.thanks": "I looked at your usage and it is fine."}},
            "phrases.bill.thanks",
            "speaks about the usage",
        ),
        (
            {"phrases": {"outage.if": "There is no active incident at the moment."}},
            "phrases.outage.if",
            "speaks about the status_page",
        ),
        (
            {"phrases": {"credits.fix": "We will refund the difference once you add credits."}},
            "phrases.credits.fix",
            "safety guard",
        ),
        (
            {"phrases": {"review.route": "We will reinstate your account tomorrow."}},
            "phrases.review.route",
            "safety guard",
        ),
        (
            {"phrases": {"credits.fix": "Add credits within 3 days."}},
            "phrases.credits.fix",
            "introduces the number",
        ),
        (
            {"phrases": {"credits.if": "Your balance is {account.balance}."}},
            "phrases.credits.if",
            "does not bind",
        ),
        ({"phrases": {"credits.state": "Balance {account.nope}."}}, "phrases.credits.state", "unknown slot"),
        ({"phrases": {"credits.state": "Balance [{account.balance}."}}, "phrases.credits.state", "'['"),
        ({"phrases": {"nope.nope": "Hello."}}, "phrases.nope.nope", "unknown phrase id"),
        ({"phrases": {"card.fix": "Go to {place.nowhere}."}}, "phrases.card.fix", "unknown place"),
        ({"places": {"nowhere": "Somewhere"}}, "places.nowhere", "unknown place"),
        ({"teams": {"finance": "Finance ($5 fee)"}}, "teams.finance", "money figure"),
        ({"greeting": ""}, "greeting", "non-empty"),
        ({"money": "USD"}, "money", "{amount}"),
        ({"colour": "blue"}, "colour", "unknown key"),
        ({"phrases": {"credits.if": 12}}, "phrases.credits.if", "non-empty string"),
    ],
)
def test_an_override_is_refused(doc: dict[str, Any], field: str, why: str) -> None:
    with pytest.raises(WordingError) as exc:
        validate_wording(doc)
    assert exc.value.field == field
    assert why in str(exc.value)
    assert isinstance(exc.value, InputError)


def test_a_bad_file_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "w.toml"
    bad.write_text("greeting = ", encoding="utf-8")
    with pytest.raises(WordingError) as exc:
        load_wording(bad)
    assert exc.value.field == "wording"
    with pytest.raises(WordingError) as missing:
        load_wording(tmp_path / "absent.toml")
    assert missing.value.field == "wording"


def test_a_claim_may_sit_in_an_optional_part_bound_to_its_slot() -> None:
    w = validate_wording(
        {"phrases": {"credits.state": "Requests are refused.[ Your credit balance is {account.balance}.]"}}
    )
    assert w.phrases["credits.state"].required == frozenset()
    with pytest.raises(WordingError):
        validate_wording({"phrases": {"credits.state": "Your credit balance is empty.[ {account.balance}]"}})


def test_a_phrase_never_renders_a_hole() -> None:
    p = parse_phrase("x", "Limit {account.hard_limit} set[ on {account.invoice_due}].")
    w = default_wording()
    assert render(p, {}, w) is None


def test_the_cli_takes_a_wording_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from quotadesk.cli import app

    case = tmp_path / "case.json"
    case.write_text(json.dumps(CARD_CASE), encoding="utf-8")
    good = tmp_path / "good.toml"
    good.write_text('greeting = "Hello,"\n', encoding="utf-8")
    out = CliRunner().invoke(app, ["triage", str(case), "--json", "--wording", str(good)])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["reply"].startswith("Hello,")
    bad = tmp_path / "bad.toml"
    bad.write_text('[phrases]\n"card.fix" = "Your balance is $5.00."\n', encoding="utf-8")
    out = CliRunner().invoke(app, ["triage", str(case), "--json", "--wording", str(bad)])
    assert out.exit_code == 2 and out.stdout == ""
    assert "error: phrases.card.fix:" in out.stderr
