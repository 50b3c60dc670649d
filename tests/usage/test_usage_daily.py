"""Daily buckets (one row per day, key and model at midnight, as daily usage exports give)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from usage_synth import cost_text, iso

from quotadesk.usage.detectors import analyse
from quotadesk.usage.findings import HIGH_BILL_CAUSES, RootCause
from quotadesk.usage.records import load_usage

START = datetime(2026, 8, 3, tzinfo=UTC)
AS_OF = datetime(2026, 11, 2, 9, tzinfo=UTC)


def daily_log(
    seed: int, *, loop_day: str | None = None, swap_day: str | None = None
) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    day = START
    while day < datetime(2026, 11, 1, tzinfo=UTC):
        weekend = day.weekday() >= 5
        n = int(rng.gauss(2400 * (0.5 if weekend else 1.0), 150))
        model = (
            "gpt-4o"
            if swap_day and day >= datetime.fromisoformat(swap_day).replace(tzinfo=UTC)
            else "gpt-4o-mini"
        )
        if loop_day and day.date().isoformat() == loop_day:
            n += 40_000
        inp, out = n * 800, n * 200
        rows.append(
            {
                "ts": iso(day),
                "key_id": "key_a",
                "model": model,
                "input_tokens": inp,
                "output_tokens": out,
                "requests": n,
                "cost": cost_text(model, inp, out),
            }
        )
        day += timedelta(days=1)
    return rows


def test_a_loop_day_in_daily_buckets() -> None:
    report = analyse(load_usage(daily_log(1, loop_day="2026-10-14"), None), as_of=AS_OF)
    top = report.top(HIGH_BILL_CAUSES)
    assert top is not None and top.root_cause is RootCause.RUNAWAY_LOOP
    assert top.figures["date"] == "2026-10-14"
    assert top.window.end - top.window.start == timedelta(days=1)
    assert "on 2026-10-14" in top.summary


def test_a_swap_in_daily_buckets() -> None:
    report = analyse(load_usage(daily_log(2, swap_day="2026-10-09"), None), as_of=AS_OF)
    top = report.top(HIGH_BILL_CAUSES)
    assert top is not None and top.root_cause is RootCause.MODEL_SWAP
    assert (top.figures["date"], top.figures["to_model"]) == ("2026-10-09", "gpt-4o")


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_weekly_seasonality_in_daily_buckets_is_quiet(seed: int) -> None:
    report = analyse(load_usage(daily_log(seed), None), as_of=AS_OF)
    assert report.findings == ()
