"""Status pages as served (Statuspage v2, incident.io): parsed leniently, rebuilt at as_of, and an
incident named after a model read as an API outage."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from quotadesk.cli import app
from quotadesk.triage import bundle
from quotadesk.triage.engine import triage_bundle
from quotadesk.triage.statuspage import active, parse_page, parse_status_document, relevant, state_at

DATA = Path(__file__).resolve().parents[1] / "data" / "status_pages"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "auto_recharge_failed.json"


def page(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def test_incident_io_page_without_created_at_or_components() -> None:
    parsed = parse_page(page("openai_incidentio_incidents.json"))
    first = parsed.incidents[0]
    assert (first.created_at, first.started_from) == (t("2026-11-22T09:52:40Z"), "incident_updates")
    assert (first.status, first.impact, first.components) == ("identified", "minor", ())
    assert parsed.incidents[1].components == ("ChatGPT",)
    assert parsed.incidents[2].impact == "unknown"  # null impact: not graded, not "none"
    assert [s for s in parsed.skipped] == ["incidents[3]: no time (created_at, started_at, updates, updated_at)"]


def test_start_is_created_at_else_the_earliest_known_time() -> None:
    base = {"name": "x", "status": "investigating"}
    cases = [
        ({"created_at": "2026-11-22T10:00:00Z", "started_at": "2026-11-22T09:00:00Z"}, "2026-11-22T10:00:00Z"),
        ({"started_at": "2026-11-22T09:30:00Z", "updated_at": "2026-11-22T09:10:00Z"}, "2026-11-22T09:10:00Z"),
        ({"updated_at": "2026-11-22T11:00:00Z", "incident_updates": [{"status": "investigating", "created_at": "2026-11-22T10:55:00Z"}]}, "2026-11-22T10:55:00Z"),
        ({"updated_at": "2026-11-22 11:00:00"}, "2026-11-22T11:00:00Z"),  # naive: UTC
    ]  # fmt: skip
    for extra, expected in cases:
        [inc] = parse_status_document({"incidents": [{**base, **extra}]})
        assert inc.created_at == t(expected), extra


def test_unknown_or_missing_fields_never_refuse_the_page() -> None:
    doc = {"incidents": [{"name": None, "updated_at": "2026-11-22T10:00:00Z", "impact": None, "components": None,
                          "colour": "red", "incident_updates": [{"status": "investigating", "created_at": "not a time"}]},
                         "junk", {"id": 7, "created_at": 12}]}  # fmt: skip
    parsed = parse_page(doc)
    assert len(parsed.incidents) == 1 and len(parsed.skipped) == 2
    assert parsed.incidents[0].status == "investigating"


def test_state_at_is_rebuilt_from_the_updates_when_captured_later() -> None:
    later = parse_status_document(page("openai_incidentio_captured_later.json"))
    assert not active(later[0])  # as captured: resolved
    [(_i, then)] = [x for x in state_at(later, t("2026-11-22T10:20:00Z")) if x[0] == 0]
    assert (then.status, then.resolved_at) == ("investigating", None) and active(then)
    assert len(then.updates) == 1
    assert all(x[0] != 0 for x in state_at(later, t("2026-11-22T09:00:00Z")))  # not started yet


@pytest.mark.parametrize(
    ("name", "components", "provider", "expected"),
    [
        ("Degraded performance for gpt-5.1", ("ChatGPT",), "openai", True),  # named after a model
        ("Elevated errors on ChatGPT for some users", ("ChatGPT",), "openai", False),
        ("Increased latency", ("Realtime",), "openai", True),  # the provider's own API component
        ("Increased latency", ("Realtime",), "generic", False),
        ("Elevated errors", ("Sora",), "openai", True),  # model name
        ("Login issues", ("Login",), "openai", False),
        ("Elevated error rates", ("Chat Completions",), "openai", True),
        ("Errors for Claude Opus 4.5", ("claude.ai",), "anthropic", True),
        ("Anything at all", (), "generic", True),  # no components: nothing says it is app-only
    ],
)
def test_relevance_uses_the_providers_component_and_model_names(
    name: str, components: tuple[str, ...], provider: str, expected: bool
) -> None:
    [inc] = parse_status_document({"incidents": [{"name": name, "status": "investigating", "created_at": "2026-11-22T10:00:00Z", "components": [{"name": c} for c in components]}]})  # fmt: skip
    assert relevant(inc, provider) is expected


def _bundle(status_page: Any, as_of: str = "2026-11-22T10:20:00Z") -> dict[str, Any]:
    doc = json.loads(EXAMPLE.read_text())
    doc = copy.deepcopy(doc)
    doc["as_of"] = as_of
    doc["provider"] = "openai"
    doc["ticket"] = {
        "id": "SP-1",
        "received_at": as_of,
        "subject": "API errors",
        "body": "Since this morning every call to gpt-5.1 fails with 500 errors. Is something down?",
        "attachments": [{"kind": "error_response", "status": 500, "body": '{"error": {"message": "The server had an error while processing your request. Sorry about that!", "type": "server_error"}}'}],
    }
    doc["status_page"] = status_page
    return doc


@pytest.mark.parametrize("name", ["openai_incidentio_incidents.json", "openai_incidentio_captured_later.json"])
def test_a_bundle_with_the_real_incident_io_page_is_triaged_as_an_outage(name: str, tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(_bundle(page(name))))
    result = CliRunner().invoke(app, ["triage", str(path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["incident"], out["root_cause"]) == ("provider_outage", "active_incident")
    assert any("Degraded performance for gpt-5.1" in e["fact"] for e in out["evidence"])


def test_statuspage_v2_summary_as_served_is_an_outage() -> None:
    out = triage_bundle(bundle.parse(_bundle(page("statuspage_v2_summary.json"))))
    assert out["incident"] == "provider_outage"


def test_after_resolution_it_is_no_longer_an_outage() -> None:
    out = triage_bundle(bundle.parse(_bundle(page("openai_incidentio_captured_later.json"), "2026-11-22T13:00:00Z")))
    assert out["incident"] != "provider_outage"
