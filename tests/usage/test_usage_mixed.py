"""Several things at once: one key's cause must not be hidden or mis-read because of another key.

- a model swap on one key while another key adds a flood of the cheap model (the account's
  average price does not step, the swapping key's does);
- a pricier model added by a new key beside unchanged traffic: new work, not a swap;
- a development key that starts carrying office-hours traffic: a few days in, its hot
  hours are a new routine (dev key in production), not a string of runaway loops; a real
  loop on another key in the same days is still one.
"""

from __future__ import annotations

import pytest
from usage_scenarios import AS_OF, END, KEYS, _log, at
from usage_synth import START, Log, Traffic, business

from quotadesk.usage.detectors import analyse
from quotadesk.usage.findings import RootCause
from quotadesk.usage.records import load_usage

BUCKETED = pytest.mark.parametrize("bucketed", [False, True], ids=["per_request", "bucketed"])


def _causes(report: object) -> list[str]:
    return [f.root_cause.value for f in getattr(report, "findings", ())]


@BUCKETED
def test_a_swap_on_one_key_hidden_in_the_account_mix(bucketed: bool) -> None:
    log = _log(f"hidden-swap-{bucketed}", bucketed)
    base = 40.0 if bucketed else 10.0
    swap_at = at("2026-10-12")
    log.traffic(
        Traffic(key="key_prod", rate=base),
        START,
        END,
        model_at=lambda h: "claude-sonnet" if h >= swap_at else "claude-haiku",
    )
    # From the same day a bulk key sends eight times as many requests on the cheap model.
    log.traffic(Traffic(key="key_bulk", model="claude-haiku", rate=base * 8), swap_at, END)
    report = analyse(load_usage(log.rows, None), as_of=AS_OF)
    swaps = report.select([RootCause.MODEL_SWAP])
    assert len(swaps) == 1, _causes(report)
    [swap] = swaps
    assert swap.key_ids == ("key_prod",)
    assert (swap.figures["date"], swap.figures["to_model"], swap.figures["from_model"]) == (
        "2026-10-12",
        "claude-sonnet",
        "claude-haiku",
    )
    assert swap.summary.startswith("On key key_prod: ")
    assert swap.impact_nanos >= 10_000_000_000


@BUCKETED
def test_a_new_key_on_a_pricier_model_is_not_a_swap(bucketed: bool) -> None:
    log = _log(f"new-work-{bucketed}", bucketed)
    base = 40.0 if bucketed else 10.0
    log.traffic(Traffic(key="key_prod", model="claude-haiku", rate=base), START, END)
    log.traffic(Traffic(key="key_new", model="claude-sonnet", rate=base / 2), at("2026-10-12"), END)
    report = analyse(load_usage(log.rows, None), as_of=AS_OF)
    assert RootCause.MODEL_SWAP.value not in _causes(report)


def _routine(name: str, bucketed: bool) -> tuple[Log, float]:
    """Office traffic on the production key; the dev key trickles, then from 26 October carries
    twice the production rate in office hours."""
    log = _log(f"{name}-{bucketed}", bucketed)
    base = 40.0 if bucketed else 10.0
    log.traffic(Traffic(key="key_prod", rate=base, shape=business), START, END)
    log.traffic(Traffic(key="key_dev", rate=1, shape=business, ip="198.51.100.7"), START, END)
    dev = Traffic(key="key_dev", model="gpt-4o", rate=base * 2, shape=business, ip="198.51.100.7")
    log.traffic(dev, at("2026-10-26"), END)
    return log, base


@BUCKETED
def test_a_dev_key_put_to_work_is_a_routine_not_a_loop(bucketed: bool) -> None:
    log, _ = _routine("routine", bucketed)
    report = analyse(load_usage(log.rows, None), as_of=AS_OF, keys=KEYS)
    causes = _causes(report)
    assert RootCause.RUNAWAY_LOOP.value not in causes and RootCause.CODE_BUG.value not in causes, causes
    top = report.top([RootCause.DEV_KEY_IN_PRODUCTION])
    assert top is not None, causes
    assert top.key_ids == ("key_dev",) and top.figures["date"] == "2026-10-26"


@BUCKETED
def test_a_real_loop_beside_a_new_routine_is_still_a_loop(bucketed: bool) -> None:
    log, base = _routine("routine-loop", bucketed)
    log.loop(at("2026-10-28T02:00"), 4, int(base * 40), key="key_worker", model="gpt-4o", ip="203.0.113.10")
    report = analyse(load_usage(log.rows, None), as_of=AS_OF, keys=KEYS)
    loops = report.select([RootCause.RUNAWAY_LOOP])
    assert [f.figures["date"] for f in loops] == ["2026-10-28"], _causes(report)
    assert loops[0].figures["key_id"] == "key_worker"


@BUCKETED
def test_a_storm_that_comes_back_every_morning_is_still_a_storm(bucketed: bool) -> None:
    log = _log(f"daily-storm-{bucketed}", bucketed)
    base = 40.0 if bucketed else 10.0
    log.traffic(Traffic(key="key_prod", rate=base), START, END)
    for day in ("2026-10-20", "2026-10-21", "2026-10-22"):
        log.retries(at(f"{day}T07:00"), 120, 10, 6, key="key_prod", model="gpt-4o", fail_share=0.7)
    report = analyse(load_usage(log.rows, None), as_of=AS_OF)
    storms = report.select([RootCause.RETRY_STORM])
    assert sorted(f.figures["date"] for f in storms) == ["2026-10-20", "2026-10-21", "2026-10-22"], _causes(report)


@BUCKETED
def test_a_swap_that_reaches_the_dev_key_too_is_not_a_dev_key_in_production(bucketed: bool) -> None:
    log = _log(f"swap-everywhere-{bucketed}", bucketed)
    base = 40.0 if bucketed else 10.0
    swap_at = at("2026-10-12")

    def model_at(h: object) -> str:  # gpt-4o costs ~16x gpt-4o-mini: the dev key's spend jumps
        return "gpt-4o" if h >= swap_at else "gpt-4o-mini"  # type: ignore[operator]

    log.traffic(Traffic(key="key_prod", rate=base, shape=business), START, END, model_at=model_at)
    dev = Traffic(key="key_dev", rate=base / 4, shape=business, ip="198.51.100.7")
    log.traffic(dev, START, END, model_at=model_at)
    report = analyse(load_usage(log.rows, None), as_of=AS_OF, keys=KEYS)
    causes = _causes(report)
    assert RootCause.MODEL_SWAP.value in causes and RootCause.DEV_KEY_IN_PRODUCTION.value not in causes, causes


@pytest.mark.parametrize(("history_from", "growth"), [("2026-09-26", False), ("2026-09-22", True)])
def test_growth_needs_a_week_of_history(history_from: str, growth: bool) -> None:
    """Traffic doubles in October; with five days of September to compare with (two of them a
    weekend) the rate before is not measurable like for like, with nine it is."""
    from usage_synth import daytime

    log = _log(f"young-growth-{history_from}", False)
    log.traffic(Traffic(key="key_prod", rate=10.0, shape=daytime), at(history_from), at("2026-10-01"))
    log.traffic(Traffic(key="key_prod", rate=20.0, shape=daytime), at("2026-10-01"), END)
    report = analyse(load_usage(log.rows, None), as_of=at("2026-11-03T06:00"))
    assert (RootCause.TRAFFIC_GROWTH.value in _causes(report)) is growth, _causes(report)


@BUCKETED
def test_a_loop_on_a_new_key_is_measured_against_the_account_s_usual_rate(bucketed: bool) -> None:
    """A key first seen in the burst has no usual rate of its own: its "typical busy hour"
    would be the burst itself (a loop of 600 an hour read as 1.6x the usual)."""
    log = _log(f"young-{bucketed}", bucketed)
    base = 40.0 if bucketed else 10.0
    log.traffic(Traffic(key="key_prod", rate=base, shape=business), START, END)
    log.loop(at("2026-10-29T18:00"), 5, int(base * 60), key="key_new", model="gpt-4o", ip="203.0.113.10")
    report = analyse(load_usage(log.rows, None), as_of=AS_OF)
    top = report.top([RootCause.RUNAWAY_LOOP])
    assert top is not None, _causes(report)
    assert float(top.figures["usual_requests_per_hour"]) < base * 3, top.figures


@BUCKETED
def test_a_dev_key_that_starts_on_the_first_is_read_early_in_the_month(bucketed: bool) -> None:
    """Five days into October the bill in question would be September's; the dev key's new
    traffic began on 1 October, so October to date (against 1–5 September) is the period."""
    log = _log(f"first-of-month-{bucketed}", bucketed)
    base = 40.0 if bucketed else 10.0
    log.traffic(Traffic(key="key_prod", rate=base, shape=business), START, at("2026-10-06"))
    log.traffic(Traffic(key="key_dev", rate=1, shape=business, ip="198.51.100.7"), START, at("2026-10-06"))
    dev = Traffic(key="key_dev", model="gpt-4o", rate=base * 2, shape=business, ip="198.51.100.7")
    log.traffic(dev, at("2026-10-01"), at("2026-10-06"))
    report = analyse(load_usage(log.rows, None), as_of=at("2026-10-06T02:00"), keys=KEYS)
    top = report.top([RootCause.DEV_KEY_IN_PRODUCTION])
    assert top is not None, _causes(report)
    assert top.figures["date"] == "2026-10-01"
    assert report.current is not None and report.current.period.label == "2026-10"
    assert "%" in top.summary or "more than all" in top.summary


@BUCKETED
def test_loops_weeks_apart_on_one_key_are_each_a_loop(bucketed: bool) -> None:
    """Three loops on the same key on three days, a week or more apart: not a routine."""
    log = _log(f"three-loops-{bucketed}", bucketed)
    base = 40.0 if bucketed else 10.0
    log.traffic(Traffic(key="key_prod", rate=base, shape=business), START, END)
    for when in ("2026-10-04T02:00", "2026-10-12T13:00", "2026-10-25T02:00"):
        log.loop(at(when), 4, int(base * 40), key="key_prod", model="gpt-4o", ip="203.0.113.10")
    report = analyse(load_usage(log.rows, None), as_of=AS_OF)
    loops = report.select([RootCause.RUNAWAY_LOOP])
    assert sorted(f.figures["date"] for f in loops) == ["2026-10-04", "2026-10-12", "2026-10-25"], _causes(report)


@pytest.mark.parametrize("day", [1, 2, 3, 4])
def test_an_unchanged_dev_key_is_not_news_early_in_a_month(day: int) -> None:
    """A dev key in steady office-hours use since September: on 1–4 December the month to
    date (weekdays only) against 1–4 November (a weekend in it) must not read as new traffic."""
    from usage_synth import always

    log = _log(f"steady-dev-{day}", False)
    log.traffic(Traffic(key="key_prod", model="gpt-4o-mini", rate=4.0, shape=always), START, at("2026-12-05"))
    dev = Traffic(key="key_dev", model="gpt-4o", rate=3.0, shape=business, ip="198.51.100.7", tokens_in=10_000)
    log.traffic(dev, START, at("2026-12-05"))
    report = analyse(load_usage(log.rows, None), as_of=at(f"2026-12-0{day}T23:00"), keys=KEYS)
    assert RootCause.DEV_KEY_IN_PRODUCTION.value not in _causes(report), _causes(report)
