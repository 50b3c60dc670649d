"""Where usage rows come from, for error messages that name the row: inline or a file.

A source can scan its rows in order as text (JSON values rendered as the engine reads
them), each with its place — ``usage.records[12]``, ``records_file line 57`` (JSON Lines
and CSV count lines, header included) or ``records_file row 57`` (Parquet) — so a
failure the engine counts can be located without the engine keeping row numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from quotadesk import parse
from quotadesk.errors import UsageFileError
from quotadesk.usage import engine


def inline_table(con: Any, rows: list[Mapping[str, Any]]) -> Any:
    """Inline rows as an all-text table, so they take the same checks as a file."""
    if not rows:
        return None
    columns: dict[str, list[str | None]] = {name: [] for name in engine.COLUMNS}
    for i, rec in enumerate(rows):
        where = f"usage.records[{i}]"
        if not isinstance(rec, Mapping):
            raise UsageFileError(f"expected an object, got {type(rec).__name__}", where)
        for name in engine.COLUMNS:
            columns[name].append(as_text(rec.get(name), f"{where}.{name}", strict=True))
    return engine.from_columns(con, {name: (values, "string") for name, values in columns.items()}, "raw")


def as_text(value: Any, where: str, *, strict: bool) -> str | None:
    """A JSON value as the text the engine checks; refuses types no column can hold."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise UsageFileError(f"expected {_expected(where)}, got a boolean", where)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if strict:
            raise UsageFileError(f"expected {_expected(where)}, got a float ({value!r})", where)
        return repr(value)
    if isinstance(value, Decimal):
        return str(value)
    raise UsageFileError(f"expected {_expected(where)}, got {type(value).__name__}", where)


def _expected(where: str) -> str:
    name = where.rsplit(".", 1)[-1]
    if name == "cost":
        return "a decimal string of dollars"
    if name in engine.INT_COLUMNS:
        return "an integer"
    if name == "ts":
        return "an RFC 3339 timestamp"
    return "a string"


class InlineSource:
    def __init__(self, rows: list[Mapping[str, Any]]) -> None:
        self.rows = rows

    def where(self, index: int) -> str:
        return f"usage.records[{index}]"

    def scan(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for i, rec in enumerate(self.rows):
            yield (
                self.where(i),
                {n: as_text(rec.get(n), f"{self.where(i)}.{n}", strict=True) for n in engine.COLUMNS},
            )

    def column_error(self, message: str, column: str) -> UsageFileError:
        return UsageFileError(message, f"usage.records[].{column}")


class FileSource:
    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.fmt = fmt

    def column_error(self, message: str, column: str) -> UsageFileError:
        return UsageFileError(message, f"records_file column {column}")

    def scan(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Rows as text in file order, each with its line (JSONL, CSV) or row (Parquet)."""
        if self.fmt == "jsonl":
            yield from self._scan_jsonl()
        elif self.fmt == "csv":
            yield from self._scan_csv()
        else:
            yield from self._scan_parquet()

    def _scan_jsonl(self) -> Iterator[tuple[str, dict[str, Any]]]:
        with self.path.open("rb") as fh:
            for number, line in enumerate(fh, start=1):
                where = f"records_file line {number}"
                if not line.strip():
                    continue
                try:
                    obj = parse.json_doc(line, where)
                except parse.ParseError as exc:
                    raise UsageFileError(exc.message, where) from exc
                if not isinstance(obj, dict):
                    raise UsageFileError(f"expected a JSON object, got {type(obj).__name__}", where)
                row = {n: as_text(obj.get(n), f"{where}.{n}", strict=False) for n in engine.COLUMNS}
                if isinstance(obj.get("cost"), float):
                    row["cost"] = obj["cost"]  # kept a number: money must be a string (checks._cost_test)
                yield where, row

    def _scan_csv(self) -> Iterator[tuple[str, dict[str, Any]]]:
        line = 0
        try:
            with self.path.open(newline="", encoding="utf-8", errors="strict") as fh:
                reader = csv.reader(fh)
                try:
                    header = next(reader)
                except StopIteration:
                    return
                width = len(header)
                for row in reader:
                    line = reader.line_num
                    where = f"records_file line {line}"
                    if not row:
                        continue
                    if len(row) != width:
                        raise UsageFileError(f"expected {width} fields as in the header, found {len(row)}", where)
                    values = dict(zip(header, row, strict=True))
                    yield where, {n: (values.get(n) or None) for n in engine.COLUMNS}
        except UnicodeDecodeError as exc:
            raise UsageFileError("not UTF-8 text", f"records_file line {line + 1}") from exc
        except csv.Error as exc:
            raise UsageFileError(f"not CSV: {exc}", f"records_file line {line + 1}") from exc
        except OSError as exc:
            raise UsageFileError(f"cannot read: {exc.strerror or exc}", "records_file") from exc

    def _scan_parquet(self) -> Iterator[tuple[str, dict[str, Any]]]:
        import pyarrow.parquet as pq

        number = 0
        try:
            batches = pq.ParquetFile(self.path).iter_batches(batch_size=65536)
            for batch in batches:
                for rec in batch.to_pylist():
                    number += 1
                    where = f"records_file row {number}"
                    yield where, {n: _parquet_text(rec.get(n)) for n in engine.COLUMNS}
        except (OSError, ValueError, ArithmeticError) as exc:  # pyarrow's errors derive from these
            raise UsageFileError(f"not a readable Parquet file: {engine.short(exc)}", f"records_file row {number + 1}") from exc


def _parquet_text(value: Any) -> Any:
    if value is None or isinstance(value, (datetime, float)):
        return value  # typed: parse.timestamp checks its range, a float is refused where money is
    return str(value)


Source = InlineSource | FileSource


def field_of(source: Source) -> str:
    return "usage.records" if isinstance(source, InlineSource) else "records_file"
