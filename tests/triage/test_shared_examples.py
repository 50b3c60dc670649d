"""The shared worked examples get the diagnosis each must get (as ../shared/tools/score-bundles checks)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from quotadesk.triage.bundle import load
from quotadesk.triage.engine import triage_bundle
from quotadesk.triage.safety import check

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples"
CASES = (
    sorted(p for p in EXAMPLES.glob("*.json") if not p.name.endswith(".expected.json"))
    if EXAMPLES.exists()
    else []
)
KEY = re.compile(r"sk-[A-Za-z0-9_\-]{20,}")
pytestmark = pytest.mark.skipif(not CASES, reason="shared examples not laid beside the repo")


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_example(path: Path) -> None:
    expected = json.loads(path.with_name(path.stem + ".expected.json").read_text())
    result = triage_bundle(load(path))
    assert result["incident"] == expected["incident"], result["decision_path"]
    assert result["root_cause"] == expected["root_cause"], result["decision_path"]
    assert result["route"] == expected["route"]
    whole = json.dumps(result).lower()
    for m in expected.get("mention", []):
        assert m.lower() in whole, m
    for key in KEY.findall(path.read_text()):
        assert key not in json.dumps(result)
    assert result["safety"]["key_exposed"] == expected.get("key_exposed", False)
    v = check(result["reply"])
    assert not (v.refund_promised or v.reinstatement_offered or v.asks_for_key)
