"""What providers really export, imported by content: fixtures written from the providers'
published references and public examples (see ``fixtures/README.md``).

Costs are checked to the nano-dollar against the published prices in force on each row's
own day (the genai-prices snapshot), including batch and service tiers and cache writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from quotadesk.cli.usage import usage_app
from quotadesk.usage.importers import group_by_format, read_files
from quotadesk.usage.importers.detect import detect
from quotadesk.usage.log import UsageLog

FIX = Path(__file__).parent / "fixtures"
runner = CliRunner()
M = 1_000_000


def rows_of(fmt: str, name: str) -> dict[str, dict[str, Any]]:
    batch = read_files(fmt, [FIX / name])
    return {r["model"] + "|" + str(r["ts"].date()) + "|" + r["key_id"]: r for r in batch.usage.to_pylist()}


def import_json(log: Path, fmt: str, *files: Path) -> dict[str, Any]:
    args = ["import", fmt, *map(str, files), "--org", "acme", "--usage-dir", str(log), "--json"]
    result = runner.invoke(usage_app, args)
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("openai_usage_cookbook.json", "openai-usage"),
        ("openai_usage_ungrouped.json", "openai-usage"),
        ("openai_usage_reference.json", "openai-usage"),
        ("openai_completions_usage_2025-10-27.csv", "openai-usage"),
        ("openai_costs_grouped.json", "openai-costs"),
        ("openai_cost_2025-10-26_2025-10-27.csv", "openai-costs"),
        ("anthropic_usage.json", "anthropic-usage"),
        ("anthropic_usage_tiers.json", "anthropic-usage"),
        ("anthropic_analytics_usage.json", "anthropic-usage"),
        ("anthropic_console_usage.csv", "anthropic-usage"),
        ("anthropic_cost.json", "anthropic-cost"),
        ("anthropic_analytics_cost.json", "anthropic-cost"),
        ("openrouter_generation.json", "openrouter"),
        ("openrouter_completion.json", "openrouter"),
        ("openrouter_activity.csv", "openrouter"),
        ("openrouter_activity_api.json", "openrouter"),
        ("litellm_spendlogs.csv", "litellm"),
        ("litellm_spendlogs.json", "litellm"),
        ("litellm_spendlog_object.json", "litellm"),
        ("contract_usage.csv", "contract"),
    ],
)
def test_auto_detects_every_export_by_content(name: str, fmt: str, tmp_path: Path) -> None:
    assert detect(FIX / name).format == fmt
    renamed = tmp_path / "export.dat"  # the name never decides
    renamed.write_bytes((FIX / name).read_bytes())
    assert detect(renamed).format == fmt


def test_an_unknown_file_is_refused_with_what_was_looked_for(tmp_path: Path) -> None:
    odd = tmp_path / "odd.json"
    odd.write_text('{"hello": "world"}')
    result = runner.invoke(usage_app, ["import", "auto", str(odd), "--usage-dir", str(tmp_path / "log")])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {odd}: cannot tell which export this is; looked for:")
    assert "LiteLLM spend logs" in result.stderr and "OpenAI Costs API" in result.stderr
    assert not (tmp_path / "log").exists()


def test_auto_says_which_format_it_chose_and_importing_twice_adds_nothing(tmp_path: Path) -> None:
    files = [FIX / n for n in ("openai_usage_cookbook.json", "anthropic_usage_tiers.json", "openrouter_activity.csv")]
    log = tmp_path / "log"
    first = import_json(log, "auto", *files)
    assert [(Path(d["file"]).name, d["format"]) for d in first["detected"]] == [
        ("openai_usage_cookbook.json", "openai-usage"),
        ("anthropic_usage_tiers.json", "anthropic-usage"),
        ("openrouter_activity.csv", "openrouter"),
    ]
    assert (first["rows_added"], first["requests_added"]) == (5 + 4 + 2, 28 + 4 + 2)
    again = import_json(log, "auto", *files)
    assert (again["rows_added"], again["requests_added"], again["duplicates_skipped"]) == (0, 0, 11)
    text = runner.invoke(usage_app, ["import", "auto", str(files[0]), "--usage-dir", str(log)]).stdout
    assert "openai_usage_cookbook.json: openai-usage (OpenAI Usage API (a list of buckets" in text


# --- OpenAI -------------------------------------------------------------------------------------


def test_openai_cookbook_bucket_list_with_cache_writes_batch_and_flex() -> None:
    rows = rows_of("openai-usage", "openai_usage_cookbook.json")
    plain = rows["gpt-5-mini-2025-08-07|2026-11-02|key_prod"]
    # input 1,500 = 1,400 uncached + 100 cache writes (the writes are not dropped)
    assert (plain["input_tokens"], plain["cached_tokens"], plain["requests"]) == (1500, 0, 3)
    assert plain["cost_nanos"] == 1400 * 250 + 100 * 250 + 200 * 2000  # writes at the input price
    batch = rows["gpt-5-mini-2025-08-07|2026-11-02|key_batch"]
    assert batch["cost_nanos"] == M * 125 + M * 1000  # Batch: $0.125 / $1.00 per 1M
    flex = rows["gpt-5-mini|2026-11-02|key_prod"]
    assert flex["cost_nanos"] == M * 125 + M * 12_500 // 1000 + 100_000 * 1000  # flex tier prices


def test_openai_old_row_at_the_old_price_and_new_row_at_the_new_one() -> None:
    rows = rows_of("openai-usage", "openai_usage_cookbook.json")
    # o3 was $10 / $40 per 1M until OpenAI cut it to $2 / $8 on 2025-06-10
    assert rows["o3-2025-04-16|2025-05-01|key_prod"]["cost_nanos"] == 50_000_000_000
    assert rows["o3-2025-04-16|2025-07-01|key_prod"]["cost_nanos"] == 10_000_000_000


def test_openai_ungrouped_rows_are_kept_unpriced_never_dropped(tmp_path: Path) -> None:
    out = import_json(tmp_path / "log", "openai-usage", FIX / "openai_usage_ungrouped.json")
    assert (out["rows_added"], out["unpriced_added"], out["unpriced_requests_added"]) == (0, 2, 51)
    [unknown] = out["unknown_models"]
    assert unknown["model"] == "(none)" and unknown["reason"].startswith("not grouped by model")
    assert (unknown["input_tokens"], unknown["cached_tokens"], unknown["output_tokens"]) == (180_000, 20_000, 35_000)
    kept = UsageLog(tmp_path / "log").read_arrow("acme", dataset="unpriced")
    assert pc.sum(kept.column("requests")).as_py() == 51
    again = import_json(tmp_path / "log", "openai-usage", FIX / "openai_usage_ungrouped.json")
    assert again["unpriced_added"] == 0


def test_openai_dashboard_csv_downloads() -> None:
    rows = rows_of("openai-usage", "openai_completions_usage_2025-10-27.csv")
    r = rows["gpt-4o-2024-08-06|2025-10-27|key_3QRCYbJRFQ0G4ycm"]
    assert (r["input_tokens"], r["cached_tokens"], r["output_tokens"], r["requests"]) == (5882, 1280, 1000, 3)
    assert r["cost_nanos"] == 5882 * 2500 + 1280 * 1250 + 1000 * 10_000
    costs = read_files("openai-costs", [FIX / "openai_cost_2025-10-26_2025-10-27.csv"])
    assert costs.empty == 1  # the day without an amount
    assert sorted(costs.costs.column("amount_nanos").to_pylist()) == [980_400, 26_305_000]
    assert costs.costs.column("model").to_pylist()[0] == "gpt-4o-2024-08-06"


def test_openai_json_and_csv_read_tokens_the_same_way(tmp_path: Path) -> None:
    doc = {"object": "page", "data": [{"object": "bucket", "start_time": 1761523440, "end_time": 1761523500,
           "results": [{"object": "organization.usage.completions.result", "input_tokens": 7162,
                        "input_cached_tokens": 1280, "input_uncached_tokens": 5882, "output_tokens": 1000,
                        "num_model_requests": 3, "model": "gpt-4o-2024-08-06",
                        "api_key_id": "key_3QRCYbJRFQ0G4ycm", "project_id": "proj_abc", "batch": False,
                        "service_tier": "default", "user_id": None}]}]}  # fmt: skip
    page = tmp_path / "page.json"
    page.write_text(json.dumps(doc))
    [from_json] = read_files("openai-usage", [page]).usage.to_pylist()
    from_csv = rows_of("openai-usage", "openai_completions_usage_2025-10-27.csv")[
        "gpt-4o-2024-08-06|2025-10-27|key_3QRCYbJRFQ0G4ycm"
    ]
    for key in ("input_tokens", "cached_tokens", "output_tokens", "requests", "cost_nanos"):
        assert from_json[key] == from_csv[key], key


# --- Anthropic ----------------------------------------------------------------------------------


def test_anthropic_batch_tier_and_both_cache_write_lifetimes() -> None:
    rows = read_files("anthropic-usage", [FIX / "anthropic_usage_tiers.json"]).usage.to_pylist()
    by = {r["cost_nanos"]: r for r in rows}
    # Opus 4.5 standard: $5 in, $0.50 cache read, $6.25 5-minute write, $10 1-hour write, $25 out
    assert 46_750_000_000 in by
    # the same tokens on the Batch API: every rate halved
    assert 23_375_000_000 in by
    # Opus 4.1 still at $15 / $75; Haiku 4.5 at $1 / $5
    assert {90_000_000_000, 6_000_000_000} <= set(by)
    opus = by[46_750_000_000]
    assert opus["input_tokens"] == 3 * M and opus["cached_tokens"] == M  # uncached + both writes


def test_anthropic_analytics_usage_and_cost_endpoints() -> None:
    batch = read_files("anthropic-usage", [FIX / "anthropic_analytics_usage.json"])
    [row] = batch.usage.to_pylist()
    assert (row["requests"], row["input_tokens"], row["cached_tokens"]) == (250, 600_000, 200_000)
    assert row["cost_nanos"] == 500_000 * 1000 + 100_000 * 1250 + 200_000 * 100 + 100_000 * 5000
    [kept] = batch.unknown
    assert (kept.model, kept.requests) == ("", 12) and kept.reason.startswith("not grouped by model")
    costs = read_files("anthropic-cost", [FIX / "anthropic_analytics_cost.json"]).costs.to_pylist()
    assert [c["amount_nanos"] for c in costs] == [1_145_000_000, 120_000_000]  # cents → dollars
    assert costs[1]["cost_type"] == "web_search"


def test_anthropic_console_csv_download() -> None:
    haiku, opus = read_files("anthropic-usage", [FIX / "anthropic_console_usage.csv"]).usage.to_pylist()
    assert haiku["cost_nanos"] == 622 * 1000 + 423 * 5000
    assert (opus["input_tokens"], opus["cached_tokens"]) == (6000, 4000)  # uncached + both writes; reads
    assert opus["cost_nanos"] == 1000 * 5000 + 2000 * 6250 + 3000 * 10_000 + 4000 * 500 + 500 * 25_000


# --- OpenRouter and LiteLLM ---------------------------------------------------------------------


def test_openrouter_generation_completion_and_activity_exports() -> None:
    gen = read_files("openrouter", [FIX / "openrouter_generation.json"]).usage.to_pylist()
    assert [(g["request_id"], g["input_tokens"], g["output_tokens"], g["cost_nanos"]) for g in gen] == [
        ("gen-1771967930-1gsys6ZhRaY0TPbuRsDR", 64, 98, 39_400)  # native tokens, total_cost
    ]
    [comp] = read_files("openrouter", [FIX / "openrouter_completion.json"]).usage.to_pylist()
    assert (comp["model"], comp["input_tokens"], comp["cost_nanos"]) == ("openai/gpt-4o", 194, 505_000)
    act = read_files("openrouter", [FIX / "openrouter_activity.csv"])
    first, second = act.usage.to_pylist()
    assert (first["input_tokens"], first["cached_tokens"], first["cost_nanos"]) == (4820 - 2048, 2048, 2_130_000)
    assert str(first["ts"]) == "2026-11-02 18:54:30.040000+00:00"
    assert second["cost_nanos"] == 173_400
    assert any("BYOK" in n for n in act.notes)
    [day] = read_files("openrouter", [FIX / "openrouter_activity_api.json"]).usage.to_pylist()
    assert (day["requests"], day["cost_nanos"], day["model"]) == (5, 15_000_000, "openai/gpt-4.1-2025-04-14")


def test_litellm_single_object_with_cached_tokens_from_the_usage_object() -> None:
    batch = read_files("litellm", [FIX / "litellm_spendlog_object.json"])
    [row] = batch.usage.to_pylist()
    assert (row["input_tokens"], row["cached_tokens"], row["output_tokens"]) == (200, 1000, 300)
    assert row["cost_nanos"] == 200 * 150 + 1000 * 75 + 300 * 600  # gpt-4o-mini, spend not given
    assert row["environment"] == "production"


def test_group_by_format_keeps_the_files_order() -> None:
    groups = group_by_format([FIX / "litellm_spendlogs.csv", FIX / "openrouter_activity.csv", FIX / "litellm_spendlogs.json"])
    assert [(f, [p.name for p in paths]) for f, paths, _ in groups] == [
        ("litellm", ["litellm_spendlogs.csv", "litellm_spendlogs.json"]),
        ("openrouter", ["openrouter_activity.csv"]),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"object": "bucket", "start_time": 1, "end_time": 0, "results": []}]', "data[0].end_time: not after"),
        ('{"data": {"id": "gen-1", "created_at": "2026-11-02T00:00:00Z", "total_cost": "x"}}', "total_cost: not a decimal"),
        ('{"request_id": "r1",\n "startTime": "2026-11-02T00:00:00",\n "metadata": {"usage_object": {"prompt_tokens_details": {"cached_tokens": 9}}},\n "prompt_tokens": 5}', "cached tokens exceed prompt_tokens"),
    ],
)  # fmt: skip
def test_malformed_real_exports_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    result = runner.invoke(usage_app, ["import", "auto", str(bad), "--usage-dir", str(tmp_path / "log")])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stdout == ""
    assert not (tmp_path / "log").exists()


def test_explain_says_how_much_of_the_period_is_unpriced(tmp_path: Path) -> None:
    log = tmp_path / "log"
    import_json(log, "auto", FIX / "openai_usage_ungrouped.json", FIX / "openai_usage_cookbook.json")
    args = ["explain", "--org", "acme", "--period", "2026-11", "--usage-dir", str(log), "--json"]
    result = runner.invoke(usage_app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["unpriced"] == {"rows": 2, "requests": 51, "input_tokens": 180_000, "output_tokens": 35_000}
    assert any("51 requests" in n for n in out["notes"])
