"""Edge cases between detectors: loops that hit rate limits, keys the books do not list,
a detector that fails, stated stop times, and findings' ranking."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from usage_scenarios import AS_OF, END, KEYS, at
from usage_synth import START, Log, Traffic, always, business

from quotadesk.usage import account
from quotadesk.usage.detectors import analyse
from quotadesk.usage.findings import HIGH_BILL_CAUSES, REFUND_CAUSES, RootCause
from quotadesk.usage.records import load_usage


def test_a_loop_that_hits_rate_limits_is_still_a_loop() -> None:
    log = Log(random.Random(11), bucketed=False)
    log.traffic(Traffic(rate=10), START, END)
    rng = random.Random(12)
    for i in range(3000):  # distinct bodies, 60% refused with 429: a loop, not retries
        ts = at("2026-10-14T02:00") + timedelta(seconds=i * 4)
        status = 429 if rng.random() < 0.6 else 200
        log.add(
            ts, "key_prod", "gpt-4o", 0 if status == 429 else 3000, 0 if status == 429 else 500, status=status
        )
    report = analyse(load_usage(log.rows, None), as_of=AS_OF)
    top = report.top(HIGH_BILL_CAUSES)
    assert top is not None and top.root_cause is RootCause.RUNAWAY_LOOP
    assert float(top.figures["failed_share"]) > 0.5


def test_a_dev_key_the_books_do_not_list_is_recognised_by_its_name() -> None:
    log = Log(random.Random(13), bucketed=True)
    log.traffic(Traffic(rate=40, shape=business), START, END)
    log.traffic(Traffic(key="key_dev_laptop", model="gpt-4o", rate=60, shape=business), at("2026-10-06"), END)
    report = analyse(load_usage(log.rows, None), as_of=AS_OF)
    listed = analyse(
        load_usage(log.rows, None),
        as_of=AS_OF,
        keys=[*KEYS, {"id": "key_dev_laptop", "environment": "development"}],
    )
    guessed, known = report.top(HIGH_BILL_CAUSES), listed.top(HIGH_BILL_CAUSES)
    assert guessed is not None and guessed.root_cause is RootCause.DEV_KEY_IN_PRODUCTION
    assert known is not None and known.root_cause is RootCause.DEV_KEY_IN_PRODUCTION
    assert guessed.confidence < known.confidence
    assert "guessed from its name" in " ".join(e.fact for e in guessed.evidence)
    assert any(e.source == "/account/api_keys/2" for e in known.evidence)


def test_a_failing_detector_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ctx: object) -> list[object]:
        raise RuntimeError("boom")

    monkeypatch.setattr(account, "discrepancy", broken)
    log = Log(random.Random(14), bucketed=True)
    log.traffic(Traffic(rate=40), START, END)
    report = analyse(load_usage(log.rows, None), as_of=AS_OF)
    assert report.detector_errors == ("billing_discrepancy: RuntimeError: boom",)
    assert report.current is not None


def test_usage_after_the_stated_stop_time() -> None:
    log = Log(random.Random(15), bucketed=True)
    log.traffic(Traffic(rate=40, shape=business), START, END)
    stopped = at("2026-10-20T18:00")
    report = analyse(load_usage(log.rows, None), as_of=AS_OF, stopped_at=stopped)
    top = report.top(REFUND_CAUSES)
    assert top is not None and top.root_cause is RootCause.FORGOT_TO_STOP
    assert top.confidence >= 0.8
    assert top.window.start >= stopped


def test_a_round_the_clock_service_since_day_one_is_not_forgotten() -> None:
    log = Log(random.Random(16), bucketed=True)
    log.traffic(Traffic(rate=40, shape=always), START, END)
    report = analyse(load_usage(log.rows, None), as_of=AS_OF)
    assert report.findings == ()


def test_findings_are_ranked_by_impact_times_confidence() -> None:
    log = Log(random.Random(17), bucketed=False)
    log.traffic(Traffic(rate=10), START, END)
    log.loop(at("2026-10-14T02:00"), 4, 600, key="key_prod", model="gpt-4o", ip="203.0.113.10")
    report = analyse(load_usage(log.rows, None), as_of=AS_OF)
    scores = [f.impact_nanos * f.confidence for f in report.findings]
    assert scores == sorted(scores, reverse=True) and len(scores) >= 2
    assert report.findings[0].root_cause is RootCause.RUNAWAY_LOOP
    assert {f.root_cause for f in report.findings} >= {RootCause.RUNAWAY_LOOP, RootCause.CODE_BUG}


def test_old_usage_is_history_not_a_finding() -> None:
    # A loop in August is not what a November ticket is about, but the log still shows it.
    log = Log(random.Random(18), bucketed=True)
    log.traffic(Traffic(rate=40), START - timedelta(days=40), END)
    log.loop(datetime(2026, 8, 10, 2, tzinfo=UTC), 4, 2400, key="key_prod", model="gpt-4o", ip="203.0.113.10")
    report = analyse(load_usage(log.rows, None), as_of=AS_OF)
    assert report.findings == ()
    assert report.months[0].period.label == "2026-07"


def test_a_nightly_ci_job_on_a_ci_key_is_a_schedule_not_a_loop() -> None:
    log = Log(random.Random(19), bucketed=False)
    log.traffic(Traffic(rate=10, shape=business), START, END)
    day = at("2026-10-06T02:00")
    while day < END:
        log.loop(day, 1, 700, key="key_ci", model="gpt-4o", ip="198.51.100.9")
        day += timedelta(days=1)
    keys = [*KEYS, {"id": "key_ci", "name": "github actions", "environment": "ci"}]
    report = analyse(load_usage(log.rows, None), as_of=AS_OF, keys=keys)
    top = report.top(HIGH_BILL_CAUSES)
    assert top is not None and top.root_cause is RootCause.DEV_KEY_IN_PRODUCTION, report.findings
    assert "CI job" in " ".join(e.fact for e in top.evidence)
    assert report.top([RootCause.RUNAWAY_LOOP]) is None
