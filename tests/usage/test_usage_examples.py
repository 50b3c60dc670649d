"""The shared worked examples: the usage analytics reach the expected cause and name its date."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from quotadesk.billing.pricing import PriceTable
from quotadesk.money import nanos, plain
from quotadesk.usage.detectors import UsageReport, analyse
from quotadesk.usage.findings import HIGH_BILL_CAUSES, REFUND_CAUSES, RootCause
from quotadesk.usage.records import load_usage

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples"
pytestmark = pytest.mark.skipif(not EXAMPLES.exists(), reason="shared examples not laid beside the repo")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def run(name: str) -> tuple[dict[str, Any], UsageReport]:
    doc = json.loads((EXAMPLES / f"{name}.json").read_text())
    prices = PriceTable.from_mapping(doc.get("prices", {}), date(2026, 1, 1))
    usage = doc["usage"]
    path = EXAMPLES / usage["records_file"] if "records_file" in usage else None
    data = load_usage(usage.get("records"), path, prices)
    account = doc.get("account", {})
    invoices = [
        {
            "id": inv["id"],
            "period_start": _dt(inv["period_start"]),
            "period_end": _dt(inv["period_end"]),
            "amount": nanos(inv["amount"]),
            "status": inv["status"],
        }
        for inv in account.get("invoices", [])
    ]
    report = analyse(data, as_of=_dt(doc["as_of"]), keys=account.get("api_keys", []), invoices=invoices)
    return doc, report


def _text(report: UsageReport, cause: RootCause) -> str:
    f = report.top([cause])
    assert f is not None
    return " ".join([f.summary, *(e.fact for e in f.evidence), *f.figures.values()])


@pytest.mark.parametrize(
    ("name", "vocabulary", "cause", "mentions", "current"),
    [
        ("i2_model_swap", HIGH_BILL_CAUSES, RootCause.MODEL_SWAP, ["claude-sonnet", "2026-10-12"], "2026-10"),
        ("i2_retry_storm", HIGH_BILL_CAUSES, RootCause.RETRY_STORM, ["2026-10-08"], "2026-10"),
        ("i5_compromise", REFUND_CAUSES, RootCause.ACCOUNT_COMPROMISE, ["2026-11-09"], "2026-11"),
    ],
)
def test_example_cause(
    name: str, vocabulary: frozenset[RootCause], cause: RootCause, mentions: list[str], current: str
) -> None:
    _, report = run(name)
    top = report.top(vocabulary)
    assert top is not None and top.root_cause is cause, [f.root_cause for f in report.findings]
    text = _text(report, cause)
    for mention in mentions:
        assert mention in text
    assert report.current is not None and report.current.period.label == current
    assert report.detector_errors == ()


def test_model_swap_decomposition_names_the_switch() -> None:
    _, report = run("i2_model_swap")
    d = report.decomposition
    assert d is not None
    assert d.volume_nanos + d.tokens_per_request_nanos + d.price_mix_nanos == d.change_nanos
    share = d.share(d.price_mix_nanos)
    assert share is not None and share >= 90
    driver = d.top_driver()
    assert driver is not None and driver[:2] == ("price_mix", "claude-sonnet")
    swap = report.top([RootCause.MODEL_SWAP])
    assert swap is not None and swap.figures["share_of_increase"].endswith("%")


def test_usage_matches_the_invoices() -> None:
    # The examples' invoices are their usage rounded to the cent: no discrepancy.
    for name in ("i2_model_swap", "i2_retry_storm"):
        _, report = run(name)
        assert report.top([RootCause.BILLING_DISCREPANCY]) is None


def test_hard_limit_month_to_date() -> None:
    doc, report = run("i3_hard_limit")
    assert plain(report.month_to_date_nanos) == "200.00" == doc["account"]["spend_limits"]["hard"]
    assert report.current is not None and report.current.period.label == "2026-11"
    assert not report.high_bill()
    assert report.avg_daily_30d_days == 21
    assert report.recharge_threshold_nanos >= 2 * report.avg_daily_30d_nanos


def test_retry_storm_sample_requests_are_the_failing_retries() -> None:
    _, report = run("i2_retry_storm")
    storm = report.top([RootCause.RETRY_STORM])
    assert storm is not None
    assert 0 < len(storm.request_ids) <= 20
    assert all(rid.startswith("req_") for rid in storm.request_ids)
    assert storm.key_ids == ("key_prod",)
