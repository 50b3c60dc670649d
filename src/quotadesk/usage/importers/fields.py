"""Reading export documents field by field, so every refusal names the file, line and field.

Provider exports are JSON documents (one page, an array of pages, or JSON Lines with one
page per line) or rows (CSV, JSON Lines, JSON arrays). JSON is parsed with
``parse_float=Decimal``: a number such as ``0.13080000000000003`` becomes that exact
decimal, never a binary float, so money read from it is what the document says.

A location (``Loc``) travels with each value: ``costs.json data[0].results[3].amount`` or
``spend.csv line 57 spend``. Errors are ``UsageFileError(message, field=location)``, which
the CLI prints as ``error: <location>: <message>``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from quotadesk import parse
from quotadesk.errors import UsageFileError
from quotadesk.money import NANOS_PER_DOLLAR

_INT_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")
_DECIMAL_TEXT = re.compile(r"^ *-?[0-9]{1,9}(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,2})? *$")
"""Provider money text: ASCII digits, under $1e9, up to 30 decimals (a float's noise past the
nano-dollar is rounded by ``nanos_rounded``). Unlike the contract's plain decimals
(``quotadesk.parse.money``), a provider's own export may write a float as it prints one
(LiteLLM's CSV ``7.5e-05``), so a two-digit exponent is read, exactly; no locale digits."""
_HAS_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}")


@dataclass(frozen=True, slots=True)
class Loc:
    """Where a value sits: the file as the user named it, a line (if line-based) and a path inside."""

    file: str
    line: int | None = None
    path: str = ""

    def at(self, key: str | int) -> Loc:
        step = f"[{key}]" if isinstance(key, int) else (f".{key}" if self.path else key)
        return Loc(self.file, self.line, self.path + step)

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file} line {self.line}"
        return f"{where} {self.path}" if self.path else where

    def error(self, message: str) -> UsageFileError:
        return UsageFileError(message, str(self))


# --- documents ------------------------------------------------------------------------------------


def load_json(path: Path) -> Any:
    """A whole JSON file with decimals kept exact; a clear error if it is not JSON."""
    return _json(read_bytes(path), Loc(str(path)))


def _json(raw: bytes, loc: Loc) -> Any:
    """One JSON document within ``quotadesk.parse``'s size and depth limits, decimals exact."""
    try:
        return parse.json_doc(raw, str(loc), parse_float=Decimal)
    except parse.ParseError as exc:
        raise loc.error(exc.message) from exc


def read_bytes(path: Path, limit: int = parse.MAX_JSON_BYTES) -> bytes:
    """A file's bytes within ``limit`` (``quotadesk.parse``); missing or unreadable is an error."""
    try:
        return parse.read_bytes(path, str(path), limit=limit)
    except parse.ParseError as exc:
        raise Loc(str(path)).error(exc.message) from exc


def rows_file(path: Path) -> None:
    """Refuse a rows file (CSV, JSON Lines, Parquet) that is missing, unreadable or past the limit."""
    try:
        parse.file_size(path, str(path), parse.MAX_ROWS_FILE_BYTES)
    except parse.ParseError as exc:
        raise Loc(str(path)).error(exc.message) from exc


def json_lines(path: Path) -> Iterator[tuple[Loc, Any]]:
    """Each non-blank line of a JSON Lines file, parsed, with its line number."""
    raw = read_bytes(path, parse.MAX_ROWS_FILE_BYTES)
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        loc = Loc(str(path), number)
        yield loc, _json(line, loc)


def pages(path: Path) -> Iterator[tuple[Loc, Mapping[str, Any]]]:
    """The pages of a paginated API export: one page, a JSON array of pages, or one page per line.

    A page is an object with a ``data`` list of buckets (``{"object": "page", "data": […]}``).
    """
    raw = read_bytes(path)
    head = raw.lstrip()[:1]
    if head == b"[":
        doc = load_json(path)
        for i, page in enumerate(doc):
            loc = Loc(str(path), None, f"[{i}]")
            yield loc, _page(loc, page)
        return
    try:
        doc = _json(raw, Loc(str(path)))
    except UsageFileError:
        for loc, page in json_lines(path):
            yield loc, _page(loc, page)
        return
    yield Loc(str(path)), _page(Loc(str(path)), doc)


def _page(loc: Loc, page: Any) -> Mapping[str, Any]:
    if not isinstance(page, Mapping):
        raise loc.error(f"expected a page object with a 'data' list, got {_kind(page)}")
    if not isinstance(page.get("data"), list):
        raise loc.at("data").error("missing: expected a list of buckets")
    return page


def records(path: Path) -> Iterator[tuple[Loc, Mapping[str, Any]]]:
    """Row objects from a JSON array, a ``{"data": [...]}`` object, or JSON Lines."""
    raw = read_bytes(path)
    head = raw.lstrip()[:1]
    if head in (b"[", b"{"):
        try:
            doc = _json(raw, Loc(str(path)))
        except UsageFileError:
            doc = None  # JSON Lines start with "{" too
        if isinstance(doc, Mapping) and not isinstance(doc.get("data", doc.get("rows")), list):
            # One row: on one line it is JSON Lines (errors name the line); spread over several
            # lines it is a file holding one JSON object (LiteLLM's /spend/logs?request_id=).
            doc = None if len([ln for ln in raw.splitlines() if ln.strip()]) == 1 else [doc]
        if doc is not None:
            if isinstance(doc, Mapping):
                rows = doc.get("data", doc.get("rows"))
                base = Loc(str(path), None, "data" if "data" in doc else "rows")
            elif isinstance(doc, list):
                rows, base = doc, Loc(str(path))
            else:
                raise Loc(str(path)).error(f"expected rows, got {_kind(doc)}")
            for i, row in enumerate(rows):
                loc = base.at(i)
                if not isinstance(row, Mapping):
                    raise loc.error(f"expected an object, got {_kind(row)}")
                yield loc, row
            return
    for loc, row in json_lines(path):
        if not isinstance(row, Mapping):
            raise loc.error(f"expected an object, got {_kind(row)}")
        yield loc, row


def buckets(loc: Loc, page: Mapping[str, Any]) -> Iterator[tuple[Loc, Mapping[str, Any], list[Any]]]:
    """(location, bucket, results) for each bucket of a page."""
    for i, bucket in enumerate(page["data"]):
        bloc = loc.at("data").at(i)
        if not isinstance(bucket, Mapping):
            raise bloc.error(f"expected a bucket object, got {_kind(bucket)}")
        results = bucket.get("results")
        if not isinstance(results, list):
            raise bloc.at("results").error("missing: expected a list of results")
        yield bloc, bucket, results


# --- typed fields ---------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, Decimal)):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text ({value[:40]!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _where(loc: Loc, field: str | None) -> Loc:
    return loc.at(field) if field else loc


def text(obj: Mapping[str, Any], name: str, loc: Loc, *, required: bool = False) -> str:
    """A string field ("" when absent and optional); numbers are taken as their text."""
    value = obj.get(name)
    if type(value) is str:
        stripped = value.strip()
        if stripped or not required:
            return stripped
    if not present(value):
        if required:
            raise loc.at(name).error("missing")
        return ""
    if isinstance(value, (bool, list, Mapping)):
        raise loc.at(name).error(f"expected text, got {_kind(value)}")
    return str(value)


def integer(
    obj: Mapping[str, Any], name: str, loc: Loc, *, required: bool = False, default: int = 0, minimum: int = 0
) -> int:
    """A whole count (tokens, requests): an int, an integral decimal or integer text; never negative."""
    return as_int(obj.get(name), loc, name, required=required, default=default, minimum=minimum)


def as_int(
    value: Any,
    loc: Loc,
    field: str | None = None,
    *,
    required: bool = False,
    default: int = 0,
    minimum: int | None = 0,
) -> int:
    """A whole number at ``loc`` (``.field``), refused below ``minimum``; ``default`` when absent."""
    if not present(value):
        if required:
            raise _where(loc, field).error("missing")
        return default
    try:
        return parse.integer(value, str(_where(loc, field)), minimum=minimum, maximum=parse.MAX_TOKENS)
    except parse.ParseError as exc:
        raise _where(loc, field).error(exc.message) from exc


def whole(obj: Mapping[str, Any], name: str, loc: Loc, *, required: bool = False, default: int = 0) -> int:
    """A count that may be written as an integral decimal (``3.0``: dashboards and spreadsheets
    write counts so); otherwise as ``integer``."""
    value = obj.get(name)
    if isinstance(value, str) and "." in value and present(value):
        amount = decimal(value, loc, name)
        if amount != amount.to_integral_value():
            raise loc.at(name).error(f"not an integer: {value.strip()[:40]!r}")
        value = int(amount)
    return as_int(value, loc, name, required=required, default=default)


def _integral(value: Any) -> bool:
    if isinstance(value, Decimal):
        return value.is_finite() and value == value.to_integral_value()
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, str) and bool(_INT_TEXT.match(value))


def decimal(value: Any, loc: Loc, field: str | None = None) -> Decimal:
    """An exact decimal from a JSON number (already a Decimal) or decimal text; floats refused."""
    if isinstance(value, (bool, float)):
        raise _where(loc, field).error(f"floating-point money is refused, got {value!r}")
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, str) and _DECIMAL_TEXT.match(value):
        d = Decimal(value.strip(" "))
    else:
        raise _where(loc, field).error(f"not a decimal amount: {_kind(value)}")
    if not d.is_finite() or abs(d) >= parse.MAX_DOLLARS:
        raise _where(loc, field).error(f"not a finite amount under $1e9: {str(value)[:40]!r}")
    return d


def nanos_rounded(amount: Decimal) -> int:
    """Dollars to nano-dollars, rounding half-even the digits past the nano.

    For amounts a provider serialized from a binary float (``0.13080000000000003``), whose
    digits past the ninth decimal are the float's noise, not money.
    """
    return int((amount * NANOS_PER_DOLLAR).to_integral_value(rounding=ROUND_HALF_EVEN))


# --- times ----------------------------------------------------------------------------------------


def unix_time(value: Any, loc: Loc, field: str | None = None) -> datetime:
    """Unix seconds (an integer) as a UTC datetime."""
    seconds = as_int(value, loc, field, required=True, minimum=0)
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise _where(loc, field).error(f"not a unix time in seconds: {seconds}") from exc


def timestamp(value: Any, loc: Loc, field: str | None = None, *, naive_is_utc: bool = False) -> datetime:
    """An RFC 3339 time as UTC. A time without an offset is refused unless ``naive_is_utc``.

    ``naive_is_utc`` is for sources whose convention is UTC without saying so (LiteLLM's
    PostgreSQL ``timestamp without time zone`` columns, written in UTC by Prisma).
    """
    if isinstance(value, datetime):
        when = value
    else:
        if not present(value) or not isinstance(value, str):
            raise _where(loc, field).error(
                "missing" if not present(value) else f"expected an RFC 3339 time, got {_kind(value)}"
            )
        raw = value.strip(" ")
        if naive_is_utc is False:
            try:
                return parse.timestamp(raw, str(_where(loc, field)))
            except parse.ParseError as exc:
                raise _where(loc, field).error(exc.message) from exc
        if len(raw) < 16 or raw[10] not in "Tt " or not _HAS_TIME.match(raw):
            raise _where(loc, field).error(f"not an RFC 3339 time: {raw[:40]!r}")
        try:
            when = datetime.fromisoformat(raw if raw[10] != "t" and raw[-1] != "z" else raw.upper())
        except ValueError as exc:
            raise _where(loc, field).error(f"not an RFC 3339 time: {raw[:40]!r}") from exc
        if when.tzinfo is None and not naive_is_utc:
            raise _where(loc, field).error(
                f"time has no UTC offset (naive): {raw[:40]!r}; write it in UTC, e.g. {raw}Z"
            )
    if when.tzinfo is None:
        if not naive_is_utc:
            raise _where(loc, field).error("time has no UTC offset (naive)")
        when = when.replace(tzinfo=UTC)
    try:
        return parse.in_range(when, str(_where(loc, field)))
    except parse.ParseError as exc:
        raise _where(loc, field).error(exc.message) from exc


def csv_rows(path: Path, required: tuple[str, ...] = ()) -> Iterator[tuple[Loc, Mapping[str, Any]]]:
    """Rows of a CSV file with a header, each with its line; ``required`` columns must be present."""
    rows_file(path)  # a clear error for a missing or oversized file
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                return
            header = [h.strip() for h in header]
            for name in required:
                if name not in header:
                    raise Loc(str(path), 1).error(f"missing required column {name!r}")
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
    except OSError as exc:
        raise Loc(str(path)).error(f"cannot read: {exc.strerror or exc}") from exc
