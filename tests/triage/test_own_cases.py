"""Own bundles (tests/triage/cases.py): three variants per root cause, each diagnosed right and safely."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from triage_cases import all_cases
from triage_usage_cases import all_usage_cases

from quotadesk.triage.bundle import parse
from quotadesk.triage.engine import triage_bundle
from quotadesk.triage.safety import check

SCHEMA = json.loads(
    (
        Path(__file__).resolve().parents[2] / "src/quotadesk/data/contracts/triage-result.schema.json"
    ).read_text()
)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


@pytest.mark.parametrize(
    ("name", "doc", "incident", "root", "route"),
    all_cases() + all_usage_cases(),
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_case(name: str, doc: dict[str, Any], incident: str, root: str, route: str) -> None:
    result = triage_bundle(parse(doc))
    VALIDATOR.validate(result)
    assert (result["incident"], result["root_cause"], result["route"]) == (incident, root, route), (
        name,
        result["decision_path"],
    )
    v = check(result["reply"])
    assert not (v.refund_promised or v.reinstatement_offered or v.trigger_disclosed or v.asks_for_key)
    if "account" in doc:
        assert result["evidence"], "a diagnosis from an account must cite evidence"
        assert re.search(r"\d", " ".join(e["fact"] for e in result["evidence"]))
    else:
        assert result["questions"], "a diagnosis without the account must ask for what it lacks"
    for e in result["evidence"]:
        assert e["source"].startswith("/"), e
