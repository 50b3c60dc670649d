"""The contract's own usage files: CSV, JSON Lines or Parquet with the case bundle's columns.

Columns (``shared/contracts/case-bundle.md``, ``usage.records``): ``ts, request_id, key_id,
model, input_tokens, output_tokens, cached_tokens, requests, status, cost, fingerprint,
ip`` — only ``ts`` and ``model`` required — plus an optional ``environment``. The rules
are the records loader's (``quotadesk.usage.records``): a time needs a UTC offset; tokens
are whole and not negative; ``requests`` at least 1 (default 1); ``status`` an HTTP
status (default 200); ``cost`` decimal dollars to the nano-dollar at most (a float is
refused). A row without a ``cost`` is costed from the price table.

The format follows the suffix: ``.csv``; ``.jsonl``/``.ndjson``/``.json`` (JSON Lines, or
a JSON array of rows); ``.parquet``. A row without a ``request_id`` gets a deterministic
one from its content (see ``batch``).
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from quotadesk import parse
from quotadesk.billing.pricing import PriceTable
from quotadesk.parse import ParseError
from quotadesk.usage.importers.batch import CostBuilder, RowBuilder
from quotadesk.usage.importers.fields import (
    Loc,
    csv_rows,
    records,
    rows_file,
    text,
)

SOURCE = "contract"
KIND = "usage"
SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
FAST_MIN_BYTES = 1 << 20
"""Files from this size go through the records loader's DuckDB pass first (``read_fast``)."""


def read_fast(path: Path, prices: PriceTable) -> pa.Table | None:
    """A large, clean file validated and costed in one DuckDB pass, or None for the row-by-row path.

    The records loader (``quotadesk.usage.records.load_usage``) applies the same rules in
    bulk, about six times faster. It is used only when its result is the whole answer: every
    row has a ``request_id`` and a price or cost, and there is no ``environment`` column.
    Anything else — an error to locate and word, a model to report, an id to derive —
    goes row by row.
    """
    from quotadesk.errors import UsageFileError
    from quotadesk.usage.log import SCHEMA
    from quotadesk.usage.records import load_usage

    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson", ".parquet") or not path.is_file():
        return None
    if path.stat().st_size < FAST_MIN_BYTES or _has_environment(path, suffix):
        return None
    try:
        data = load_usage(None, path, prices)
    except UsageFileError:
        return None
    if data.table is None:
        return SCHEMA.empty_table()
    table = data.to_pyarrow(data.table)
    if pc.any(pc.equal(table.column("request_id"), "")).as_py():
        return None
    table = table.append_column("environment", pa.array([""] * table.num_rows, pa.string()))
    return table.select(SCHEMA.names).cast(SCHEMA)


def _has_environment(path: Path, suffix: str) -> bool:
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return "environment" in pq.ParquetFile(path).schema_arrow.names
        except (pa.ArrowInvalid, OSError, ValueError):
            return True  # let the row-by-row path word the error
    if suffix == ".csv":
        with path.open("rb") as fh:
            return b"environment" in fh.readline()
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        return mm.find(b'"environment"') >= 0


def read_file(path: Path, rows: RowBuilder, costs: CostBuilder) -> None:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise Loc(str(path)).error(
            f"unsupported file type {path.suffix or '(none)'!r}; expected .csv, .jsonl or .parquet"
        )
    source = {"csv": _csv_rows, "jsonl": records, "parquet": _parquet_rows}[kind](path)
    for loc, row in source:
        rows.seen()
        if kind == "jsonl" and isinstance(row.get("cost"), Decimal):
            raise loc.at("cost").error(
                f"expected a decimal string of dollars, got a number with a fraction ({row['cost']})"
            )
        _row(loc, row, rows)


def _csv_rows(path: Path) -> Iterator[tuple[Loc, Mapping[str, Any]]]:
    return csv_rows(path, required=("ts", "model"))


def _parquet_rows(path: Path) -> Iterator[tuple[Loc, Mapping[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows_file(path)
    try:
        reader = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError, ValueError) as exc:
        raise Loc(str(path)).error(f"not a Parquet file: {exc}") from exc
    names = set(reader.schema_arrow.names)
    for required in ("ts", "model"):
        if required not in names:
            raise Loc(str(path)).error(f"missing required column {required!r}")
    if "cost" in names and pa.types.is_floating(reader.schema_arrow.field("cost").type):
        raise (
            Loc(str(path))
            .at("cost")
            .error("floating-point money is refused; write decimal strings of dollars")
        )
    number = 0
    try:
        for batch in reader.iter_batches(batch_size=65536):
            for rec in batch.to_pylist():
                number += 1
                yield Loc(str(path), None, f"row {number}"), rec
    except (OSError, ValueError, ArithmeticError) as exc:  # a corrupt page: pyarrow's errors derive from these
        raise Loc(str(path), None, f"row {number + 1}").error(f"not a readable Parquet file: {str(exc)[:200]}") from exc


def _field(loc: Loc, name: str, call: Any, *args: Any, **kw: Any) -> Any:
    """One value through ``quotadesk.parse``, its refusal located at ``loc.name``."""
    where = loc.at(name)
    try:
        return call(*args, str(where), **kw)
    except ParseError as exc:
        raise where.error(exc.message) from exc


def _row(loc: Loc, row: Mapping[str, Any], rows: RowBuilder) -> None:
    """One contract row by the records loader's rules (``quotadesk.parse``, ``usage.checks``)."""
    ts = _field(loc, "ts", parse.timestamp, row.get("ts"))
    model = text(row, "model", loc, required=True)
    inp = _field(loc, "input_tokens", parse.tokens, row.get("input_tokens"))
    out = _field(loc, "output_tokens", parse.tokens, row.get("output_tokens"))
    cached = _field(loc, "cached_tokens", parse.tokens, row.get("cached_tokens"))
    requests = _field(loc, "requests", parse.requests, row.get("requests"))
    status = _field(loc, "status", parse.http_status, row.get("status"))
    cost = _cost(row.get("cost"), loc)
    key_id = text(row, "key_id", loc)
    fingerprint = text(row, "fingerprint", loc)
    ip = text(row, "ip", loc)
    request_id = text(row, "request_id", loc) or rows.ordinal_id(
        ts.isoformat(), key_id, model, inp, out, cached, requests, status, cost, fingerprint, ip
    )
    rows.add(
        loc,
        ts=ts,
        request_id=request_id,
        key_id=key_id,
        environment=text(row, "environment", loc).lower(),
        model=model,
        input_tokens=inp,
        output_tokens=out,
        cached_tokens=cached,
        requests=requests,
        status=status,
        cost_nanos=cost,
        fingerprint=fingerprint,
        ip=ip,
    )


def _cost(value: Any, loc: Loc) -> int | None:
    """Decimal dollars to nano-dollars exactly (``parse.money``, never negative).

    A JSON number with a fraction (read as a ``Decimal``) is floating-point money, refused as
    the records loader refuses it; a typed Parquet decimal column is exact and taken.
    """
    if value is None or (isinstance(value, str) and not value.strip(" ")):
        return None
    return int(_field(loc, "cost", parse.money_nanos, value))
