"""The rules every usage row must keep, run in the engine and mirrored in Python.

Each rule (``Check``) is an engine flag counted over all rows in one pass, and a Python
test of one row's text used only when the count is not zero, to name the first row that
breaks it. Keeping both side by side keeps them in step.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from quotadesk.errors import UsageFileError
from quotadesk.usage.engine import INT_COLUMNS, TEXT_COLUMNS
from quotadesk.usage.sources import Source, field_of

MAX_TOKENS = 10**12
"""More tokens than this in one row is a corrupt value, not usage (and would overflow costs)."""
DEFAULTS = {"input_tokens": 0, "output_tokens": 0, "cached_tokens": 0, "requests": 1, "status": 200}

_TS_RE = r"^\s*\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*([Zz]|[+-]\d{2}(:?\d{2})?)\s*$"
_TS_NAIVE_RE = r"^\s*\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*$"
_INT_RE = r"^\s*[+-]?\d+\s*$"
MAX_COST_DOLLARS = 10**9
"""A billion dollars in one row is a corrupt value (and would overflow nano-dollars)."""
_FINER_RE = r"\.\d{9}\d*[1-9]\s*$"


@dataclass(frozen=True)
class Check:
    """One rule, as an engine flag (counted over all rows) and its Python mirror (to locate)."""

    column: str
    message: str
    flag: Any
    test: Callable[[dict[str, str | None]], str | None]


def blank(value: str | None) -> bool:
    return value is None or not value.strip()


def check_columns(schema: Any, source: Source) -> None:
    names = set(schema.names)
    for required in ("ts", "model"):
        if required not in names:
            raise source.column_error("missing required column", required)
    ts_type = schema["ts"]
    if ts_type.is_timestamp() and ts_type.timezone is None:
        raise source.column_error("timestamps have no UTC offset (naive); write them in UTC", "ts")
    if "cost" in names and schema["cost"].is_floating():
        raise source.column_error("floating-point money is refused; write decimal strings of dollars", "cost")
    if "cost" in names and schema["cost"].is_decimal() and (schema["cost"].scale or 0) > 9:
        raise source.column_error("finer than a nano-dollar", "cost")


def normalize(raw: Any, schema: Any) -> tuple[Any, list[Check]]:
    """The contract columns typed and defaulted, and the checks that guard the casts.

    Two projections: the first computes each text column's trimmed value and its pattern
    matches once, as columns, so the second (casts, defaults, check flags) reads them
    instead of evaluating the same regular expression several times per row.
    """
    import ibis

    names = set(schema.names)
    prep: dict[str, Any] = {}

    def text(name: str) -> Any:
        if name not in names:
            return ibis.literal(None, type="string")
        col = raw[name]
        if not schema[name].is_string():
            col = col.cast("string")
        return col.strip().nullif("")

    ts_typed = schema["ts"].is_timestamp()
    if not ts_typed:
        prep["_ts"] = text("ts")
        prep["_ts_ok"] = prep["_ts"].re_search(_TS_RE)
        prep["_ts_naive"] = prep["_ts"].re_search(_TS_NAIVE_RE)
    int_text = [
        n for n in INT_COLUMNS if not (n in names and (schema[n].is_integer() or schema[n].is_floating()))
    ]
    for name in int_text:
        prep[f"_{name}"] = text(name)
        prep[f"_{name}_ok"] = prep[f"_{name}"].re_search(_INT_RE)
    cost_decimal = "cost" in names and schema["cost"].is_decimal()
    if not cost_decimal:
        # One exact parse into an int64-backed decimal (nano-dollars under $1e9); digits
        # past the nano-dollar are looked for only where the text is long enough to hold
        # them. Trimming or a pattern on every row would cost more than the rest together.
        cost_text = raw.cost.nullif("") if "cost" in names and schema["cost"].is_string() else text("cost")
        prep["_cost"] = cost_text
        prep["_cost_d"] = cost_text.try_cast("decimal(18, 9)")
        dot = cost_text.find(".")
        prep["_cost_fine"] = ibis.ifelse(
            (dot >= 0) & (cost_text.length() - dot > 10), cost_text.re_search(_FINER_RE), False
        )
    pre = raw.mutate(**prep) if prep else raw

    checks: list[Check] = []
    cols: dict[str, Any] = {}
    if ts_typed:
        ts_val = pre.ts.cast("timestamp('UTC')")
        checks.append(
            Check("ts", "missing", ts_val.isnull(), lambda r: "missing" if blank(r["ts"]) else None)
        )
    else:
        ts_val = pre._ts.try_cast("timestamp('UTC')")
        checks += [
            Check("ts", "missing", pre._ts.isnull(), lambda r: "missing" if blank(r["ts"]) else None),
            Check("ts", "timestamp has no UTC offset (naive)", pre._ts_naive, lambda r: _naive(r["ts"])),
            Check(
                "ts",
                "not an RFC 3339 timestamp",
                pre._ts.notnull() & ~pre._ts_naive & (~pre._ts_ok | ts_val.isnull()),
                lambda r: _junk_ts(r["ts"]),
            ),
        ]
    cols["ts"] = ts_val

    # model and the other text columns
    model = pre.model if schema["model"].is_string() else pre.model.cast("string")
    checks.append(
        Check(
            "model",
            "missing",
            model.isnull() | (model.strip() == ""),
            lambda r: "missing" if blank(r["model"]) else None,
        )
    )
    cols["model"] = model
    for name in TEXT_COLUMNS:
        if name not in names:
            cols[name] = ibis.literal("", type="string")
        elif schema[name].is_string():
            cols[name] = pre[name].fill_null("")
        else:
            cols[name] = pre[name].cast("string").fill_null("")

    # integers
    for name in INT_COLUMNS:
        default = DEFAULTS[name]
        if name in names and schema[name].is_integer():
            value = pre[name].cast("int64")
        elif name in names and schema[name].is_floating():
            col = pre[name]
            checks.append(
                Check(name, "not an integer", col.notnull() & (col != col.floor()), _int_test(name))
            )
            value = col.cast("int64")
        else:
            t, ok = pre[f"_{name}"], pre[f"_{name}_ok"]
            checks.append(Check(name, "not an integer", t.notnull() & ~ok, _int_test(name)))
            value = ibis.ifelse(ok, t.try_cast("int64"), ibis.null("int64"))
        value = value.fill_null(default)
        if name == "requests":
            checks.append(Check(name, "must be at least 1", value < 1, _range_test(name, 1, None)))
        elif name == "status":
            checks.append(
                Check(name, "not an HTTP status", (value < 100) | (value > 599), _range_test(name, 100, 599))
            )
        else:
            checks.append(Check(name, "negative", value < 0, _range_test(name, 0, None)))
            checks.append(
                Check(name, "implausibly large", value > MAX_TOKENS, _range_test(name, 0, None, MAX_TOKENS))
            )
        cols[name] = value

    # cost
    if cost_decimal:
        d = pre.cost.cast("decimal(38, 9)")
        checks.append(Check("cost", "implausibly large", d.abs() >= MAX_COST_DOLLARS, _cost_test))
        exact = d
    else:
        checks += [
            Check(
                "cost",
                "not a decimal amount of dollars under $1e9",
                pre._cost.notnull() & pre._cost_d.isnull(),
                _cost_test,
            ),
            Check("cost", "finer than a nano-dollar", pre._cost_fine, _cost_nano_test),
        ]
        exact = ibis.ifelse(pre._cost_fine, ibis.null("decimal(18, 9)"), pre._cost_d).cast("decimal(38, 9)")
    cols["given_nanos"] = (exact * 1_000_000_000).cast("int64")
    flags = {f"_f{i}": check.flag.fill_null(False) for i, check in enumerate(checks)}
    normal = pre.select(**cols, **flags)
    return normal, checks


def _naive(value: str | None) -> str | None:
    if value is not None and re.search(_TS_NAIVE_RE, value):
        return "timestamp has no UTC offset (naive)"
    return None


def _junk_ts(value: str | None) -> str | None:
    if blank(value) or _naive(value):
        return None
    assert value is not None
    if not re.search(_TS_RE, value):
        return f"not an RFC 3339 timestamp: {value[:40]!r}"
    text = value.strip().replace("z", "Z").replace("Z", "+00:00").replace("t", "T")
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return f"not an RFC 3339 timestamp: {value[:40]!r}"
    return None


def _int_test(name: str) -> Callable[[dict[str, str | None]], str | None]:
    def test(row: dict[str, str | None]) -> str | None:
        value = row[name]
        if blank(value) or re.search(_INT_RE, value or ""):
            return None
        assert value is not None
        return f"not an integer: {value[:40]!r}"

    return test


def _range_test(
    name: str, low: int, high: int | None, most: int | None = None
) -> Callable[[dict[str, str | None]], str | None]:
    def test(row: dict[str, str | None]) -> str | None:
        value = row[name]
        if blank(value):
            return None
        assert value is not None
        try:
            number = int(value.strip()) if re.search(_INT_RE, value) else int(float(value))
        except ValueError:
            return None
        if most is not None:
            return f"implausibly large ({number})" if number > most else None
        if number < low or (high is not None and number > high):
            if low == 0:
                return f"negative ({number})"
            if high is None:
                return f"must be at least {low} (got {number})"
            return f"not an HTTP status ({number})"
        return None

    return test


def _decimal(value: str | None) -> Decimal | None:
    """The cost as the engine parses it, or None when it is missing or junk."""
    if blank(value):
        return None
    assert value is not None
    try:
        d = Decimal(value.strip())
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _cost_test(row: dict[str, str | None]) -> str | None:
    value = row["cost"]
    if blank(value):
        return None
    assert value is not None
    d = _decimal(value)
    if d is None or abs(d) >= MAX_COST_DOLLARS:
        return f"not a decimal amount of dollars under $1e9: {value[:40]!r}"
    return None


def _cost_nano_test(row: dict[str, str | None]) -> str | None:
    d = _decimal(row["cost"])
    if d is not None and abs(d) < MAX_COST_DOLLARS and d != d.quantize(Decimal("0.000000001")):
        return f"finer than a nano-dollar: {row['cost']!r}"
    return None


def validate(census: list[dict[str, Any]], checks: list[Check], source: Source) -> None:
    """Raise for the first row that breaks a check, if any check counted a failure."""
    counts = [sum(int(c[f"c{i}"] or 0) for c in census) for i in range(len(checks))]
    failed = [(check, n) for check, n in zip(checks, counts, strict=True) if n]
    if failed:
        raise_located(source, [check for check, _ in failed])
        first, count = failed[0]
        raise UsageFileError(f"{first.message} ({count} rows)", f"{field_of(source)}.{first.column}")


def raise_located(source: Source, checks: list[Check] | None) -> None:
    """Scan the source in order and raise for the first row that breaks a rule.

    With ``checks`` None only the shape is scanned (not JSON, wrong field count), which is
    what an engine read error means.
    """
    for where, row in source.scan():
        for check in checks or ():
            message = check.test(row)
            if message:
                raise UsageFileError(message, f"{where}.{check.column}")
