"""One parser for the values every surface reads: money, whole counts, timestamps, JSON documents.

Why one module: the same row must be accepted or refused the same way whether a case bundle,
a usage import, a CLI option, an HTTP body or a webhook reads it. Each rule is written once
here; the bulk validator of usage rows (``quotadesk.usage.checks``) runs the *same* patterns
inside DuckDB (``MONEY_PATTERN``, ``INT_PATTERN``, ``TS_PATTERN`` are RE2- and Python-compatible)
and calls these functions to word the error of the first bad row.

The rules (``docs/testing.md`` and the contract state them too):

- **money** is a plain decimal string (``"12.50"``, ``"-3"``): ASCII digits, an optional
  leading ``-``, at most ``MONEY_INT_DIGITS`` digits before the point and ``MONEY_SCALE``
  after it; no exponent, no ``$``/``_``/``,``, no locale or non-ASCII digits, no NaN or
  infinity. An ``int`` or a ``Decimal`` (a typed value: Parquet decimals, code) is taken
  within the same bounds; a ``float`` or ``bool`` is refused. Negative only where the field
  allows it (``negative=True``).
- **whole counts** (tokens, requests, status) are ``int`` (not ``bool``) or ASCII digit text
  of at most ``INT_DIGITS`` digits, then bounded (tokens: ``0..MAX_TOKENS``). A float, a
  ``Decimal`` or ``"1.0"`` where an integer is promised is refused.
- **timestamps** are RFC 3339 with ``Z`` or a ``±HH:MM`` offset (seconds optional), between
  ``TS_MIN`` (2000-01-01) inclusive and ``TS_MAX`` (2100-01-01) exclusive, returned in UTC.
- **JSON documents** are at most ``MAX_JSON_BYTES`` (per document) and nested at most
  ``MAX_JSON_DEPTH`` deep.

Every refusal is a ``ParseError`` (an ``InputError`` that is also a ``ValueError``, so pydantic
turns it into a 4xx naming the field) whose ``field`` is the caller's path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from quotadesk.errors import InputError

MONEY_INT_DIGITS = 9
MONEY_SCALE = 9
MAX_DOLLARS = Decimal(10) ** MONEY_INT_DIGITS
"""Money is below a billion dollars in absolute value (int64 nano-dollars hold $9.2e9)."""
INT_DIGITS = 13
MAX_TOKENS = 10**12
"""More tokens than this in one row is a corrupt value, not usage (and would overflow costs)."""
MAX_REQUESTS = MAX_TOKENS
TS_MIN = datetime(2000, 1, 1, tzinfo=UTC)
TS_MAX = datetime(2100, 1, 1, tzinfo=UTC)
MAX_JSON_DEPTH = 64
MAX_JSON_BYTES = 256 * 1024 * 1024
"""A JSON document (a bundle, an export page, a webhook) larger than 256 MiB is refused unread."""
MAX_ROWS_FILE_BYTES = 8 * 1024**3
"""A rows file (CSV, JSON Lines, Parquet) larger than 8 GiB is refused unread."""
MAX_TEXT = 1_000_000
"""A text field longer than a million characters is refused."""

# Patterns shared with the engine (RE2): ASCII classes only, spaces allowed around.
MONEY_PATTERN = rf"-?[0-9]{{1,{MONEY_INT_DIGITS}}}(\.[0-9]{{1,{MONEY_SCALE}}}0{{0,21}})?"
"""Trailing zeros past the nano-dollar are exact and allowed, up to 30 decimals in all."""
INT_PATTERN = rf"-?[0-9]{{1,{INT_DIGITS}}}"
TS_PATTERN = (
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})(:([0-9]{2})(\.[0-9]{1,9})?)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
NAIVE_TS_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?"


def anchored(pattern: str) -> str:
    """``pattern`` as a whole-value match, spaces allowed around (the engine's form)."""
    return rf"^ *({pattern}) *$"


_MONEY = re.compile(anchored(MONEY_PATTERN))
_INT = re.compile(anchored(INT_PATTERN))
_TS = re.compile(anchored(TS_PATTERN))
_NAIVE = re.compile(anchored(NAIVE_TS_PATTERN))
_PLAIN = re.compile(r"^ *-?0*([0-9]+)(\.[0-9]+)? *$")
_DIGITS = re.compile(r"^ *-?[0-9]+ *$")
_SURROGATE = re.compile("[\ud800-\udfff]")


class ParseError(InputError, ValueError):
    """A value outside the rules above; ``field`` names where it was read."""


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = text[:40] + ("…" if len(text) > 40 else "")
    return repr(clean_text(text))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float):
        return f"a float ({value!r})"
    if isinstance(value, Decimal):
        return f"a number with a fraction ({value})"
    return type(value).__name__


# --- money ------------------------------------------------------------------------------------------


def money(value: Any, field: str | None = None, *, negative: bool = False) -> Decimal:
    """Dollars as an exact ``Decimal``, by the money rule of the module docstring."""
    if isinstance(value, (bool, float)):
        raise ParseError(f"expected a decimal string, got {_kind(value)}", field)
    if isinstance(value, str):
        if not _MONEY.match(value):
            plain = _PLAIN.match(value)
            if plain and len(plain.group(1)) > MONEY_INT_DIGITS:
                raise ParseError(f"not a decimal amount of dollars under $1e9: {_show(value)}", field)
            if plain:
                raise ParseError(f"finer than a nano-dollar: {_show(value)}", field)
            raise ParseError(f"not a decimal amount (plain digits, no exponent): {_show(value)}", field)
        d = Decimal(value.strip(" "))
    elif isinstance(value, int):
        if abs(value) >= MAX_DOLLARS:
            raise ParseError(f"implausibly large amount ({_show(value)}); at most {MONEY_INT_DIGITS} digits", field)
        d = Decimal(value)
    elif isinstance(value, Decimal):
        d = value
        if not d.is_finite():
            raise ParseError(f"not a finite amount: {_show(value)}", field)
        if abs(d) >= MAX_DOLLARS:
            raise ParseError(f"implausibly large amount; at most {MONEY_INT_DIGITS} digits", field)
        try:
            if d != d.quantize(Decimal(1).scaleb(-MONEY_SCALE)):
                raise ParseError(f"finer than a nano-dollar: {_show(str(value))}", field)
        except InvalidOperation as exc:
            raise ParseError(f"not a decimal amount: {_show(str(value))}", field) from exc
    else:
        raise ParseError(f"expected a decimal string, got {_kind(value)}", field)
    if d < 0 and not negative:
        raise ParseError(f"must not be negative: {_show(value if isinstance(value, str) else str(d))}", field)
    return d


def money_nanos(value: Any, field: str | None = None, *, negative: bool = False) -> int:
    """Dollars (money rule) as integer nano-dollars, exactly."""
    return int(money(value, field, negative=negative) * 1_000_000_000)


# --- whole counts -----------------------------------------------------------------------------------


def integer(
    value: Any,
    field: str | None = None,
    *,
    minimum: int | None = 0,
    maximum: int | None = MAX_TOKENS,
    default: int | None = None,
) -> int:
    """A whole count by the integer rule; ``default`` when absent (None or blank text)."""
    if value is None or (isinstance(value, str) and not value.strip(" ")):
        if default is None:
            raise ParseError("missing", field)
        return default
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ParseError(f"expected an integer, got {_kind(value)}", field)
    if isinstance(value, str):
        if not _INT.match(value):
            if _DIGITS.match(value):
                raise ParseError(f"implausibly large ({_show(value)}); at most {INT_DIGITS} digits", field)
            raise ParseError(f"not an integer: {_show(value)}", field)
        number = int(value.strip(" "))
    else:
        number = value
    if minimum is not None and number < minimum:
        raise ParseError(f"negative ({number})" if minimum == 0 else f"must be at least {minimum} ({number})", field)
    if maximum is not None and number > maximum:
        raise ParseError(f"implausibly large ({_show(str(number))}); at most {maximum}", field)
    return number


def tokens(value: Any, field: str | None = None, *, default: int | None = 0) -> int:
    """A token count: ``0..MAX_TOKENS``."""
    return integer(value, field, minimum=0, maximum=MAX_TOKENS, default=default)


def requests(value: Any, field: str | None = None, *, default: int | None = 1) -> int:
    """A request count: ``1..MAX_REQUESTS``."""
    return integer(value, field, minimum=1, maximum=MAX_REQUESTS, default=default)


def http_status(value: Any, field: str | None = None, *, default: int | None = 200) -> int:
    """An HTTP status: ``100..599``."""
    number = integer(value, field, minimum=None, maximum=None, default=default)
    if not 100 <= number <= 599:
        raise ParseError(f"not an HTTP status ({number})", field)
    return number


# --- timestamps -------------------------------------------------------------------------------------


def in_range(when: datetime, field: str | None = None) -> datetime:
    """An aware datetime in UTC, refused outside ``TS_MIN..TS_MAX``."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ParseError("timestamp has no UTC offset (naive)", field)
    try:
        utc = when.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise ParseError(f"timestamp outside {TS_MIN.date()}..{TS_MAX.date()}", field) from exc
    if not TS_MIN <= utc < TS_MAX:
        raise ParseError(f"timestamp outside {TS_MIN.date()}..{TS_MAX.date()} ({_show(str(when))})", field)
    return utc


def timestamp(value: Any, field: str | None = None) -> datetime:
    """An RFC 3339 UTC timestamp (string or aware datetime) within the stated range, in UTC."""
    if isinstance(value, datetime):
        return in_range(value, field)
    if not isinstance(value, str):
        raise ParseError(f"expected an RFC 3339 timestamp, got {_kind(value)}", field)
    m = _TS.match(value)
    if m is None:
        if _NAIVE.match(value):
            raise ParseError(f"timestamp has no UTC offset (naive): {_show(value)}", field)
        raise ParseError(f"not an RFC 3339 timestamp: {_show(value)}", field)
    year, month, day, hour, minute, _, sec, frac, off = m.groups()[1:]
    if not 1900 <= int(year) <= 2200:  # far outside the range: refuse before any calendar arithmetic
        raise ParseError(f"timestamp outside {TS_MIN.date()}..{TS_MAX.date()} ({_show(value)})", field)
    try:
        if off in ("Z", "z"):
            tz = UTC
        else:
            hh, mm = int(off[1:3]), int(off[4:6])
            if hh > 23 or mm > 59:
                raise ValueError("offset")
            delta = timedelta(hours=hh, minutes=mm)
            tz = timezone(-delta if off[0] == "-" else delta)
        micro = int((frac[1:] + "000000")[:6]) if frac else 0
        when = datetime(int(year), int(month), int(day), int(hour), int(minute), int(sec or 0), micro, tz)
    except ValueError as exc:
        raise ParseError(f"not an RFC 3339 timestamp: {_show(value)}", field) from exc
    return in_range(when, field)


# --- text -------------------------------------------------------------------------------------------


def clean_text(text: str) -> str:
    """``text`` with lone surrogates (and other unencodable code points) replaced by U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)


def clean(value: Any) -> Any:
    """A JSON-ready value with every string cleaned (``clean_text``), keys included."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean(k) if isinstance(k, str) else k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def markup(text: str) -> str:
    """``text`` safe for a rich renderer: markup escaped, surrogates replaced."""
    from rich.markup import escape

    return escape(clean_text(text))


def dumps(data: Any, *, indent: int | None = 2) -> str:
    """JSON that is always valid UTF-8: surrogates replaced, non-JSON values as text."""
    return json.dumps(clean(data), indent=indent, ensure_ascii=False, default=lambda v: clean_text(str(v)))


# --- JSON documents ---------------------------------------------------------------------------------


def depth(doc: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """How deep ``doc`` nests (a scalar is 0), walking iteratively; stops past ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        stack.extend((c, level) for c in children if isinstance(c, (dict, list)))
    return deepest


def json_doc(
    raw: bytes | str,
    field: str | None = None,
    *,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
    parse_float: Callable[[str], Any] | None = None,
) -> Any:
    """Parse one JSON document within the size and depth limits; every failure a ``ParseError``.

    Python's parser recurses: a document nested past the interpreter's limit would raise
    ``RecursionError``; it is caught here and reported as too deep, like any document past
    ``max_depth``. Constants ``NaN``/``Infinity`` are refused (they are not JSON).
    """
    if len(raw) > max_bytes:
        raise ParseError(f"document too large ({len(raw)} bytes; the limit is {max_bytes})", field)
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig") if raw.startswith(b"\xef\xbb\xbf") else raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"not UTF-8 text (byte {exc.start})", field) from exc
    try:
        doc = json.loads(raw, parse_float=parse_float, parse_constant=_no_constant)
    except RecursionError as exc:
        raise ParseError(f"nested deeper than {max_depth} levels", field) from exc
    except json.JSONDecodeError as exc:
        raise ParseError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", field) from exc
    except (ValueError, OverflowError, InvalidOperation) as exc:  # a huge integer, a bad constant
        raise ParseError(f"not valid JSON: {str(exc)[:80]}", field) from exc
    if depth(doc, max_depth) > max_depth:
        raise ParseError(f"nested deeper than {max_depth} levels", field)
    return doc


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def file_size(path: Path, field: str | None, limit: int) -> int:
    """The size of a regular file, refused when it is missing, unreadable or past ``limit``."""
    try:
        if not path.is_file():
            raise ParseError(f"no such file: {clean_text(str(path))[:300]}", field)
        size = path.stat().st_size
    except OSError as exc:
        raise ParseError(f"cannot read {clean_text(str(path))[:300]}: {exc.strerror or exc}", field) from exc
    if size > limit:
        raise ParseError(f"file too large ({size} bytes; the limit is {limit})", field)
    return size


def read_bytes(path: Path, field: str | None = None, *, limit: int = MAX_JSON_BYTES) -> bytes:
    """A file's bytes within ``limit``; a missing or unreadable file is a ``ParseError``."""
    file_size(path, field, limit)
    try:
        return path.read_bytes()
    except (OSError, ValueError) as exc:
        raise ParseError(f"cannot read {clean_text(str(path))[:300]}: {getattr(exc, 'strerror', None) or exc}", field) from exc


def json_file(path: Path, field: str | None = None, **kw: Any) -> Any:
    """A JSON file read and parsed within the limits (``json_doc``)."""
    return json_doc(read_bytes(path, field, limit=kw.get("max_bytes", MAX_JSON_BYTES)), field, **kw)
