"""The analytics engine seam: one place that opens Ibis on DuckDB and reads usage files.

Everything above this module speaks portable Ibis expressions (filter, group_by,
aggregate, joins, casts, truncation), so a distributed backend can replace DuckDB here
without touching the detectors. Ibis is imported lazily: a CLI command or a triage of a
ticket without usage never pays for it.

Running expressions: ``fetch`` and ``materialize`` compile the Ibis expression and, on
DuckDB, run the SQL on the DuckDB connection directly; on any other backend they use
Ibis's own ``to_pyarrow`` / ``create_table``. The direct path exists for speed: Ibis's
DuckDB result converter imports pandas (half a second), which a triage of one bundle
should not pay. ``from_columns`` loads Python lists the same way (DuckDB's own Arrow
import would also pull pandas in).

Compatibility: ibis-framework 12.0.0 (pinned) calls ``fetch_arrow_table`` on DuckDB
connections and relations, which duckdb 2.x renamed ``to_arrow_table``; ``connect``
restores the old names so the pinned Ibis runs on either duckdb. Ibis paths that are
still broken on duckdb 2.x with newer sqlglot (``create_table(..., overwrite=True)``,
``create_table`` from a raw pyarrow table) are not used anywhere in quotadesk.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quotadesk.errors import InputError, UsageFileError

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet"}
"""File suffixes the contract allows for ``usage.records_file`` (``.json`` read as JSON Lines)."""

COLUMNS = (
    "ts",
    "request_id",
    "key_id",
    "model",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "requests",
    "status",
    "cost",
    "fingerprint",
    "ip",
)
"""The contract's usage columns, in contract order."""
INT_COLUMNS = ("input_tokens", "output_tokens", "cached_tokens", "requests", "status")
TEXT_COLUMNS = ("request_id", "key_id", "fingerprint", "ip")

_names = itertools.count()


def _patch_duckdb() -> None:
    """Give duckdb 2.x the method names ibis 12 calls, without its deprecation warnings."""
    import duckdb

    for cls in (duckdb.DuckDBPyConnection, duckdb.DuckDBPyRelation):
        target: Any = cls
        if getattr(target, "_quotadesk_patched", False) or not hasattr(target, "to_arrow_table"):
            continue
        target.fetch_arrow_table = target.to_arrow_table
        if hasattr(target, "to_arrow_reader"):

            def fetch_record_batch(self: Any, rows_per_batch: int = 1_000_000) -> Any:
                return self.to_arrow_reader(rows_per_batch)

            target.fetch_record_batch = fetch_record_batch
        target._quotadesk_patched = True


def connect() -> Any:
    """A fresh in-memory DuckDB through Ibis, with UTC as the session time zone.

    UTC matters: truncating a timestamp to a day or month happens in the session zone,
    and the books bill by calendar month in UTC.
    """
    import ibis

    _patch_duckdb()
    con = ibis.duckdb.connect()
    con.raw_sql("SET TimeZone = 'UTC'")
    con.raw_sql("SET enable_progress_bar = false")  # it would print on stdout during long scans
    return con


SPARK_MASTERS = ("spark://", "k8s://", "mesos://", "local[")
"""What the ``usage_engine`` setting accepts as a Spark master besides ``spark``, ``local`` and ``yarn``."""


def connect_engine(name: str, field: str = "usage_engine") -> Any:
    """The engine a setting names: ``duckdb``, ``spark`` (a local session) or a Spark master URL.

    Spark gets the session settings the detectors rely on (UTC, quiet progress). An engine
    that cannot start is an ``InputError`` naming ``field``, not a Java stack trace.
    """
    value = name.strip()
    if value.lower() in ("", "duckdb", "duckdb://"):
        return connect()
    master = "local[*]" if value.lower() == "spark" else value
    if not (master in ("yarn", "local") or master.startswith(SPARK_MASTERS)):
        raise InputError(
            f"unknown engine {name!r}; expected duckdb, spark or a Spark master URL (spark://HOST:PORT)", field
        )
    try:
        import ibis
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise InputError("Spark needs the 'spark' extra: pip install 'quotadesk[spark]'", field) from exc
    try:
        session = (
            SparkSession.builder.master(master)
            .appName("quotadesk")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
    except Exception as exc:  # a JVM that will not start, a master that does not answer
        raise InputError(f"cannot start Spark at {master}: {short(exc)}", field) from exc
    session.conf.set("spark.sql.session.timeZone", "UTC")
    session.sparkContext.setLogLevel("ERROR")
    return ibis.pyspark.connect(session)


def fresh_name(prefix: str) -> str:
    """A table name unique within this process (tables are never overwritten)."""
    return f"qd_{prefix}_{next(_names)}"


def file_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageFileError(
            f"unsupported file type {path.suffix or '(none)'!r}; expected .jsonl, .csv or .parquet",
            "records_file",
        )
    return fmt


def read_raw(con: Any, path: Path) -> tuple[Any, str]:
    """The file as an Ibis table of raw columns and its format.

    JSON Lines and CSV are read with every contract column as text, so a junk value is
    found by the validator (with its line) instead of silently turning a column into
    text or nulls. Parquet keeps its own types; a ``file_row_number`` column locates rows.
    """
    fmt = file_format(path)
    if not path.is_file():
        raise UsageFileError(f"file not found: {path}", "records_file")
    try:
        if fmt == "parquet":
            table = con.read_parquet(str(path), table_name=fresh_name("raw"), file_row_number=True)
        elif fmt == "csv":
            table = con.read_csv(str(path), table_name=fresh_name("raw"), all_varchar=True, header=True)
        else:
            # cost as JSON: a string and a number are told apart (money must be a string)
            columns = {name: "JSON" if name == "cost" else "VARCHAR" for name in COLUMNS}
            table = con.read_json(
                str(path), table_name=fresh_name("raw"), columns=columns, format="newline_delimited"
            )
    except Exception as exc:  # duckdb raises its own tree; translate at the seam
        raise UsageFileError(f"cannot read {fmt} file {path.name}: {short(exc)}", "records_file") from exc
    return table, fmt


def short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _duckdb(con: Any) -> Any:
    """The raw DuckDB connection behind an Ibis backend, or None for another engine."""
    return getattr(con, "con", None) if getattr(con, "name", "") == "duckdb" else None


def is_duckdb(con: Any) -> bool:
    return _duckdb(con) is not None


@dataclass(frozen=True, slots=True)
class Rows:
    """A small query result as Python values: column names and row tuples."""

    names: tuple[str, ...]
    values: list[tuple[Any, ...]]

    def __len__(self) -> int:
        return len(self.values)

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.names, row, strict=True)) for row in self.values]

    def one(self) -> dict[str, Any]:
        return dict(zip(self.names, self.values[0], strict=True))

    def column(self, name: str | int) -> list[Any]:
        i = name if isinstance(name, int) else self.names.index(name)
        return [row[i] for row in self.values]

    def columns(self) -> dict[str, list[Any]]:
        return {name: self.column(i) for i, name in enumerate(self.names)}


def fetch_rows(con: Any, expr: Any) -> Rows:
    """Run an Ibis expression whose result is small (aggregates): Python values.

    On DuckDB the rows come straight from the engine as Python objects, no Arrow or
    pandas conversion (pyarrow's timestamp types alone import pandas).
    """
    raw = _duckdb(con)
    if raw is None:
        table = con.to_pyarrow(expr)
        return Rows(tuple(table.column_names), [tuple(r.values()) for r in table.to_pylist()])
    relation = raw.sql(con.compile(expr))
    return Rows(tuple(relation.columns), relation.fetchall())


def fetch(con: Any, expr: Any) -> Any:
    """Run an Ibis expression; a pyarrow Table with the expression's schema."""
    raw = _duckdb(con)
    if raw is None:
        return con.to_pyarrow(expr)
    table = raw.sql(con.compile(expr)).to_arrow_table()
    schema = expr.as_table().schema().to_pyarrow()
    return table.rename_columns(schema.names).cast(schema)


def materialize(con: Any, expr: Any, prefix: str) -> Any:
    """Store an Ibis expression's rows as a new temporary table; the Ibis table."""
    name = fresh_name(prefix)
    raw = _duckdb(con)
    if raw is None:
        return con.create_table(name, expr, temp=True)
    raw.execute(f'CREATE TEMP TABLE "{name}" AS {con.compile(expr)}')
    return con.table(name)


def drop_scratch(con: Any) -> None:
    """Drop the tables and views this module named (``fresh_name``) on a DuckDB kept open for
    many logs (a scan worker), so one log's copy does not stay in memory for the next."""
    raw = _duckdb(con)
    if raw is None:
        return
    for kind in ("table", "view"):
        query = f"SELECT {kind}_name FROM duckdb_{kind}s() WHERE starts_with({kind}_name, 'qd_')"
        for (name,) in raw.execute(query).fetchall():
            raw.execute(f'DROP {kind} IF EXISTS "{name}"')


_SQL_TYPES = {"string": "VARCHAR", "int64": "BIGINT"}


def from_columns(con: Any, columns: dict[str, tuple[list[Any], str]], prefix: str) -> Any:
    """A temporary table from Python lists: ``{name: (values, "string" | "int64")}``."""
    name = fresh_name(prefix)
    raw = _duckdb(con)
    if raw is None:
        import ibis
        import pyarrow as pa

        arrays = {
            c: pa.array(v, type=pa.string() if t == "string" else pa.int64()) for c, (v, t) in columns.items()
        }
        return con.create_table(name, ibis.memtable(pa.table(arrays)), temp=True)
    select = ", ".join(
        f'unnest($p{i}::{_SQL_TYPES[t]}[]) AS "{c}"' for i, (c, (_, t)) in enumerate(columns.items())
    )
    raw.execute(
        f'CREATE TEMP TABLE "{name}" AS SELECT {select}',
        {f"p{i}": values for i, (values, _) in enumerate(columns.values())},
    )
    return con.table(name)


def epoch_seconds(con: Any, ts: Any) -> Any:
    """Seconds since 1970 of a UTC timestamp column, as cheaply as the engine allows.

    Ibis compiles ``epoch_seconds()`` of a zoned timestamp on DuckDB through a cast to a
    naive timestamp, which runs the time-zone library on every row (ten times slower
    than the epoch itself); DuckDB's own ``epoch`` of the zoned value is exact for UTC.
    """
    if _duckdb(con) is None:
        return ts.epoch_seconds()
    return _duckdb_epoch()(ts)


@functools.cache
def _duckdb_epoch() -> Any:
    import ibis
    import ibis.expr.datatypes as dt

    def epoch(ts: Any) -> float:  # a DuckDB builtin; Ibis only needs the signature
        raise NotImplementedError

    return ibis.udf.scalar.builtin(epoch, name="epoch", signature=((dt.Timestamp(timezone="UTC"),), dt.float64))
