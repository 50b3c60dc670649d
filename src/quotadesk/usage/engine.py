"""The analytics engine seam: one place that opens Ibis on DuckDB and reads usage files.

Everything above this module speaks portable Ibis expressions (filter, group_by,
aggregate, joins, casts, truncation), so a distributed backend can replace DuckDB here
without touching the detectors. Ibis is imported lazily: a CLI command or a triage of a
ticket without usage never pays for it.

Compatibility: ibis-framework 12.0.0 (pinned) calls ``fetch_arrow_table`` on DuckDB
connections, which duckdb 2.x renamed ``to_arrow_table``; ``connect`` restores the old
name when it is missing so the pinned Ibis runs on either duckdb. Ibis paths that are
still broken on duckdb 2.x with newer sqlglot (``create_table(..., overwrite=True)``,
``create_table`` from a raw pyarrow table) are not used anywhere in quotadesk.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from quotadesk.errors import UsageFileError

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
            columns = {name: "VARCHAR" for name in COLUMNS}
            table = con.read_json(
                str(path), table_name=fresh_name("raw"), columns=columns, format="newline_delimited"
            )
    except Exception as exc:  # duckdb raises its own tree; translate at the seam
        raise UsageFileError(f"cannot read {fmt} file {path.name}: {short(exc)}", "records_file") from exc
    return table, fmt


def short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
