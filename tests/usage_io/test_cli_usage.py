"""``quotadesk usage import|explain`` through Typer's runner: idempotent imports, refusals, reports."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from quotadesk.cli.usage import usage_app
from quotadesk.usage.findings import RootCause
from quotadesk.usage.log import UsageLog

from .synth import KEYS, make_rows, write_jsonl
from .test_log import snapshot

FIX = Path(__file__).parent / "fixtures"
MONEY = re.compile(r"^-?\d+\.\d{2,9}$")
runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(usage_app, [str(a) for a in args])


def import_json(log: Path, fmt: str, *files: Path, org: str = "acme") -> dict[str, Any]:
    result = invoke("import", fmt, *files, "--org", org, "--usage-dir", log, "--json")
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


@pytest.mark.parametrize(
    ("fmt", "files", "added", "unknown"),
    [
        (
            "openai-usage",
            ["openai_usage_reference.json", "openai_usage_grouped.json"],
            3,
            {"(none)": 1, "gpt-9-ultra": 1},
        ),
        ("openai-costs", ["openai_costs_reference.json", "openai_costs_grouped.json"], 6, {}),
        ("anthropic-usage", ["anthropic_usage.json"], 2, {}),
        ("anthropic-cost", ["anthropic_cost.json"], 4, {}),
        ("litellm", ["litellm_spendlogs.csv", "litellm_spendlogs.json"], 6, {"my-finetune-x": 1}),
        ("contract", ["contract_usage.csv"], 5, {"unpriced-model": 1}),
    ],
)
def test_import_each_format_twice(
    tmp_path: Path, fmt: str, files: list[str], added: int, unknown: dict[str, int]
) -> None:
    log = tmp_path / "log"
    paths = [FIX / f for f in files]
    first = import_json(log, fmt, *paths)
    assert (first["rows_added"], first["duplicates_skipped"]) == (added, 0)
    assert {u["model"]: u["rows"] for u in first["unknown_models"]} == unknown
    before = snapshot(log)
    second = import_json(log, fmt, *paths)
    assert (second["rows_added"], second["duplicates_skipped"]) == (0, added)
    assert snapshot(log) == before
    dataset = "costs" if fmt.endswith(("costs", "cost")) else "usage"
    assert UsageLog(log).count("acme", dataset) == added


def test_import_human_output_lists_unknown_models(tmp_path: Path) -> None:
    result = invoke(
        "import", "litellm", FIX / "litellm_spendlogs.csv", "--org", "acme", "--usage-dir", tmp_path
    )
    assert result.exit_code == 0, result.output
    assert "5 rows read, 4 added, 0 skipped as duplicates" in result.stdout
    assert "my-finetune-x (no price): 1 rows, 1 requests" in result.stdout
    assert "litellm_spendlogs.csv line 6" in result.stdout


def test_cost_import_reconciles_against_the_log(tmp_path: Path) -> None:
    import_json(tmp_path, "openai-usage", FIX / "openai_usage_grouped.json")
    out = import_json(tmp_path, "openai-costs", FIX / "openai_costs_grouped.json")
    [rec] = out["reconciliation"]
    # usage log: day 1 $5.75 + $0.0675, day 2 $4.625; reported: $8.1475 + $4.625
    assert (rec["usage"], rec["reported"], rec["difference"]) == ("10.4425", "12.7725", "2.33")
    assert rec["start"].startswith("2025-10-01") and rec["end"].startswith("2025-10-03")


BAD_CSV_HEADER = "ts,request_id,key_id,model,input_tokens,output_tokens,cached_tokens,requests,status,cost,fingerprint,ip\n"


def _openai_usage(mutate: Any) -> str:
    doc = json.loads((FIX / "openai_usage_grouped.json").read_text())
    mutate(doc)
    return json.dumps(doc)


def _set(path: list[Any], value: Any) -> Any:
    def mutate(doc: Any) -> None:
        for step in path[:-1]:
            doc = doc[step]
        if value is KeyError:
            del doc[path[-1]]
        else:
            doc[path[-1]] = value

    return mutate


BAD_INPUTS = [
    (
        "openai-usage",
        "u.json",
        _openai_usage(_set(["data", 0, "results", 0, "input_tokens"], -5)),
        "u.json data[0].results[0].input_tokens: negative (-5)",
    ),
    (
        "openai-usage",
        "u.json",
        _openai_usage(_set(["data", 0, "results", 0, "input_cached_tokens"], 2_000_000)),
        "data[0].results[0].input_cached_tokens: larger than input_tokens",
    ),
    (
        "openai-usage",
        "u.json",
        _openai_usage(_set(["data", 1, "start_time"], KeyError)),
        "data[1].start_time: missing",
    ),
    (
        "openai-usage",
        "u.json",
        _openai_usage(_set(["data", 0, "results", 1, "num_model_requests"], "many")),
        "data[0].results[1].num_model_requests: not an integer",
    ),
    ("openai-usage", "u.json", '{"object": "page", "data": [', "u.json line 1: not valid JSON"),
    (
        "openai-usage",
        "u.json",
        (FIX / "openai_costs_grouped.json").read_text(),
        "import this file with format openai-costs",
    ),
    (
        "openai-costs",
        "c.json",
        (FIX / "openai_costs_reference.json").read_text().replace('"usd"', '"eur"'),
        "data[0].results[0].amount.currency: only usd",
    ),
    (
        "openai-costs",
        "c.json",
        (FIX / "openai_costs_reference.json").read_text().replace("0.06", '"six cents"'),
        "data[0].results[0].amount.value: not a decimal amount",
    ),
    (
        "anthropic-usage",
        "a.json",
        (FIX / "anthropic_usage.json")
        .read_text()
        .replace('"cache_creation_1h_input_tokens": 0', '"cache_creation_1h_input_tokens": -3'),
        "data[0].results[1].cache_creation_1h_input_tokens: negative (-3)",
    ),
    (
        "anthropic-usage",
        "a.json",
        (FIX / "anthropic_usage.json")
        .read_text()
        .replace(
            '"api_key_id": "apikey_dev",',
            '"api_key_id": "apikey_dev", "cache_creation": {"ephemeral_5m_input_tokens": 7},',
        ),
        "data[0].results[1].cache_creation_5m_input_tokens: disagrees",
    ),
    (
        "anthropic-usage",
        "a.json",
        (FIX / "anthropic_usage.json")
        .read_text()
        .replace('"2025-10-02T00:00:00Z",\n      "results"', '"2025-10-02T00:00:00",\n      "results"'),
        "data[0].ending_at: timestamp has no UTC offset",
    ),
    (
        "anthropic-cost",
        "ac.json",
        (FIX / "anthropic_cost.json").read_text().replace('"amount": "600"', '"amount": null'),
        "data[0].results[1].amount: missing",
    ),
    (
        "anthropic-cost",
        "ac.json",
        (FIX / "anthropic_cost.json").read_text().replace('"amount": "600"', '"amount": "6,00"'),
        "data[0].results[1].amount: not a decimal amount",
    ),
    (
        "litellm",
        "s.csv",
        (FIX / "litellm_spendlogs.csv").read_text().replace("7.5e-05", "seven"),
        "s.csv line 3 spend: not a decimal amount",
    ),
    (
        "litellm",
        "s.csv",
        (FIX / "litellm_spendlogs.csv").read_text().replace("chatcmpl-004,", ","),
        "s.csv line 5 request_id: missing",
    ),
    (
        "litellm",
        "s.csv",
        (FIX / "litellm_spendlogs.csv").read_text().replace(",1100,1000,100,", ",1100,-1000,100,"),
        "s.csv line 5 prompt_tokens: negative (-1000)",
    ),
    (
        "litellm",
        "s.json",
        (FIX / "litellm_spendlogs.json")
        .read_text()
        .replace('"status": "success"}\n]', '"status": "maybe"}\n]'),
        "s.json [1].status: expected success or failure",
    ),
    (
        "contract",
        "u.csv",
        BAD_CSV_HEADER + "2026-10-01T00:00:00,r1,k,gpt-4o,1,1,0,1,200,,,\n",
        "u.csv line 2 ts: timestamp has no UTC offset",
    ),
    (
        "contract",
        "u.csv",
        BAD_CSV_HEADER
        + "2026-10-01T00:00:00Z,r1,k,gpt-4o,1,1,0,1,200,,,\n2026-10-01T00:00:00Z,r2,k,gpt-4o,1,-1,0,1,200,,,\n",
        "u.csv line 3 output_tokens: negative (-1)",
    ),
    (
        "contract",
        "u.csv",
        "ts,request_id\n2026-10-01T00:00:00Z,r1\n",
        "u.csv line 1: missing required column 'model'",
    ),
    (
        "contract",
        "u.csv",
        BAD_CSV_HEADER + "2026-10-01T00:00:00Z,r1,k,gpt-4o,1,1\n",
        "u.csv line 2: expected 12 fields",
    ),
    (
        "contract",
        "u.jsonl",
        '{"ts": "2026-10-01T00:00:00Z", "model": "gpt-4o"}\n\n{"ts": "2026-10-01T00:00:01Z", "model": "gpt-4o"\n',
        "u.jsonl line 3: not valid JSON",
    ),
    (
        "contract",
        "u.jsonl",
        '{"ts": "2026-10-01T00:00:00Z", "model": "gpt-4o", "cost": "0.0000000001"}\n',
        "u.jsonl line 1 cost: finer than a nano-dollar",
    ),
    (
        "contract",
        "u.jsonl",
        '{"ts": "2026-10-01T00:00:00Z", "model": "gpt-4o", "status": 42}\n',
        "u.jsonl line 1 status: not an HTTP status",
    ),
    (
        "contract",
        "u.jsonl",
        '{"ts": "2026-10-01T00:00:00Z", "model": "gpt-4o", "requests": 0}\n',
        "u.jsonl line 1 requests: must be at least 1",
    ),
    ("contract", "u.txt", "hello\n", "u.txt: unsupported file type '.txt'"),
    ("contract", "u.parquet", "PAR1 not really parquet", "u.parquet: not a Parquet file"),
    ("helicone", "u.csv", "x\n", "FORMAT: unknown format 'helicone'"),
]


@pytest.mark.parametrize(
    ("fmt", "name", "content", "message"), BAD_INPUTS, ids=[f"{b[0]}:{b[3][:40]}" for b in BAD_INPUTS]
)
def test_bad_input_exits_2_naming_the_field_and_leaves_the_log_unchanged(
    tmp_path: Path, fmt: str, name: str, content: str, message: str
) -> None:
    log = tmp_path / "log"
    import_json(log, "contract", FIX / "contract_usage.csv")  # a log with something in it already
    import_json(log, "openai-costs", FIX / "openai_costs_grouped.json")
    before = snapshot(log)
    bad = tmp_path / name
    bad.write_text(content)
    # the good file first: everything is read before anything is written
    good = FIX / ("contract_usage.csv" if fmt == "contract" else "anthropic_usage.json")
    files = [good, bad] if fmt in ("contract", "anthropic-usage") else [bad]
    result = invoke("import", fmt, *files, "--org", "acme", "--usage-dir", log)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert message in result.stderr.replace(str(tmp_path) + "/", "")
    assert snapshot(log) == before


def test_missing_file_and_bad_org(tmp_path: Path) -> None:
    result = invoke("import", "contract", tmp_path / "nope.csv", "--usage-dir", tmp_path)
    assert result.exit_code == 2 and "nope.csv: file not found" in result.stderr
    result = invoke(
        "import", "contract", FIX / "contract_usage.csv", "--org", "../x", "--usage-dir", tmp_path
    )
    assert result.exit_code == 2 and "org: not a valid org id" in result.stderr
    assert list(tmp_path.iterdir()) == []


# --- explain ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synth_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("synth") / "usage.jsonl", make_rows())


def _check_report(out: dict[str, Any], period: str, against: str) -> None:
    assert (out["period"], out["against"]) == (period, against)
    for field in ("total", "previous_total", "change"):
        assert MONEY.match(out[field]), out[field]
    d = out["decomposition"]
    parts = Decimal(d["volume"]) + Decimal(d["tokens_per_request"]) + Decimal(d["price_mix"])
    assert parts == Decimal(d["change"]) == Decimal(out["total"]) - Decimal(out["previous_total"])
    assert Decimal(d["after"]) == Decimal(out["total"])
    assert out["findings"], "the synthetic log has anomalies"
    causes = {c.value for c in RootCause}
    for f in out["findings"]:
        assert f["root_cause"] in causes
        assert MONEY.match(f["impact"]) and Decimal(f["impact"]) > 0
        assert f["window"]["start"] < f["window"]["end"]
        assert f["evidence"] and all(set(e) == {"fact", "source"} for e in f["evidence"])
    assert len(out["daily"]) == 31


def test_explain_files_without_books(synth_file: Path) -> None:
    result = invoke("explain", synth_file, "--period", "2026-10", "--against", "2026-09", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    _check_report(out, "2026-10", "2026-09")
    assert out["files"] == [str(synth_file)] and out["unknown_models"] == []


def test_explain_stored_log_matches_files(tmp_path: Path, synth_file: Path) -> None:
    import_json(tmp_path, "contract", synth_file)
    stored = invoke("explain", "--org", "acme", "--usage-dir", tmp_path, "--period", "2026-10", "--json")
    assert stored.exit_code == 0, stored.output
    files = invoke("explain", synth_file, "--period", "2026-10", "--json")
    a, b = json.loads(stored.stdout), json.loads(files.stdout)
    _check_report(a, "2026-10", "2026-09")
    for field in ("total", "previous_total", "decomposition", "daily"):
        assert a[field] == b[field]
    assert [(f["root_cause"], f["impact"]) for f in a["findings"]] == [
        (f["root_cause"], f["impact"]) for f in b["findings"]
    ]


def test_explain_readable_report(tmp_path: Path, synth_file: Path) -> None:
    import_json(tmp_path, "contract", synth_file)
    result = invoke(
        "explain", "--org", "acme", "--usage-dir", tmp_path, "--period", "2026-10", "--against", "2026-09"
    )
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("Usage 2026-10 against 2026-09")
    assert "Why it changed" in text and "price mix" in text and "tokens per request" in text
    assert "Findings (" in text and "Daily spend 2026-10" in text
    assert re.search(r"2026-10-25 █+", text)  # the runaway loop's day has the longest bar
    longest = max(text.splitlines(), key=lambda line: line.count("█"))
    assert longest.lstrip().startswith("2026-10-25")


def test_explain_a_span_and_as_of(synth_file: Path) -> None:
    result = invoke(
        "explain",
        synth_file,
        "--period",
        "2026-10-01..2026-10-10",
        "--as-of",
        "2026-10-05T00:00:00Z",
        "--json",
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["against"] == "2026-09-21..2026-09-30"
    assert out["as_of"] == "2026-10-05T00:00:00Z"
    assert out["daily"][-1]["day"] == "2026-10-05"


def test_explain_keys_come_from_the_log(tmp_path: Path) -> None:
    import_json(tmp_path, "litellm", FIX / "litellm_spendlogs.json")
    assert UsageLog(tmp_path).keys("acme") == [
        {"id": "88dc28d0f0", "name": "88dc28d0f0", "environment": "development"}
    ]
    assert KEYS[0]["environment"] == "production"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026-10"], "--org: give --org ORG"),
        (["--org", "nobody", "--period", "2026-10"], "--org: no usage for org 'nobody'"),
        (["--org", "acme"], "--period: give the period"),
        (["--org", "acme", "--period", "October"], "period: expected YYYY-MM"),
        (
            [str(FIX / "anthropic_cost.json"), "--format", "anthropic-cost", "--period", "2025-10"],
            "--format: anthropic-cost is a cost report",
        ),
        (
            [str(FIX / "contract_usage.csv"), "--org", "acme", "--period", "2026-10"],
            "--org: give FILE… or --org, not both",
        ),
        (["--org", "acme", "--period", "2026-10", "--as-of", "2026-10-05"], "--as-of: give a timezone"),
        (
            ["--org", "acme", "--period", "2026-10", "--min-impact", "-1"],
            "--min-impact: must not be negative",
        ),
    ],
)
def test_explain_refusals(tmp_path: Path, args: list[str], message: str) -> None:
    import_json(tmp_path, "contract", FIX / "contract_usage.csv")
    result = invoke("explain", *args, "--usage-dir", tmp_path)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stdout == ""


def test_reported_costs_reach_the_discrepancy_detector(tmp_path: Path) -> None:
    """OpenAI reported $12.7725 for 1–2 October 2025; the usage log costs $10.4425: a $2.33 gap."""
    import_json(tmp_path, "openai-usage", FIX / "openai_usage_grouped.json")
    import_json(tmp_path, "openai-costs", FIX / "openai_costs_grouped.json")
    result = invoke("explain", "--org", "acme", "--usage-dir", tmp_path, "--period", "2025-10", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    [rec] = out["reconciliation"]
    assert (rec["reported"], rec["usage"], rec["difference"]) == ("12.7725", "10.4425", "2.33")
    [gap] = [f for f in out["findings"] if f["root_cause"] == "billing_discrepancy"]
    assert gap["impact"] == "2.33"
    assert out["total"] == "10.4425"


def test_keys_and_invoices_from_the_books(tmp_path: Path, synth_file: Path) -> None:
    from datetime import UTC, datetime

    from quotadesk.store.access import SYSTEM
    from quotadesk.store.books import Books

    url = f"sqlite:///{tmp_path}/books.db"
    books = Books.open(url)
    books.create_org(SYSTEM, datetime(2026, 7, 1, tzinfo=UTC), org_id="acme")
    books.close()
    import_json(tmp_path / "log", "contract", synth_file)
    ok = invoke(
        "explain",
        "--org",
        "acme",
        "--usage-dir",
        tmp_path / "log",
        "--period",
        "2026-10",
        "--db",
        url,
        "--json",
    )
    assert ok.exit_code == 0, ok.output
    _check_report(json.loads(ok.stdout), "2026-10", "2026-09")
    args = ["explain", "--org", "acme", "--usage-dir", tmp_path / "log", "--period", "2026-10", "--db"]
    missing = invoke(*args, f"sqlite:///{tmp_path}/missing.db")
    assert missing.exit_code == 2 and "--db: no books at" in missing.stderr
    assert not (tmp_path / "missing.db").exists()
    (tmp_path / "empty.db").write_bytes(b"")
    empty = invoke(*args, f"sqlite:///{tmp_path}/empty.db")
    assert empty.exit_code == 2 and "--db: cannot read the books" in empty.stderr


def test_prices_file_prices_an_unknown_model(tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"unpriced-model": {"input_per_mtok": "1.00", "output_per_mtok": "2.00"}}))
    result = invoke(
        "import",
        "contract",
        FIX / "contract_usage.csv",
        "--usage-dir",
        tmp_path / "log",
        "--prices",
        prices,
        "--json",
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["rows_added"], out["unknown_models"]) == (6, [])
    costs = UsageLog(tmp_path / "log").read_arrow("default").column("cost_nanos").to_pylist()
    assert 30_000 in costs  # 10 input × $1 + 10 output × $2 per 1M tokens
    prices.write_text(json.dumps({"m": {"input_per_mtok": 1.5, "output_per_mtok": "2"}}))
    bad = invoke(
        "import", "contract", FIX / "contract_usage.csv", "--usage-dir", tmp_path / "log2", "--prices", prices
    )
    assert bad.exit_code == 2 and "--prices" in bad.stderr and "input_per_mtok" in bad.stderr
    assert not (tmp_path / "log2").exists()
