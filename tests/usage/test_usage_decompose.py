"""The cost-change decomposition is exact: no residual, per cell and in total, in integers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quotadesk.usage.decompose import Cell, decompose, decompose_cells
from quotadesk.usage.periods import Period
from quotadesk.usage.records import load_usage

OCT, SEP = Period.month(2026, 10), Period.month(2026, 9)

cells = st.lists(
    st.builds(
        Cell,
        key_id=st.sampled_from(["k1", "k2", "k3"]),
        model=st.sampled_from(["gpt-4o", "gpt-4o-mini", "o1"]),
        requests=st.integers(0, 10**7),
        tokens=st.integers(0, 10**10),
        cost_nanos=st.integers(0, 10**13),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(before=cells, after=cells)
def test_parts_add_up_exactly(before: list[Cell], after: list[Cell]) -> None:
    d = decompose_cells(before, after, OCT, SEP)
    assert d.before_nanos == sum(c.cost_nanos for c in before)
    assert d.after_nanos == sum(c.cost_nanos for c in after)
    assert d.volume_nanos + d.tokens_per_request_nanos + d.price_mix_nanos == d.change_nanos
    for p in d.parts:
        assert p.volume_nanos + p.tokens_per_request_nanos + p.price_mix_nanos == p.change_nanos
    for totals in (d.by_model, d.by_key):
        assert sum(t.change_nanos for t in totals.values()) == d.change_nanos
        assert sum(t.volume_nanos for t in totals.values()) == d.volume_nanos


@pytest.mark.parametrize(
    ("before", "after", "component"),
    [
        # Twice the requests, same size and model: all volume.
        ([Cell("k", "m", 100, 100_000, 1_000_000)], [Cell("k", "m", 200, 200_000, 2_000_000)], "volume"),
        # Same requests, three times the tokens each: all tokens per request.
        (
            [Cell("k", "m", 100, 100_000, 1_000_000)],
            [Cell("k", "m", 100, 300_000, 3_000_000)],
            "tokens_per_request",
        ),
        # Same requests and tokens moved to a model ten times dearer: all price mix.
        (
            [Cell("k", "cheap", 100, 100_000, 1_000_000)],
            [Cell("k", "dear", 100, 100_000, 10_000_000)],
            "price_mix",
        ),
    ],
)
def test_pure_changes_land_in_one_component(before: list[Cell], after: list[Cell], component: str) -> None:
    d = decompose_cells(before, after, OCT, SEP)
    parts = {
        "volume": d.volume_nanos,
        "tokens_per_request": d.tokens_per_request_nanos,
        "price_mix": d.price_mix_nanos,
    }
    assert parts[component] == d.change_nanos
    assert all(v == 0 for k, v in parts.items() if k != component)
    assert d.share(parts[component]) == 100


def test_a_new_account_is_all_volume() -> None:
    d = decompose_cells([], [Cell("k", "m", 10, 1000, 5000), Cell("k", "n", 5, 100, 700)], OCT, SEP)
    assert d.volume_nanos == 5700 and d.tokens_per_request_nanos == d.price_mix_nanos == 0


def test_cost_without_requests_is_price() -> None:
    d = decompose_cells([Cell("k", "m", 0, 0, 0)], [Cell("k", "m", 0, 0, 123)], OCT, SEP)
    assert d.price_mix_nanos == 123


def test_decompose_reads_the_log_by_period() -> None:
    start = datetime(2026, 9, 1, tzinfo=UTC)
    rows = []
    for day in range(61):
        ts = start + timedelta(days=day, hours=12)
        model = "gpt-4o" if ts >= datetime(2026, 10, 12, tzinfo=UTC) else "gpt-4o-mini"
        rows.append(
            {"ts": ts.isoformat(), "model": model, "key_id": "k", "input_tokens": 10_000, "requests": 10}
        )
        rows.append({"ts": ts.isoformat(), "model": model, "key_id": "k", "requests": 3, "status": 429})
    data = load_usage(rows, None)
    d = decompose(data, "2026-10", "2026-09")
    assert d.requests_before == 300 and d.requests_after == 310  # failed requests are not billed volume
    assert d.volume_nanos + d.tokens_per_request_nanos + d.price_mix_nanos == d.change_nanos > 0
    driver = d.top_driver()
    assert driver is not None and driver[:2] == ("price_mix", "gpt-4o")
    share = d.share(d.price_mix_nanos)
    assert share is not None and share > 90
