"""Every importer on fixtures shaped like the providers' real documents, with exact costs.

Fixtures (``fixtures/``): ``openai_usage_reference.json`` and ``openai_costs_reference.json``
are the examples of ``shared/reference/usage-export-formats.md`` verbatim; the others
follow the same shapes with grouping, newer optional fields and both spellings of
Anthropic's cache-creation tokens. Expected costs are worked by hand from the price table
(per 1M tokens: gpt-4o 2.50 / 10.00 / 1.25 cached; gpt-4o-mini 0.15 / 0.60; claude-sonnet
3.00 / 15.00 / 0.30; claude-haiku 0.80 / 4.00).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quotadesk.billing.pricing import DEFAULT_TABLE
from quotadesk.errors import InputError, UsageFileError
from quotadesk.usage.importers import read_files, resolve_format
from quotadesk.usage.importers.batch import derived_id
from quotadesk.usage.records import load_usage

FIX = Path(__file__).parent / "fixtures"


def _rows(fmt: str, *names: str) -> tuple[Any, list[dict[str, Any]]]:
    batch = read_files(fmt, [FIX / n for n in names])
    return batch, batch.usage.to_pylist()


def test_openai_usage_reference_example_is_reported_not_costed() -> None:
    """The documented example is not grouped by model: it cannot be priced, so it is reported."""
    batch, rows = _rows("openai-usage", "openai_usage_reference.json")
    assert rows == []
    assert batch.rows_read == 1
    [unknown] = batch.unknown
    assert (unknown.model, unknown.rows, unknown.requests) == ("", 1, 5)
    assert unknown.to_json()["model"] == "(none)"
    assert any("has_more" in n and "AAAAAGdGxdEiJdKOAAAAAGcqsYA=" in n for n in batch.notes)


def test_openai_usage_grouped_pages() -> None:
    batch, rows = _rows("openai-usage", "openai_usage_grouped.json")
    assert batch.rows_read == 5 and batch.empty == 1
    assert [(u.model, u.rows, u.requests) for u in batch.unknown] == [("gpt-9-ultra", 1, 2)]
    got = [
        (
            r["ts"],
            r["key_id"],
            r["model"],
            r["input_tokens"],
            r["cached_tokens"],
            r["output_tokens"],
            r["requests"],
            r["cost_nanos"],
        )
        for r in rows
    ]
    day1 = datetime(2025, 10, 1, tzinfo=UTC)
    day2 = datetime(2025, 10, 2, tzinfo=UTC)
    assert got == [
        # input_tokens includes cached: 1,200,000 - 200,000 uncached; $2.50 + $0.25 + $3.00
        (day1, "key_prod", "gpt-4o-2024-08-06", 1_000_000, 200_000, 300_000, 400, 5_750_000_000),
        # batch: half of ($0.075 + $0.06)
        (day1, "key_dev", "gpt-4o-mini-2024-07-18", 500_000, 0, 100_000, 250, 67_500_000),
        # input_uncached_tokens given: $2.00 + $0.125 + $2.50
        (day2, "key_prod", "gpt-4o-2024-08-06", 800_000, 100_000, 250_000, 300, 4_625_000_000),
    ]
    assert all(r["request_id"].startswith("openai-usage:") for r in rows)
    assert len({r["request_id"] for r in rows}) == 3
    assert all(r["fingerprint"] == "" and r["status"] == 200 for r in rows)
    assert any("no statuses" in n for n in batch.notes)


def test_bucket_ids_are_deterministic() -> None:
    first = read_files("openai-usage", [FIX / "openai_usage_grouped.json"]).usage.column("request_id")
    again = read_files("openai-usage", [FIX / "openai_usage_grouped.json"]).usage.column("request_id")
    assert first.equals(again)
    assert derived_id("x", 1, None, "a") == derived_id("x", "1", "", "a")


def test_openai_costs_reference_and_float_noise() -> None:
    ref = read_files("openai-costs", [FIX / "openai_costs_reference.json"])
    assert ref.usage.num_rows == 0
    [row] = ref.costs.to_pylist()
    assert row["amount_nanos"] == 60_000_000  # 0.06 read as the decimal 0.06, not 0.0599999…
    assert row["ts"] == datetime(2024, 11, 1, tzinfo=UTC) and row["end"] == datetime(2024, 11, 2, tzinfo=UTC)
    grouped = read_files("openai-costs", [FIX / "openai_costs_grouped.json"]).costs.to_pylist()
    assert [r["amount_nanos"] for r in grouped] == [
        5_050_000_000,  # 5.050000000000001: the float's noise past the nano is rounded away
        3_000_000_000,
        97_500_000,
        2_125_000_000,
        2_500_000_000,  # 2.5e0
    ]
    assert (
        grouped[0]["line_item"] == "gpt-4o-2024-08-06, input" and grouped[0]["model"] == "gpt-4o-2024-08-06"
    )
    assert grouped[0]["project"] == "proj_abc"


def test_anthropic_usage_nested_and_flattened_cache_creation() -> None:
    batch, rows = _rows("anthropic-usage", "anthropic_usage.json")
    assert batch.rows_read == 3 and batch.empty == 1 and batch.unknown == ()
    sonnet, haiku = rows
    # 1.5M uncached + 200k (5m) + 100k (1h) cache writes are all uncached input
    assert (sonnet["input_tokens"], sonnet["cached_tokens"], sonnet["output_tokens"]) == (
        1_800_000,
        800_000,
        400_000,
    )
    # $4.50 + 200k×$3×1.25 $0.75 + 100k×$3×2 $0.60 + cache read $0.24 + output $6.00
    assert sonnet["cost_nanos"] == 12_090_000_000
    assert sonnet["key_id"] == "apikey_01Rj2N8SVvo6BePZj99NhmiT" and sonnet["requests"] == 1
    # flattened cache_creation_5m_input_tokens: $0.24 + 50k×$0.80×1.25 $0.05 + $0.24
    assert (haiku["input_tokens"], haiku["cost_nanos"]) == (350_000, 530_000_000)
    assert any("12 web searches" in n for n in batch.notes)
    assert any("no request counts" in n for n in batch.notes)


def test_anthropic_cost_report_cents() -> None:
    batch = read_files("anthropic-cost", [FIX / "anthropic_cost.json"])
    rows = batch.costs.to_pylist()
    assert [r["amount_nanos"] for r in rows] == [4_500_000_000, 6_000_000_000, 1_234_500_000, 120_000_000]
    assert rows[2]["token_type"] == "cache_creation.ephemeral_5m_input_tokens"
    assert rows[3]["cost_type"] == "web_search"
    assert len({r["request_id"] for r in rows}) == 4


def test_litellm_spendlogs_csv() -> None:
    batch, rows = _rows("litellm", "litellm_spendlogs.csv")
    assert batch.rows_read == 5
    assert [(u.model, u.rows) for u in batch.unknown] == [("my-finetune-x", 1)]
    by_id = {r["request_id"]: r for r in rows}
    assert set(by_id) == {"chatcmpl-001", "chatcmpl-002", "chatcmpl-003", "chatcmpl-004"}
    one = by_id["chatcmpl-001"]
    assert one["cost_nanos"] == 123_000  # "0.00012300000000000001" rounded at the nano, never a float
    assert one["ts"] == datetime(2025, 10, 1, 9, 0, 1, 120000, tzinfo=UTC)  # naive = UTC (Prisma)
    assert (one["input_tokens"], one["output_tokens"], one["cached_tokens"]) == (300, 30, 0)
    assert one["environment"] == "production" and one["ip"] == "10.0.0.5" and one["fingerprint"] == ""
    assert by_id["chatcmpl-002"]["cost_nanos"] == 75_000  # 7.5e-05
    assert by_id["chatcmpl-002"]["fingerprint"] == "cache:a1b2c3d4e5"
    failed = by_id["chatcmpl-003"]
    assert (failed["status"], failed["cost_nanos"]) == (429, 0)
    assert failed["fingerprint"].startswith("messages:")
    assert by_id["chatcmpl-004"]["cost_nanos"] == 3_500_000  # no spend: priced, $0.0025 + $0.001


def test_litellm_spendlogs_json_fingerprint_ignores_key_order() -> None:
    _, rows = _rows("litellm", "litellm_spendlogs.json")
    a, b = rows
    assert a["cost_nanos"] == b["cost_nanos"] == 2_500_000
    assert a["fingerprint"] == b["fingerprint"] != ""
    assert a["environment"] == "development"


def test_contract_csv() -> None:
    batch, rows = _rows("contract", "contract_usage.csv")
    assert batch.rows_read == 6
    assert [(u.model, u.rows) for u in batch.unknown] == [("unpriced-model", 1)]
    assert [r["cost_nanos"] for r in rows] == [4_500_000, 4_625_000, 0, 21_000, 21_000]
    assert [r["request_id"] for r in rows[:3]] == ["req_1", "req_2", "req_3"]
    # two identical id-less rows stay two rows, with ids that are stable across imports
    assert rows[3]["request_id"] != rows[4]["request_id"]
    again = read_files("contract", [FIX / "contract_usage.csv"]).usage.column("request_id").to_pylist()
    assert again == [r["request_id"] for r in rows]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".json"])
def test_contract_other_formats_match_csv(tmp_path: Path, suffix: str) -> None:
    _, expected = _rows("contract", "contract_usage.csv")
    source = _contract_records()
    path = tmp_path / f"usage{suffix}"
    if suffix == ".parquet":
        pq.write_table(
            pa.table(
                {
                    **{
                        k: [r.get(k) for r in source]
                        for k in ("request_id", "key_id", "model", "cost", "fingerprint", "ip")
                    },
                    "ts": pa.array(
                        [datetime.fromisoformat(r["ts"]) for r in source], pa.timestamp("us", tz="UTC")
                    ),
                    **{
                        k: pa.array([r[k] for r in source], pa.int64())
                        for k in ("input_tokens", "output_tokens", "cached_tokens", "requests", "status")
                    },
                }
            ),
            path,
        )
    elif suffix == ".json":
        path.write_text(json.dumps(source))
    else:
        path.write_text("\n".join(json.dumps(r) for r in source) + "\n")
    got = read_files("contract", [path]).usage.to_pylist()
    assert [{k: v for k, v in r.items() if k != "request_id"} for r in got] == [
        {k: v for k, v in r.items() if k != "request_id"} for r in expected
    ]


def _contract_records() -> list[dict[str, Any]]:
    out = []
    for line in (FIX / "contract_usage.csv").read_text().splitlines()[1:]:
        ts, rid, key, model, inp, outp, cached, req, status, cost, fp, ip = line.split(",")
        out.append(
            {
                "ts": ts.replace("Z", "+00:00"),
                "request_id": rid or None,
                "key_id": key,
                "model": model,
                "input_tokens": int(inp),
                "output_tokens": int(outp),
                "cached_tokens": int(cached),
                "requests": int(req),
                "status": int(status),
                "cost": cost or None,
                "fingerprint": fp,
                "ip": ip,
            }
        )
    return out


def test_contract_costs_agree_with_the_records_loader(tmp_path: Path) -> None:
    """The importer and usage-core's ``load_usage`` cost the same contract file identically."""
    path = tmp_path / "usage.csv"
    lines = (FIX / "contract_usage.csv").read_text().splitlines()
    path.write_text("\n".join(line for line in lines if "unpriced-model" not in line) + "\n")
    ours = read_files("contract", [path]).usage
    theirs = load_usage(None, path)
    assert sum(ours.column("cost_nanos").to_pylist()) == theirs.total_nanos
    assert ours.num_rows == theirs.rows


def test_json_numbers_are_exact_decimals(tmp_path: Path) -> None:
    path = tmp_path / "costs.json"
    value = "0.1000000000000000055511151231257827"  # what float(0.1) really is
    path.write_text(
        '{"object":"page","data":[{"object":"bucket","start_time":0,"end_time":86400,"results":['
        f'{{"object":"organization.costs.result","amount":{{"value":{value},"currency":"usd"}}}}]}}]}}'
    )
    [row] = read_files("openai-costs", [path]).costs.to_pylist()
    assert row["amount_nanos"] == 100_000_000
    assert Decimal(value) * 10**9 != row["amount_nanos"]  # the text was longer; only the nano remains


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("openai", "openai-usage"),
        ("OpenAI_Costs", "openai-costs"),
        ("csv", "contract"),
        ("anthropic-costs", "anthropic-cost"),
    ],
)
def test_format_aliases(name: str, canonical: str) -> None:
    assert resolve_format(name) == canonical


def test_unknown_format_lists_the_known_ones() -> None:
    with pytest.raises(InputError, match="openai-usage, openai-costs"):
        resolve_format("helicone")


def test_errors_name_the_file_and_json_path(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    doc = json.loads((FIX / "openai_usage_grouped.json").read_text())
    doc["data"][1]["results"][0]["output_tokens"] = -1
    path.write_text(json.dumps(doc))
    with pytest.raises(UsageFileError) as err:
        read_files("openai-usage", [path])
    assert err.value.field == f"{path} data[1].results[0].output_tokens"
    assert "negative (-1)" in str(err.value)


CLEAN = """ts,request_id,key_id,model,input_tokens,output_tokens,cached_tokens,requests,status,cost,fingerprint,ip
2026-09-03T10:00:00Z,req_1,key_prod,gpt-4o,1000,200,0,1,200,,fp1,203.0.113.7
2026-09-03T10:00:05Z,req_2,key_prod,gpt-4o,1000,200,500,1,200,0.004625,fp2,203.0.113.7
2026-09-03T10:00:06Z,req_3,key_prod,gpt-4o,1000,200,0,1,429,,fp3,203.0.113.7
2026-10-01T00:00:00+00:00,req_4,key_ci,gpt-4o-mini,100,10,0,3,200,,,
2026-10-01T00:00:00+00:00,req_5,key_ci,claude-3-5-sonnet-20241022,100,10,7,3,200,0.5,,
"""


def _clean_contract(tmp_path: Path) -> Path:
    path = tmp_path / "clean.csv"
    path.write_text(CLEAN)
    return path


def test_the_bulk_path_gives_the_row_by_row_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from quotadesk.usage.importers import contract

    path = _clean_contract(tmp_path)
    slow = read_files("contract", [path]).usage
    monkeypatch.setattr(contract, "FAST_MIN_BYTES", 0)
    assert contract.read_fast(path, DEFAULT_TABLE) is not None
    fast = read_files("contract", [path]).usage
    assert fast.equals(slow)
    assert slow.num_rows == 5


@pytest.mark.parametrize(
    "change",
    [
        lambda text: text.replace("req_1,", ",", 1),  # an id to derive
        lambda text: text.replace("gpt-4o-mini", "unpriced-model", 1),  # a model to report
        lambda text: text.replace("ts,request_id", "ts,environment", 1),  # an extra column to keep
        lambda text: text.replace(",1000,200,0,1,200,", ",1000,-200,0,1,200,", 1),  # an error to word
        lambda text: text.replace("2026-09-03T10:00:05Z", "2026-09-03T10:00:05", 1),  # a naive time
    ],
)
def test_the_bulk_path_steps_aside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: Any) -> None:
    from quotadesk.usage.importers import contract

    monkeypatch.setattr(contract, "FAST_MIN_BYTES", 0)
    path = _clean_contract(tmp_path)
    path.write_text(change(path.read_text()))
    assert contract.read_fast(path, DEFAULT_TABLE) is None
