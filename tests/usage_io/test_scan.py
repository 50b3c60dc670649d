"""``quotadesk usage scan`` and ``quotadesk.usage.scan``: every org of the log through the detectors.

The log holds ``acme`` (the synthetic log with a model swap, a dev key in production, a
retry storm and a runaway loop), ``calm`` (the same production traffic with none of it)
and ``billed`` (an OpenAI export whose reported costs disagree with the usage).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from quotadesk.cli.scan import scan_command
from quotadesk.cli.usage import usage_app
from quotadesk.usage.explanation import usd
from quotadesk.usage.findings import RootCause
from quotadesk.usage.log import UsageLog
from quotadesk.usage.scan import OrgScan, ranked, scan

from .synth import LOOP, STORM, SWAP, make_rows, write_jsonl
from .test_log import snapshot

FIX = Path(__file__).parent / "fixtures"
OCTOBER_END = datetime(2026, 10, 31, 23, 59, 59, 999999, tzinfo=UTC)
ALERTS = {"model_swap", "dev_key_in_production", "retry_storm", "runaway_loop"}
runner = CliRunner()
assert scan_command is not None  # importing cli_scan registers ``usage scan``


def invoke(*args: Any) -> Any:
    return runner.invoke(usage_app, [str(a) for a in args])


def _import(root: Path, fmt: str, org: str, *files: Path) -> None:
    result = invoke("import", fmt, *files, "--org", org, "--usage-dir", root, "--json")
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("scan")
    rows = make_rows()
    steady = [r for r in make_rows(seed=8) if r["key_id"] == "key_prod" and r["ts"] < SWAP.isoformat()[:10]]
    root = base / "log"
    _import(root, "contract", "acme", write_jsonl(base / "acme.jsonl", rows))
    _import(root, "contract", "calm", write_jsonl(base / "calm.jsonl", steady))
    _import(root, "openai-usage", "billed", FIX / "openai_usage_grouped.json")
    _import(root, "openai-costs", "billed", FIX / "openai_costs_grouped.json")
    return root


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _causes(result: OrgScan) -> set[str]:
    return {f.root_cause.value for f in result.findings}


def test_each_org_gets_the_findings_explain_gives_it(log_dir: Path) -> None:
    acme, calm = scan(log_dir, as_of=OCTOBER_END, orgs=["acme", "calm"])
    assert (acme.org, calm.org) == ("acme", "calm") and not acme.error and not calm.error
    assert _causes(acme) >= ALERTS
    assert not _causes(calm) & ALERTS
    assert acme.rows == len(make_rows())
    explained = invoke("explain", "--org", "acme", "--usage-dir", log_dir, "--period", "2026-10", "--json")
    assert explained.exit_code == 0, explained.output
    out = json.loads(explained.stdout)
    assert [(f["root_cause"], f["impact"], f["window"]) for f in out["findings"]] == [
        (f.root_cause.value, usd(f.impact_nanos), {"start": _iso(f.window.start), "end": _iso(f.window.end)})
        for f in acme.findings
    ]


def test_worker_processes_give_the_same_result_as_one_process(log_dir: Path) -> None:
    one = scan(log_dir, as_of=OCTOBER_END, jobs=1)
    two = scan(log_dir, as_of=OCTOBER_END, jobs=2)
    assert [r.org for r in one] == ["acme", "billed", "calm"]
    assert one == two


def test_nothing_after_as_of_is_read(log_dir: Path) -> None:
    [before_storm] = scan(log_dir, as_of=STORM - timedelta(hours=1), orgs=["acme"])
    # the swap and the dev key had begun; the dev key's first office days are not loops
    assert _causes(before_storm) == {"model_swap", "dev_key_in_production"}
    [after_loop] = scan(log_dir, as_of=LOOP + timedelta(days=1), orgs=["acme"])
    assert {"retry_storm", "runaway_loop"} <= _causes(after_loop)
    assert before_storm.rows < after_loop.rows


def test_reported_costs_become_invoices(log_dir: Path) -> None:
    """The OpenAI export reported $12.7725 for 1–2 October 2025 against $10.4425 of usage."""
    [billed] = scan(log_dir, as_of=datetime(2025, 10, 31, tzinfo=UTC), orgs=["billed"])
    [gap] = [f for f in billed.findings if f.root_cause is RootCause.BILLING_DISCREPANCY]
    assert gap.impact_nanos == 2_330_000_000


def test_alerts_rank_before_the_rest() -> None:
    from quotadesk.usage.findings import Finding, Window

    w = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))
    big = Finding(RootCause.EXPENSIVE_MODEL, w, 10_000_000_000_000, 0.7, "a premium model all month")
    small = Finding(RootCause.RETRY_STORM, w, 5_000_000_000, 0.6, "a burst of retries")
    mid = Finding(RootCause.MODEL_SWAP, w, 50_000_000_000, 0.9, "a swap")
    results = [OrgScan("a", 10, 0, (big,)), OrgScan("b", 10, 0, (small, mid))]
    assert [(org, f.root_cause.value) for org, f in ranked(results)] == [
        ("b", "model_swap"),
        ("b", "retry_storm"),
        ("a", "expensive_model"),
    ]


def test_cli_json_ranks_every_org_finding(log_dir: Path) -> None:
    result = invoke("scan", "--usage-dir", log_dir, "--as-of", "2026-10-31T23:59:59Z", "--jobs", "1", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["orgs"], out["as_of"], out["errors"]) == (3, "2026-10-31T23:59:59Z", [])
    assert out["rows"] == sum(p["rows"] for p in out["per_org"])
    assert Decimal(out["total"]) == sum(Decimal(p["total"]) for p in out["per_org"])
    orgs = [f["org"] for f in out["findings"]]
    assert set(orgs) <= {"acme", "calm"} and "acme" in orgs
    alerts = [f["root_cause"] in ALERTS for f in out["findings"]]
    assert alerts == sorted(alerts, reverse=True), "alerts come first"
    for f in out["findings"]:
        assert f["evidence"] and Decimal(f["impact"]) > 0 and f["window"]["start"] < f["window"]["end"]


def test_cli_text_view_folds_twin_findings(log_dir: Path) -> None:
    result = invoke("scan", "--usage-dir", log_dir, "--org", "acme", "--as-of", "2026-10-31T23:59:59Z")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith(f"Usage scan of {log_dir} as of 2026-10-31T23:59:59Z: 1 organizations")
    lines = [line for line in text.splitlines() if line.startswith("  acme")]
    assert {line.split()[1] for line in lines} >= ALERTS
    assert len({line.split()[1] for line in lines}) == len(lines), "one line per cause"
    assert "(also read as code_bug)" in text  # the retry storm's refund reading, not a second line


def test_an_org_named_twice_is_scanned_once(log_dir: Path) -> None:
    result = invoke("scan", "--usage-dir", log_dir, "--org", "calm", "--org", "calm", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["orgs"] == 1 and [p["org"] for p in out["per_org"]] == ["calm"]


def test_min_impact_hides_small_findings(log_dir: Path) -> None:
    result = invoke("scan", "--usage-dir", log_dir, "--as-of", "2026-10-31T23:59:59Z", "--min-impact", "1000000", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["findings"] == []


def test_an_unreadable_org_is_reported_and_the_others_still_scanned(log_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "log"
    shutil.copytree(log_dir, root)
    victim = sorted((root / "org=calm").glob("month=*/part-*.parquet"))[0]
    victim.write_bytes(b"PAR1 this is not a parquet file")
    before = snapshot(root)
    result = invoke("scan", "--usage-dir", root, "--as-of", "2026-10-31T23:59:59Z", "--jobs", "2", "--json")
    assert result.exit_code == 1, result.output
    out = json.loads(result.stdout)
    [failed] = out["errors"]
    assert failed["org"] == "calm" and "parquet" in failed["error"].lower()
    assert "error: org calm:" in result.stderr
    assert {f["org"] for f in out["findings"]} == {"acme"}
    assert snapshot(root) == before  # a scan never writes


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "nobody"], "--org: no usage for org 'nobody'"),
        (["--org", "../x"], "org: not a valid org id"),
        (["--as-of", "2026-10-05"], "--as-of: give a timezone"),
        (["--as-of", "yesterday"], "--as-of: not an RFC 3339 time"),
        (["--jobs", "0"], "--jobs: must be at least 1"),
        (["--min-impact", "-1"], "--min-impact: must not be negative"),
        (["--engine", "bogus"], "--engine: unknown engine 'bogus'"),
    ],
)
def test_refusals_exit_2_with_nothing_scanned(log_dir: Path, args: list[str], message: str) -> None:
    result = invoke("scan", "--usage-dir", log_dir, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stdout == ""


def test_an_empty_log_is_refused(tmp_path: Path) -> None:
    result = invoke("scan", "--usage-dir", tmp_path / "nothing")
    assert result.exit_code == 2 and "--usage-dir: no organizations" in result.stderr
    assert not (tmp_path / "nothing").exists()


def test_library_refusals(log_dir: Path) -> None:
    from quotadesk.errors import InputError

    with pytest.raises(InputError, match="as_of must carry a UTC offset"):
        scan(log_dir, as_of=datetime(2026, 10, 1))
    with pytest.raises(InputError, match="jobs: must be at least 1"):
        scan(log_dir, as_of=OCTOBER_END, jobs=0)
    assert UsageLog(log_dir).orgs() == ["acme", "billed", "calm"]


@pytest.mark.parametrize("command", [["scan"], ["explain", "--org", "acme", "--period", "2026-10"]])
def test_the_engine_setting_is_checked(log_dir: Path, command: list[str]) -> None:
    result = runner.invoke(
        usage_app, [*command, "--usage-dir", str(log_dir)], env={"QUOTADESK_USAGE_ENGINE": "postgres://x"}
    )
    assert result.exit_code == 2, result.output
    assert "usage_engine: unknown engine 'postgres://x'" in result.stderr and result.stdout == ""


def test_an_org_with_only_reported_costs_is_left_out(log_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "log"
    shutil.copytree(log_dir, root)
    _import(root, "openai-costs", "costonly", FIX / "openai_costs_grouped.json")
    result = invoke("scan", "--usage-dir", root, "--as-of", "2026-10-31T23:59:59Z", "--jobs", "1", "--json")
    assert result.exit_code == 0, result.output
    assert [p["org"] for p in json.loads(result.stdout)["per_org"]] == ["acme", "billed", "calm"]
    named = invoke("scan", "--usage-dir", root, "--org", "costonly")
    assert named.exit_code == 2 and "--org: no usage for org 'costonly'" in named.stderr


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_file_of_another_shape_fails_its_org_only(log_dir: Path, tmp_path: Path, jobs: str) -> None:
    """A part file without the ``ip`` column (written by some other tool): that org's error."""
    import pyarrow.parquet as pq

    root = tmp_path / "log"
    shutil.copytree(log_dir, root)
    victim = sorted((root / "org=calm").glob("month=*/part-*.parquet"))[0]
    pq.write_table(pq.read_table(victim).drop_columns(["ip"]), victim)
    result = invoke("scan", "--usage-dir", root, "--as-of", "2026-10-31T23:59:59Z", "--jobs", jobs, "--json")
    assert result.exit_code == 1, result.output
    out = json.loads(result.stdout)
    assert [e["org"] for e in out["errors"]] == ["calm"]
    assert {f["org"] for f in out["findings"]} == {"acme"}


def test_a_shared_engine_keeps_no_org_behind(log_dir: Path, tmp_path: Path) -> None:
    """Scan workers reuse one DuckDB: an org copied into it (many part files) is dropped after."""
    from quotadesk.usage import engine
    from quotadesk.usage import log as log_module
    from quotadesk.usage.scan import scan_org

    root = tmp_path / "log"
    table = UsageLog(log_dir).read_arrow("calm")
    many = UsageLog(root)
    step = table.num_rows // (log_module.COPY_ABOVE_FILES + 10) + 1
    for lo in range(0, table.num_rows, step):
        many.append("calm", table.slice(lo, step))
    assert len(many.files("calm")) > log_module.COPY_ABOVE_FILES
    con = engine.connect()
    result = scan_org(str(root), "calm", OCTOBER_END, 500_000_000, con=con)
    assert result.error is None and result.rows == table.num_rows
    leftovers = con.con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE starts_with(table_name, 'qd_')"
    ).fetchone()
    assert leftovers == (0,)
