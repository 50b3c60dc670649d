"""Loading usage: formats agree, costs are exact, and bad input names its row and field."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quotadesk.billing.pricing import DEFAULT_TABLE, PriceTable
from quotadesk.errors import UsageFileError
from quotadesk.money import nanos
from quotadesk.usage.detectors import analyse
from quotadesk.usage.engine import COLUMNS
from quotadesk.usage.records import load_usage


def row(i: int = 0, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ts": f"2026-10-01T{i % 24:02d}:15:00Z",
        "request_id": f"req_{i}",
        "key_id": "key_a",
        "model": "gpt-4o",
        "input_tokens": 1000 + i,
        "output_tokens": 200,
        "cached_tokens": 0,
        "requests": 1,
        "status": 200,
        "cost": None,
        "fingerprint": f"fp{i}",
        "ip": "203.0.113.1",
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None or k != "cost"}


ROWS = [row(i, cost="0.004500" if i % 3 == 0 else None) for i in range(30)]


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif path.suffix == ".csv":
        with path.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(COLUMNS))
            w.writeheader()
            for r in rows:
                w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in COLUMNS})
    else:
        table = {k: [r.get(k) for r in rows] for k in COLUMNS}
        pq.write_table(
            pa.table(
                {k: pa.array(v, type=pa.string() if k in ("ts", "cost") else None) for k, v in table.items()}
            ),
            path,
        )
    return path


def expected_total(rows: list[dict[str, Any]]) -> int:
    total = 0
    for r in rows:
        if r.get("cost") is not None:
            total += nanos(r["cost"])
        elif r["status"] < 400:
            total += DEFAULT_TABLE.cost_nanos(
                r["model"], r["input_tokens"], r["output_tokens"], r["cached_tokens"]
            )
    return total


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet", "inline"])
def test_formats_load_the_same_rows(tmp_path: Path, suffix: str) -> None:
    if suffix == "inline":
        data = load_usage(ROWS, None)
    else:
        data = load_usage(None, write(tmp_path / f"u{suffix}", ROWS))
    assert data.rows == 30 and data.requests == 30
    assert data.total_nanos == expected_total(ROWS)
    assert data.priced_rows == 20
    assert data.models == ("gpt-4o",) and data.key_ids == ("key_a",)
    assert data.start == datetime(2026, 10, 1, 0, 15, tzinfo=UTC)
    assert data.source == ("/usage/records" if suffix == "inline" else "/usage/records_file")


def test_typed_parquet_with_utc_timestamps(tmp_path: Path) -> None:
    rows = [row(i, cost="0.01") for i in range(5)]
    table = pa.table(
        {
            "ts": pa.array(
                [datetime(2026, 10, 1, i, tzinfo=UTC) for i in range(5)], type=pa.timestamp("us", "UTC")
            ),
            "model": pa.array([r["model"] for r in rows]),
            "input_tokens": pa.array([r["input_tokens"] for r in rows], type=pa.int64()),
            "cost": pa.array([Decimal("0.01")] * 5, type=pa.decimal128(12, 6)),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    data = load_usage(None, tmp_path / "t.parquet")
    assert data.total_nanos == 50_000_000 and data.requests == 5
    assert data.key_ids == ("",)


def test_missing_cost_uses_the_bundle_prices_and_failures_cost_nothing() -> None:
    prices = PriceTable.from_mapping(
        {"house-model": {"input_per_mtok": "2", "output_per_mtok": "6"}}, date(2026, 1, 1)
    )
    rows = [
        row(0, model="house-model", input_tokens=1_000_000, output_tokens=0),
        row(1, model="house-model", input_tokens=500, output_tokens=500, status=429),
        row(2, model="mystery", status=500),  # failing, no cost, unknown model: not billed, fine
    ]
    data = load_usage(rows, None, prices)
    assert data.total_nanos == 2_000_000_000
    assert data.priced_rows == 1


def test_prices_finer_than_a_nano_per_token_are_exact() -> None:
    prices = PriceTable.from_mapping(
        {"odd": {"input_per_mtok": "0.0375", "output_per_mtok": "0.1125", "cached_input_per_mtok": "0.01"}},
        date(2026, 1, 1),
    )
    rows = [row(i, model="odd", input_tokens=7 + i, output_tokens=3 * i, cached_tokens=i) for i in range(12)]
    data = load_usage(rows, None, prices)
    want = sum(
        prices.cost_nanos("odd", r["input_tokens"], r["output_tokens"], r["cached_tokens"]) for r in rows
    )
    assert data.total_nanos == want


def test_cost_text_is_read_exactly() -> None:
    rows = [
        row(0, cost="0.1234567890"),  # a trailing zero past the nano-dollar is still exact
        row(2, cost="12"),
        row(3, cost="999999999.999999999"),
    ]
    data = load_usage(rows, None)
    assert data.total_nanos == 123_456_789 + 12_000_000_000 + 999_999_999_999_999_999


def test_negative_cost_is_refused() -> None:
    """A usage row costs nothing or more; an adjustment is a credit grant, not usage (parse.money)."""
    with pytest.raises(UsageFileError, match=r"^usage.records\[1\].cost: must not be negative"):
        load_usage([row(0, cost="1"), row(1, cost="-0.25")], None)


def test_no_records_is_an_empty_log() -> None:
    data = load_usage([], None)
    assert data.is_empty and data.total_nanos == 0
    report = analyse(data, as_of=datetime(2026, 11, 1, tzinfo=UTC))
    assert report.findings == () and report.current is None


BAD_INLINE = [
    ({"input_tokens": -5}, "usage.records[3].input_tokens: negative (-5)"),
    ({"output_tokens": "many"}, "usage.records[3].output_tokens: not an integer"),
    ({"cached_tokens": 2.5}, "usage.records[3].cached_tokens: expected an integer, got a float"),
    ({"requests": 0}, "usage.records[3].requests: must be at least 1"),
    ({"status": 999}, "usage.records[3].status: not an HTTP status"),
    ({"ts": "2026-10-01T10:00:00"}, "usage.records[3].ts: timestamp has no UTC offset"),
    ({"ts": "yesterday"}, "usage.records[3].ts: not an RFC 3339 timestamp"),
    ({"ts": "2026-13-01T10:00:00Z"}, "usage.records[3].ts: not an RFC 3339 timestamp"),
    ({"ts": None}, "usage.records[3].ts: missing"),
    ({"model": ""}, "usage.records[3].model: missing"),
    ({"cost": "12,50"}, "usage.records[3].cost: not a decimal amount"),
    ({"cost": 0.25}, "usage.records[3].cost: expected a decimal string of dollars, got a float"),
    ({"cost": "0.0000000001"}, "usage.records[3].cost: finer than a nano-dollar"),
    ({"cost": "1000000000.00"}, "usage.records[3].cost: not a decimal amount of dollars under $1e9"),
    ({"model": "gpt-9-turbo-max"}, "usage.records[3].model: no price for model 'gpt-9-turbo-max'"),
    ({"input_tokens": True}, "usage.records[3].input_tokens: expected an integer, got a boolean"),
    ({"input_tokens": 10**13}, "usage.records[3].input_tokens: implausibly large"),
]


@pytest.mark.parametrize(("change", "message"), BAD_INLINE)
def test_bad_inline_rows_name_the_row_and_field(change: dict[str, Any], message: str) -> None:
    rows = [row(i) for i in range(6)]
    rows[3] = {**rows[3], **change}
    with pytest.raises(UsageFileError) as err:
        load_usage(rows, None)
    assert str(err.value).startswith(message), str(err.value)


def test_a_record_that_is_not_an_object() -> None:
    with pytest.raises(UsageFileError, match=r"usage.records\[1\]: expected an object"):
        load_usage([row(0), ["ts", "model"]], None)  # type: ignore[list-item]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"input_tokens": -1}, "input_tokens", "negative"),
        ({"ts": "2026-10-01 10:00:00"}, "ts", "timestamp has no UTC offset"),
        ({"cost": "$$"}, "cost", "not a decimal amount"),
        ({"model": "unpriced-model"}, "model", "no price for model"),
    ],
)
def test_bad_file_rows_name_the_line(
    tmp_path: Path, suffix: str, change: dict[str, Any], field: str, message: str
) -> None:
    rows = [row(i) for i in range(60)]
    rows[56] = {**rows[56], **change}
    path = write(tmp_path / f"u{suffix}", rows)
    with pytest.raises(UsageFileError) as err:
        load_usage(None, path)
    where = {
        ".jsonl": "records_file line 57",
        ".csv": "records_file line 58",
        ".parquet": "records_file row 57",
    }
    assert str(err.value).startswith(f"{where[suffix]}.{field}: {message}"), str(err.value)


def test_a_line_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "u.jsonl"
    lines = [json.dumps(row(i)) for i in range(60)]
    lines[56] = '{"ts": "2026-10-01T00:00:00Z", "model": '
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UsageFileError, match=r"^records_file line 57: not valid JSON"):
        load_usage(None, path)


def test_a_csv_row_with_missing_fields(tmp_path: Path) -> None:
    path = write(tmp_path / "u.csv", [row(i) for i in range(10)])
    text = path.read_text().splitlines()
    text[4] = "2026-10-01T00:00:00Z,req,key"
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(UsageFileError, match=r"^records_file line 5: expected 12 fields"):
        load_usage(None, path)


def test_a_csv_without_the_ts_column(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text("model,input_tokens\ngpt-4o,5\n")
    with pytest.raises(UsageFileError, match=r"^records_file column ts: missing required column"):
        load_usage(None, path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("u.parquet", b"PAR1 this is not parquet", "records_file: cannot read parquet file"),
        ("u.xlsx", b"", "records_file: unsupported file type '.xlsx'"),
    ],
)
def test_corrupt_or_unsupported_files(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UsageFileError) as err:
        load_usage(None, path)
    assert str(err.value).startswith(message), str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageFileError, match=r"^records_file: file not found"):
        load_usage(None, tmp_path / "nope.jsonl")


def test_naive_parquet_timestamps_are_refused(tmp_path: Path) -> None:
    table = pa.table({"ts": pa.array([datetime(2026, 10, 1)], type=pa.timestamp("us")), "model": ["gpt-4o"]})
    pq.write_table(table, tmp_path / "n.parquet")
    with pytest.raises(UsageFileError, match=r"^records_file column ts: timestamps have no UTC offset"):
        load_usage(None, tmp_path / "n.parquet")


def test_float_money_in_parquet_is_refused(tmp_path: Path) -> None:
    table = pa.table({"ts": ["2026-10-01T00:00:00Z"], "model": ["gpt-4o"], "cost": pa.array([0.1])})
    pq.write_table(table, tmp_path / "f.parquet")
    with pytest.raises(UsageFileError, match=r"^records_file column cost: floating-point money"):
        load_usage(None, tmp_path / "f.parquet")


def test_records_and_file_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageFileError, match=r"^usage: give either"):
        load_usage([row(0)], write(tmp_path / "u.jsonl", [row(0)]))
