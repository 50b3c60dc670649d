"""Every detector on a clean signal, a noisy one and a look-alike, per request and bucketed.

The look-alikes (a one-off busy day, weekly seasonality, steady growth, a wobbling model
mix, a new server, a quiet incident, a log without a spike, a cheap model, office-hours
traffic) must produce no finding at all.
"""

from __future__ import annotations

import pytest
from usage_scenarios import CAUSES

from quotadesk.usage.detectors import analyse
from quotadesk.usage.findings import HIGH_BILL_CAUSES, REFUND_CAUSES, RootCause
from quotadesk.usage.records import load_usage


def _describe(report: object) -> str:
    findings = getattr(report, "findings", ())
    return "; ".join(f"{f.root_cause.value} {f.impact_nanos} {f.confidence} {f.summary}" for f in findings)


@pytest.mark.parametrize("bucketed", [False, True], ids=["per_request", "bucketed"])
@pytest.mark.parametrize("variant", ["clean", "noisy", "none"])
@pytest.mark.parametrize("cause", sorted(CAUSES))
def test_detector(cause: str, variant: str, bucketed: bool) -> None:
    scenario = CAUSES[cause](variant, bucketed)
    data = load_usage(scenario.rows, None)
    report = analyse(data, as_of=scenario.as_of, **scenario.kwargs)
    assert report.detector_errors == ()
    if variant == "none":
        assert report.findings == (), _describe(report)
        return
    expected = RootCause(cause)
    vocabulary = HIGH_BILL_CAUSES if expected in HIGH_BILL_CAUSES else REFUND_CAUSES
    top = report.top(vocabulary)
    assert top is not None, _describe(report)
    assert top.root_cause is expected, _describe(report)
    assert top.impact_nanos >= 1_000_000_000
    assert 0 < top.confidence <= 1
    assert top.evidence and all(e.fact and e.source.startswith("/") for e in top.evidence)
    if scenario.date is not None:
        assert top.figures["date"] == scenario.date, top.figures
        assert scenario.date in " ".join(e.fact for e in top.evidence) + top.summary
    for name, value in scenario.figures.items():
        assert top.figures[name] == value, top.figures
    assert len(top.request_ids) <= 20
