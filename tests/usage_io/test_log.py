"""The usage log on disk: month partitions, idempotent appends, crash safety, reading back."""

from __future__ import annotations

import hashlib
import itertools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quotadesk.errors import InputError
from quotadesk.usage import log as log_module
from quotadesk.usage.decompose import decompose
from quotadesk.usage.log import SCHEMA, UsageLog, check_org, from_arrow

T0 = datetime(2026, 9, 28, 12, tzinfo=UTC)


def rows(ids: list[str], start: datetime = T0, step: timedelta = timedelta(days=1)) -> pa.Table:
    """One row per id, a day apart from ``start`` (so a few ids span two months)."""
    n = len(ids)
    return pa.table(
        {
            "ts": pa.array([start + i * step for i in range(n)], SCHEMA.field("ts").type),
            "request_id": ids,
            "key_id": ["key_a"] * n,
            "environment": ["production"] * n,
            "model": ["gpt-4o-mini"] * n,
            "input_tokens": [1000] * n,
            "output_tokens": [100] * n,
            "cached_tokens": [0] * n,
            "requests": [1] * n,
            "status": [200] * n,
            "cost_nanos": [210_000] * n,
            "fingerprint": [f"fp-{i}" for i in ids],
            "ip": ["203.0.113.9"] * n,
        },
        schema=SCHEMA,
    )


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (hidden ones too, lock file aside) with a hash of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def test_append_partitions_by_month_and_is_idempotent(tmp_path: Path) -> None:
    log = UsageLog(tmp_path)
    batch = rows([f"r{i}" for i in range(6)])  # 28 Sep .. 3 Oct
    first = log.append("acme", batch)
    assert (first.offered, first.added, first.duplicates) == (6, 6, 0)
    assert first.months == ("2026-09", "2026-10")
    assert log.months("acme") == ["2026-09", "2026-10"]
    assert all(Path(f).parent.parent == tmp_path / "org=acme" for f in first.files)
    before = snapshot(tmp_path)
    again = log.append("acme", batch)
    assert (again.added, again.duplicates, again.files) == (0, 6, ())
    assert snapshot(tmp_path) == before
    assert log.count("acme") == 6
    # a later batch overlapping the first adds only its new ids, whatever month they fall in
    more = log.append("acme", rows(["r5", "r6", "r7"], start=T0 + timedelta(days=40)))
    assert (more.added, more.duplicates) == (2, 1)
    assert log.count("acme") == 8


def test_duplicates_within_one_batch_keep_the_first(tmp_path: Path) -> None:
    log = UsageLog(tmp_path)
    batch = rows(["a", "b", "a", "c", "b"])
    result = log.append("acme", batch)
    assert (result.added, result.duplicates) == (3, 2)
    got = log.read_arrow("acme")
    assert sorted(
        zip(got.column("request_id").to_pylist(), got.column("fingerprint").to_pylist(), strict=True)
    ) == [
        ("a", "fp-a"),
        ("b", "fp-b"),
        ("c", "fp-c"),
    ]
    first_ts = {r["request_id"]: r["ts"] for r in got.to_pylist()}
    assert first_ts["a"] == T0  # not the second "a", two days later


def test_orgs_are_kept_apart(tmp_path: Path) -> None:
    log = UsageLog(tmp_path)
    log.append("acme", rows(["x", "y"]))
    other = log.append("globex", rows(["x", "y"]))
    assert other.added == 2  # dedup is per (org, request_id)
    assert log.orgs() == ["acme", "globex"]


@pytest.mark.parametrize("org", ["", "../etc", "a/b", "a b", ".hidden", "x" * 200, "org=1"])
def test_org_ids_must_be_safe_folder_names(org: str) -> None:
    with pytest.raises(InputError, match="not a valid org id"):
        check_org(org)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("input_tokens", -1, "negative"),
        ("requests", 0, "must be at least 1"),
        ("status", 42, "not an HTTP status"),
        ("request_id", "", "empty"),
    ],
)
def test_the_log_refuses_rows_that_break_its_invariants(
    tmp_path: Path, column: str, value: Any, message: str
) -> None:
    batch = rows(["a", "b"])
    values = batch.column(column).to_pylist()
    values[1] = value
    batch = batch.set_column(
        batch.schema.get_field_index(column), column, pa.array(values, batch.schema.field(column).type)
    )
    with pytest.raises(InputError, match=message) as err:
        UsageLog(tmp_path).append("acme", batch)
    assert err.value.field == f"rows.{column}"
    assert snapshot(tmp_path) == {}


def test_read_back_between_and_as_usage_data(tmp_path: Path) -> None:
    log = UsageLog(tmp_path)
    log.append("acme", rows([f"r{i}" for i in range(10)]))  # 28 Sep .. 7 Oct
    october = log.read_arrow(
        "acme", start=datetime(2026, 10, 1, tzinfo=UTC), end=datetime(2026, 11, 1, tzinfo=UTC)
    )
    assert october.num_rows == 7
    assert [p.parent.name for p in log.files("acme", start=datetime(2026, 10, 5, tzinfo=UTC))] == [
        "month=2026-10"
    ]
    assert log.files("acme", end=datetime(2026, 10, 1, tzinfo=UTC))[0].parent.name == "month=2026-09"
    assert len(log.files("acme", end=datetime(2026, 10, 1, tzinfo=UTC))) == 1
    data = log.load("acme")
    assert (data.rows, data.requests, data.total_nanos) == (10, 10, 2_100_000)
    assert data.start == T0 and data.models == ("gpt-4o-mini",) and data.key_ids == ("key_a",)
    assert data.table.columns == (
        "ts",
        "request_id",
        "key_id",
        "model",
        "input_tokens",
        "output_tokens",
        "cached_tokens",
        "requests",
        "status",
        "cost_nanos",
        "fingerprint",
        "ip",
    )
    split = decompose(data, "2026-10", "2026-09")
    assert split.volume_nanos + split.tokens_per_request_nanos + split.price_mix_nanos == split.change_nanos
    assert (split.before_nanos, split.after_nanos) == (630_000, 1_470_000)
    assert log.keys("acme") == [{"id": "key_a", "name": "key_a", "environment": "production"}]


def test_empty_log_reads_as_empty(tmp_path: Path) -> None:
    log = UsageLog(tmp_path)
    assert log.files("nobody") == [] and log.months("nobody") == [] and log.count("nobody") == 0
    assert log.read_arrow("nobody").num_rows == 0
    assert log.load("nobody").is_empty
    assert from_arrow(SCHEMA.empty_table(), source="x").is_empty


def test_concurrent_writers_never_duplicate(tmp_path: Path) -> None:
    batch = rows([f"r{i}" for i in range(50)], step=timedelta(hours=2))
    results: list[int] = []

    def write() -> None:
        results.append(UsageLog(tmp_path).append("acme", batch).added)

    threads = [threading.Thread(target=write) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 0, 0, 0, 0, 50]
    assert UsageLog(tmp_path).count("acme") == 50


# --- crash safety -----------------------------------------------------------------------------------


def test_a_failed_write_adds_nothing_and_leaves_no_temporaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = UsageLog(tmp_path)
    log.append("acme", rows(["old"]))
    before = snapshot(tmp_path)
    real = pq.write_table
    calls = 0

    def flaky(table: Any, where: Any, **kw: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError(28, "No space left on device")
        real(table, where, **kw)

    monkeypatch.setattr(log_module.pq, "write_table", flaky)
    with pytest.raises(OSError, match="No space"):
        log.append("acme", rows([f"n{i}" for i in range(6)]))  # two months: the second write fails
    assert snapshot(tmp_path) == before
    monkeypatch.setattr(log_module.pq, "write_table", real)
    assert log.append("acme", rows([f"n{i}" for i in range(6)])).added == 6


CRASH = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import UTC, datetime, timedelta
    sys.path.insert(0, {tests!r})
    from test_log import rows
    from quotadesk.usage.log import UsageLog

    kill_at = int(sys.argv[1])
    real = os.replace
    calls = 0

    def replace(a, b):
        global calls
        calls += 1
        if calls == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no finally: a real crash
        real(a, b)

    os.replace = replace
    UsageLog(sys.argv[2]).append("acme", rows([f"n{{i}}" for i in range(6)]))
    """
)


@pytest.mark.parametrize(
    ("kill_at", "expected"),
    [
        (1, 1),  # killed while publishing the journal: the batch never happened
        (2, 7),  # journal durable, no part renamed yet: rolled forward, all six added
        (3, 7),  # one of two months renamed: rolled forward, never half a batch
    ],
)
def test_sigkill_mid_append_is_all_or_nothing(tmp_path: Path, kill_at: int, expected: int) -> None:
    root = tmp_path / "log"
    UsageLog(root).append("acme", rows(["old"]))
    script = tmp_path / "crash.py"
    script.write_text(CRASH.format(tests=str(Path(__file__).parent)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, str(script), str(kill_at), str(root)], env=env, check=False, timeout=60
    )
    assert done.returncode == -signal.SIGKILL
    leftovers = [p.name for p in root.rglob(".*") if p.name != ".lock"]
    assert leftovers  # the crash left temporaries or a journal behind
    log = UsageLog(root)
    assert log.count("acme") == expected  # the reader recovers first
    assert [p.name for p in root.rglob(".*") if p.name != ".lock"] == []
    again = log.append("acme", rows([f"n{i}" for i in range(6)]))
    assert log.count("acme") == 7 and again.added == 7 - expected


# --- invariant ----------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ids=st.lists(st.sampled_from([f"r{i}" for i in range(12)]), min_size=1, max_size=30),
    cuts=st.lists(st.integers(min_value=0, max_value=30), max_size=4),
)
def test_any_split_of_the_same_rows_gives_the_same_log(
    tmp_path: Path, ids: list[str], cuts: list[int]
) -> None:
    """However an export is cut into imports and repeated, the log holds each id once."""
    root = tmp_path / uuid.uuid4().hex
    log = UsageLog(root)
    batch = rows(ids, step=timedelta(hours=7))
    bounds = sorted({0, len(ids), *(c for c in cuts if c < len(ids))})
    added = sum(log.append("acme", batch.slice(a, b - a)).added for a, b in itertools.pairwise(bounds))
    assert added == len(set(ids)) == log.count("acme")
    assert log.append("acme", batch).added == 0
    assert sorted(log.read_arrow("acme").column("request_id").to_pylist()) == sorted(set(ids))


def test_many_small_files_read_the_same_as_one(tmp_path: Path) -> None:
    """Past COPY_ABOVE_FILES part files the org is copied into DuckDB once; nothing else changes."""
    from quotadesk.usage.detectors import analyse
    from quotadesk.usage.importers import read_files

    from .synth import KEYS, make_rows, write_jsonl

    table = read_files("contract", [write_jsonl(tmp_path / "usage.jsonl", make_rows())]).usage
    one, many = UsageLog(tmp_path / "one"), UsageLog(tmp_path / "many")
    one.append("acme", table)
    step = table.num_rows // 80 + 1
    for lo in range(0, table.num_rows, step):  # 80 batches, a file or two each
        many.append("acme", table.slice(lo, step))
    assert len(one.files("acme")) <= 3 < log_module.COPY_ABOVE_FILES < len(many.files("acme"))
    a, b = one.load("acme"), many.load("acme")
    assert (a.rows, a.requests, a.total_nanos, a.start, a.end, a.models, a.key_ids) == (
        b.rows,
        b.requests,
        b.total_nanos,
        b.start,
        b.end,
        b.models,
        b.key_ids,
    )
    as_of = datetime(2026, 10, 31, 23, 59, tzinfo=UTC)
    ra, rb = analyse(a, as_of=as_of, keys=KEYS), analyse(b, as_of=as_of, keys=KEYS)
    assert ra.findings, "the synthetic log has findings"
    # the same report, but for the folder each quotes as its source
    assert repr(ra).replace(str(tmp_path / "one"), "LOG") == repr(rb).replace(str(tmp_path / "many"), "LOG")


@pytest.mark.parametrize("through_engine", [False, True], ids=["pyarrow", "engine"])
def test_a_key_s_environment_is_what_most_of_its_rows_say(tmp_path: Path, through_engine: bool) -> None:
    from quotadesk.usage import engine

    batch = rows([f"p{i}" for i in range(10)])
    env, key = SCHEMA.field("environment"), SCHEMA.field("key_id")
    stray = rows(["d0"]).set_column(3, env, pa.array(["development"]))
    other = rows(["o0"]).set_column(2, key, pa.array(["key_b"])).set_column(3, env, pa.array([""]))
    log = UsageLog(tmp_path)
    log.append("acme", pa.concat_tables([batch, stray, other]))
    keys = log.keys("acme", engine.connect() if through_engine else None)
    assert keys == [
        {"id": "key_a", "name": "key_a", "environment": "production"},
        {"id": "key_b", "name": "key_b", "environment": None},
    ]
