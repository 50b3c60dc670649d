"""Malformed bundles exit 2 naming the field, with nothing on stdout."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from quotadesk.cli import app
from quotadesk.errors import BundleError
from quotadesk.triage import bundle

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / "examples" / "auto_recharge_failed.json").read_text())


def _mutate(path: list[Any], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(SAMPLE)
    node = doc
    for p in path[:-1]:
        node = node[p]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


_DELETE = object()

CASES = [
    (["ticket"], _DELETE, "$"),
    (["ticket", "body"], _DELETE, "$.ticket"),
    (["as_of"], "2026-11-18T16:40:00", "$.as_of"),
    (["as_of"], "yesterday", "$.as_of"),
    (["bundle_version"], 2, "$.bundle_version"),
    (["account", "credit_grants", 0, "remaining"], "12,50", "$.account.credit_grants[0].remaining"),
    (["account", "credit_grants", 0, "amount"], "ten", "$.account.credit_grants[0].amount"),
    (["account", "credit_grants", 0, "remaining"], "-5.00", "$.account.credit_grants[0].remaining"),
    (
        ["account", "credit_grants", 0, "granted_at"],
        "2026-10-30 07:00:00",
        "$.account.credit_grants[0].granted_at",
    ),
    (["account", "billing_mode"], "postpaid", "$.account.billing_mode"),
    (["account", "payments", 0, "status"], "bounced", "$.account.payments[0].status"),
    (["account", "api_keys", 0, "environment"], "staging", "$.account.api_keys[0].environment"),
    (["account", "spend_limits", "hard"], 1000.0, "$.account.spend_limits.hard"),
    (["account", "spend_limits", "hard"], "1000.0000000001", "$.account.spend_limits.hard"),
    (["status_page", "incidents", 0, "status"], "fixed", "$.status_page.incidents[0].status"),
    (["usage"], {"records_file": "missing.jsonl"}, "$.usage.records_file"),
]


@pytest.mark.parametrize(("path", "value", "field"), CASES)
def test_malformed_bundle_names_the_field(tmp_path: Path, path: list[Any], value: Any, field: str) -> None:
    doc = _mutate(path, value)
    target = tmp_path / "b.json"
    target.write_text(json.dumps(doc))
    with pytest.raises(BundleError) as info:
        bundle.load(target)
    assert info.value.field is not None
    assert info.value.field.startswith(field), (info.value.field, str(info.value))
    result = CliRunner().invoke(app, ["triage", str(target), "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert field.split(".")[-1].split("[")[0] in result.stderr


def test_not_json_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = CliRunner().invoke(app, ["triage", str(bad)])
    assert r.exit_code == 2 and r.stdout == "" and "not valid JSON" in r.stderr
    r = CliRunner().invoke(app, ["triage", str(tmp_path / "nope.json")])
    assert r.exit_code == 2 and r.stdout == "" and "no such file" in r.stderr


def test_corrupt_records_file(tmp_path: Path) -> None:
    doc = copy.deepcopy(SAMPLE)
    (tmp_path / "u.jsonl").write_text('{"ts": "2026-11-01T00:00:00Z", "model": "claude-haiku"}\n{oops\n')
    doc["usage"] = {"records_file": "u.jsonl"}
    target = tmp_path / "b.json"
    target.write_text(json.dumps(doc))
    r = CliRunner().invoke(app, ["triage", str(target), "--json"])
    assert r.exit_code == 2, r.output
    assert r.stdout == ""
    assert "records" in r.stderr


def test_ticket_alone_is_a_valid_bundle(tmp_path: Path) -> None:
    doc = {"bundle_version": 1, "as_of": "2026-11-12T11:00:00Z", "ticket": {"id": "T-1", "body": "help"}}
    target = tmp_path / "b.json"
    target.write_text(json.dumps(doc))
    b = bundle.load(target)
    assert b.account is None and b.ticket.received_at == b.as_of
