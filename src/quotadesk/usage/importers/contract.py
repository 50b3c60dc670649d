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

import csv
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from quotadesk.money import MoneyError, to_nanos
from quotadesk.usage.importers.batch import CostBuilder, RowBuilder
from quotadesk.usage.importers.fields import (
    Loc,
    as_int,
    decimal,
    present,
    read_bytes,
    records,
    text,
    timestamp,
)

SOURCE = "contract"
KIND = "usage"
SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}


def read_file(path: Path, rows: RowBuilder, costs: CostBuilder) -> None:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise Loc(str(path)).error(
            f"unsupported file type {path.suffix or '(none)'!r}; expected .csv, .jsonl or .parquet"
        )
    source = {"csv": _csv_rows, "jsonl": records, "parquet": _parquet_rows}[kind](path)
    for loc, row in source:
        rows.read += 1
        _row(loc, row, rows)


def _csv_rows(path: Path) -> Iterator[tuple[Loc, Mapping[str, Any]]]:
    read_bytes(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                return
            header = [h.strip() for h in header]
            for required in ("ts", "model"):
                if required not in header:
                    raise Loc(str(path), 1).error(f"missing required column {required!r}")
            for row in reader:
                loc = Loc(str(path), reader.line_num)
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(header):
                    raise loc.error(f"expected {len(header)} fields as in the header, found {len(row)}")
                yield loc, dict(zip(header, row, strict=True))
    except UnicodeDecodeError as exc:
        raise Loc(str(path)).error("not UTF-8 text") from exc
    except csv.Error as exc:
        raise Loc(str(path)).error(f"not CSV: {exc}") from exc


def _parquet_rows(path: Path) -> Iterator[tuple[Loc, Mapping[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    read_bytes(path)
    try:
        reader = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
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
    for batch in reader.iter_batches(batch_size=65536):
        for rec in batch.to_pylist():
            number += 1
            yield Loc(str(path), None, f"row {number}"), rec


def _row(loc: Loc, row: Mapping[str, Any], rows: RowBuilder) -> None:
    ts = timestamp(row.get("ts"), loc.at("ts"))
    model = text(row, "model", loc, required=True)
    inp = as_int(row.get("input_tokens"), loc.at("input_tokens"))
    out = as_int(row.get("output_tokens"), loc.at("output_tokens"))
    cached = as_int(row.get("cached_tokens"), loc.at("cached_tokens"))
    requests = as_int(row.get("requests"), loc.at("requests"), default=1, minimum=1)
    status = as_int(row.get("status"), loc.at("status"), default=200, minimum=None)
    if not 100 <= status <= 599:
        raise loc.at("status").error(f"not an HTTP status ({status})")
    cost = _cost(row.get("cost"), loc.at("cost"))
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
    """Decimal dollars to nano-dollars exactly; finer than a nano-dollar is refused."""
    if not present(value):
        return None
    amount = decimal(value, loc)
    try:
        return to_nanos(amount)
    except MoneyError as exc:
        raise loc.error(f"finer than a nano-dollar: {value}") from exc
