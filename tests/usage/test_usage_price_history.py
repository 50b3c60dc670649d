"""The records loader (a bundle's usage) costs each row at the price in force on its own day."""

from __future__ import annotations

from quotadesk.usage.records import load_usage


def _row(ts: str, rid: str, model: str = "o3-2025-04-16") -> dict[str, object]:
    return {"ts": ts, "request_id": rid, "key_id": "k", "model": model, "input_tokens": 1_000_000,
            "output_tokens": 1_000_000, "cached_tokens": 0, "requests": 1, "status": 200}  # fmt: skip


def test_rows_before_and_after_a_price_change_use_their_own_prices() -> None:
    data = load_usage([_row("2025-05-01T10:00:00Z", "a"), _row("2025-07-01T10:00:00Z", "b")], None, None)
    costs = {r["request_id"]: r["cost_nanos"] for r in data.to_pyarrow(data.table).to_pylist()}
    assert costs == {"a": 50_000_000_000, "b": 10_000_000_000}  # o3: $10/$40, then $2/$8 from 2025-06-10


def test_a_model_with_one_price_in_the_window_keeps_the_engine_path() -> None:
    rows = [_row("2026-11-01T10:00:00Z", "a", "gpt-5-mini"), _row("2026-11-02T10:00:00Z", "b", "gpt-5-mini")]
    data = load_usage(rows, None, None)
    assert data.total_nanos == 2 * (1_000_000 * 250 + 1_000_000 * 2000)
