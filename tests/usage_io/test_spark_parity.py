"""The same Ibis expressions on DuckDB and on PySpark give the same findings, to the nano-dollar.

The synthetic log (``synth``: a model swap, a dev key in production, a retry storm, a
runaway loop), with an invoice that disagrees with it and a status-page incident over the
retry storm, is imported into the on-disk usage log once; DuckDB and Spark (local mode,
the machine's JDK) then each read the same Parquet files through ``UsageLog.load`` and
run the whole detector suite (``detectors.analyse``) and the bill explanation
(``decompose``, period sums, daily spend). Everything they report must be equal.

Skipped when pyspark or a Java runtime is not installed (the ``spark`` extra).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from quotadesk.usage.decompose import decompose
from quotadesk.usage.detectors import analyse
from quotadesk.usage.explanation import daily_spend
from quotadesk.usage.importers import read_files
from quotadesk.usage.log import UsageLog
from quotadesk.usage.periods import Period
from quotadesk.usage.profile import period_sums

from .synth import KEYS, STORM, make_rows, write_jsonl

pytest.importorskip("pyspark", reason="pyspark is not installed (the 'spark' extra)")
if shutil.which("java") is None:
    pytest.skip("no Java runtime for Spark", allow_module_level=True)

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

AS_OF = datetime(2026, 10, 31, 23, 59, tzinfo=UTC)
INVOICES = [
    {
        "id": "inv_2026_09",
        "period_start": datetime(2026, 9, 1, tzinfo=UTC),
        "period_end": datetime(2026, 10, 1, tzinfo=UTC),
        "amount": 99_000_000_000,  # $99.00, not what the log says September cost
        "status": "paid",
    }
]
INCIDENTS = [
    ("Elevated error rates on chat completions", STORM - timedelta(minutes=10), STORM + timedelta(hours=1))
]


@pytest.fixture(scope="module")
def spark_con() -> Iterator[Any]:
    import ibis
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("quotadesk-parity")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield ibis.pyspark.connect(session)
    finally:
        session.stop()


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> UsageLog:
    root = tmp_path_factory.mktemp("parity")
    batch = read_files("contract", [write_jsonl(root / "usage.jsonl", make_rows())])
    usage_log = UsageLog(root / "log")
    usage_log.append("acme", batch.usage)
    return usage_log


def test_duckdb_and_spark_find_the_same(log: UsageLog, spark_con: Any) -> None:
    duck = log.load("acme")
    spark = log.load("acme", con=spark_con)
    assert type(spark.con).__module__.startswith("ibis.backends.pyspark")
    assert (spark.rows, spark.requests, spark.total_nanos, spark.start, spark.end) == (
        duck.rows,
        duck.requests,
        duck.total_nanos,
        duck.start,
        duck.end,
    )
    assert (spark.models, spark.key_ids) == (duck.models, duck.key_ids)

    books = {"keys": KEYS, "invoices": INVOICES, "incidents": INCIDENTS}
    on_duck = analyse(duck, as_of=AS_OF, **books)
    on_spark = analyse(spark, as_of=AS_OF, **books)
    assert on_duck.detector_errors == on_spark.detector_errors == ()
    assert len({f.root_cause for f in on_duck.findings}) >= 4, "the synthetic log has anomalies to find"
    assert on_spark.findings == on_duck.findings  # root cause, window, impact, confidence, evidence, figures
    assert on_spark == on_duck  # and every total, month, day and first sighting

    # the bill explanation's own queries (its findings are analyse's, compared above)
    october, september = Period.parse("2026-10"), Period.parse("2026-09")
    assert decompose(spark, october, september) == decompose(duck, october, september)
    assert daily_spend(spark, october) == daily_spend(duck, october)
    spans = [(october.start, october.end), (september.start, september.end)]
    assert period_sums(spark, spans) == period_sums(duck, spans)


def test_spark_reads_only_the_org_and_months_asked(log: UsageLog, spark_con: Any) -> None:
    october = log.load(
        "acme", con=spark_con, start=datetime(2026, 10, 1, tzinfo=UTC), end=datetime(2026, 11, 1, tzinfo=UTC)
    )
    duck = log.load("acme", start=datetime(2026, 10, 1, tzinfo=UTC), end=datetime(2026, 11, 1, tzinfo=UTC))
    assert (october.rows, october.total_nanos) == (duck.rows, duck.total_nanos)
    assert october.start is not None and october.start >= datetime(2026, 10, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "args",
    [["scan", "--as-of", "2026-10-31T23:59:00Z"], ["explain", "--org", "acme", "--period", "2026-10"]],
    ids=["scan", "explain"],
)
def test_the_engine_setting_runs_the_commands_on_spark(log: UsageLog, spark_con: Any, args: list[str]) -> None:
    """``--engine local[2]`` (the ``usage_engine`` setting) gives the same report as DuckDB."""
    import json

    from typer.testing import CliRunner

    from quotadesk.cli.scan import scan_command
    from quotadesk.cli.usage import usage_app

    assert scan_command is not None  # registers ``usage scan``
    runner = CliRunner()
    common = [*args, "--usage-dir", str(log.root), "--json"]
    duck = runner.invoke(usage_app, [*common, "--engine", "duckdb"])
    spark = runner.invoke(usage_app, [*common, "--engine", "local[2]"])
    assert duck.exit_code == 0, duck.output
    assert spark.exit_code == 0, spark.output
    on_duck, on_spark = json.loads(duck.stdout), json.loads(spark.stdout)
    on_duck.pop("seconds", None)
    on_spark.pop("seconds", None)
    assert on_duck["findings"], "the synthetic log has findings"
    assert on_spark == on_duck
