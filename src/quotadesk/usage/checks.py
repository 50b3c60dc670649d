"""The rules every usage row must keep, run in the engine and mirrored in Python.

Each rule (``Check``) is an engine flag counted over all rows in one pass, and a Python
test of one row's text used only when the count is not zero, to name the first row that
breaks it. The rules are those of ``quotadesk.parse`` (the one parser of money, counts and
timestamps): the engine runs its patterns and bounds, the Python side calls its functions,
so a row is refused the same way here as by ``usage import``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from quotadesk import parse
from quotadesk.errors import UsageFileError
from quotadesk.parse import MAX_TOKENS, anchored
from quotadesk.usage.engine import INT_COLUMNS, TEXT_COLUMNS
from quotadesk.usage.sources import Source, field_of

__all__ = ["MAX_TOKENS", "Check", "check_columns", "normalize", "raise_located", "validate"]
DEFAULTS = {"input_tokens": 0, "output_tokens": 0, "cached_tokens": 0, "requests": 1, "status": 200}

_TS_RE = anchored(parse.TS_PATTERN)
_TS_NAIVE_RE = anchored(parse.NAIVE_TS_PATTERN)
_INT_RE = anchored(parse.INT_PATTERN)
_MONEY_RE = anchored(parse.MONEY_PATTERN)
MAX_COST_DOLLARS = int(parse.MAX_DOLLARS)
"""A billion dollars in one row is a corrupt value (and would overflow nano-dollars)."""


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
    if "cost" in names and schema["cost"].is_decimal() and (schema["cost"].scale or 0) > parse.MONEY_SCALE:
        raise source.column_error("finer than a nano-dollar", "cost")
    for name in INT_COLUMNS:
        if name in names and schema[name].is_floating():
            raise source.column_error("a floating-point column where integers are promised", name)


def normalize(raw: Any, schema: Any) -> tuple[Any, list[Check]]:
    """The contract columns typed and defaulted, and the checks that guard the casts.

    Two projections: the first computes each text column's trimmed value and its pattern
    matches once, as columns, so the second (casts, defaults, check flags) reads them
    instead of evaluating the same regular expression several times per row. The patterns
    bound the digits, so every cast that follows is exact (no overflow to null, no exponent).
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
    int_text = [n for n in INT_COLUMNS if not (n in names and schema[n].is_integer())]
    for name in int_text:
        prep[f"_{name}"] = text(name)
        prep[f"_{name}_ok"] = prep[f"_{name}"].re_search(_INT_RE)
    cost_decimal = "cost" in names and schema["cost"].is_decimal()
    if not cost_decimal:
        if "cost" in names and schema["cost"].is_json():
            # JSON Lines: a JSON string holds the decimal; a JSON number must be an integer
            # (a number with a fraction or an exponent is floating-point money, refused).
            js = raw.cost.cast("string")
            quoted = js.startswith('"')
            cost_text = ibis.ifelse(quoted, js.substr(1, js.length() - 2), js).nullif("")
            prep["_cost_number"] = js.notnull() & ~quoted & ~js.re_search(_INT_RE)
        else:
            cost_text = text("cost")
            prep["_cost_number"] = ibis.literal(False)
        prep["_cost"] = cost_text
        prep["_cost_ok"] = cost_text.re_search(_MONEY_RE)
    pre = raw.mutate(**prep) if prep else raw

    checks: list[Check] = []
    cols: dict[str, Any] = {}
    if ts_typed:
        ts_val = pre.ts.cast("timestamp('UTC')")
        checks.append(
            Check("ts", "missing", ts_val.isnull(), lambda r: "missing" if blank(r["ts"]) else None)
        )
    else:
        ts_val = ibis.ifelse(pre._ts_ok, pre._ts.try_cast("timestamp('UTC')"), ibis.null("timestamp('UTC')"))
        checks += [
            Check("ts", "missing", pre._ts.isnull(), lambda r: "missing" if blank(r["ts"]) else None),
            Check("ts", "timestamp has no UTC offset (naive)", pre._ts_naive, _ts_test("naive")),
            Check(
                "ts",
                "not an RFC 3339 timestamp",
                pre._ts.notnull() & ~pre._ts_naive & (~pre._ts_ok | ts_val.isnull()),
                _ts_test("junk"),
            ),
        ]
    low = ibis.literal(parse.TS_MIN).cast("timestamp('UTC')")
    high = ibis.literal(parse.TS_MAX).cast("timestamp('UTC')")
    checks.append(
        Check(
            "ts",
            f"timestamp outside {parse.TS_MIN.date()}..{parse.TS_MAX.date()}",
            ts_val.notnull() & ((ts_val < low) | (ts_val >= high)),
            _ts_test("range"),
        )
    )
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
        else:
            t, ok = pre[f"_{name}"], pre[f"_{name}_ok"]
            checks.append(Check(name, "not an integer", t.notnull() & ~ok, _int_test(name, "shape")))
            value = ibis.ifelse(ok, t.try_cast("int64"), ibis.null("int64"))
        value = value.fill_null(default)
        if name == "requests":
            checks.append(Check(name, "must be at least 1", value < 1, _int_test(name, "low")))
            checks.append(
                Check(name, "implausibly large", value > parse.MAX_REQUESTS, _int_test(name, "high"))
            )
        elif name == "status":
            checks.append(
                Check(name, "not an HTTP status", (value < 100) | (value > 599), _int_test(name, "range"))
            )
        else:
            checks.append(Check(name, "negative", value < 0, _int_test(name, "low")))
            checks.append(Check(name, "implausibly large", value > MAX_TOKENS, _int_test(name, "high")))
        cols[name] = value

    # cost
    if cost_decimal:
        d = pre.cost.cast("decimal(38, 9)")
        checks.append(Check("cost", "implausibly large", d.abs() >= MAX_COST_DOLLARS, _cost_test("large")))
        exact = d
    else:
        checks += [
            Check(
                "cost",
                "expected a decimal string of dollars, got a number with a fraction",
                pre._cost_number,
                _cost_test("number"),
            ),
            Check(
                "cost",
                "not a plain decimal amount of dollars",
                pre._cost.notnull() & ~pre._cost_number & ~pre._cost_ok,
                _cost_test("shape"),
            ),
        ]
        exact = ibis.ifelse(pre._cost_ok, pre._cost.try_cast("decimal(18, 9)"), ibis.null("decimal(18, 9)"))
        exact = exact.cast("decimal(38, 9)")
    checks.append(Check("cost", "must not be negative", exact < 0, _cost_test("negative")))
    cols["given_nanos"] = (exact * 1_000_000_000).cast("int64")
    flags = {f"_f{i}": check.flag.fill_null(False) for i, check in enumerate(checks)}
    normal = pre.select(**cols, **flags)
    return normal, checks


def _message(call: Callable[[], object]) -> str | None:
    try:
        call()
    except parse.ParseError as exc:
        return exc.message
    return None


def _ts_test(kind: str) -> Callable[[dict[str, Any]], str | None]:
    """The Python mirror of a timestamp check: ``parse.timestamp``'s refusal of that kind."""

    def test(row: dict[str, Any]) -> str | None:
        value = row["ts"]
        if value is None or (isinstance(value, str) and blank(value)):
            return None
        message = _message(lambda: parse.timestamp(value))
        if message is None:
            return None
        naive = "naive" in message
        outside = "outside" in message
        if (kind == "naive") == naive and (kind == "range") == outside:
            return message
        return None

    return test


def _int_test(name: str, kind: str) -> Callable[[dict[str, Any]], str | None]:
    """The Python mirror of a count check: ``parse.integer``'s refusal of that kind."""
    bounds = {"requests": (1, parse.MAX_REQUESTS), "status": (None, None)}.get(name, (0, MAX_TOKENS))

    def test(row: dict[str, Any]) -> str | None:
        value = row[name]
        if value is None or (isinstance(value, str) and blank(value)):
            return None
        if kind == "shape":
            return _message(lambda: parse.integer(value, minimum=None, maximum=None))
        if _message(lambda: parse.integer(value, minimum=None, maximum=None)) is not None:
            return None
        if kind == "range":
            return _message(lambda: parse.http_status(value))
        low, high = bounds
        message = _message(lambda: parse.integer(value, minimum=low, maximum=high))
        if message is None:
            return None
        return message if (kind == "high") == ("large" in message) else None

    return test


def _cost_test(kind: str) -> Callable[[dict[str, Any]], str | None]:
    """The Python mirror of a cost check: ``parse.money``'s refusal of that kind."""

    def test(row: dict[str, Any]) -> str | None:
        value = row["cost"]
        if value is None or (isinstance(value, str) and blank(value)):
            return None
        if kind == "number":
            if isinstance(value, (float, Decimal)) and not isinstance(value, bool):
                return f"expected a decimal string of dollars, got a number with a fraction ({value})"
            return None
        if isinstance(value, (float, Decimal)) and kind != "large":
            return None
        message = _message(lambda: parse.money(value, negative=True))
        if kind in ("shape", "large"):
            return message
        if message is None and _message(lambda: parse.money(value)) is not None:
            return _message(lambda: parse.money(value))
        return None

    return test


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
