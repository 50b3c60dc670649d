"""Loading usage records: validate every row, cost what has no cost, keep it in the engine.

A case bundle carries its usage inline (``usage.records[]``) or as a file beside it
(``usage.records_file``: JSON Lines, CSV or Parquet) with the contract's columns
``ts, request_id, key_id, model, input_tokens, output_tokens, cached_tokens, requests,
status, cost, fingerprint, ip``. Only ``ts`` and ``model`` are required; the others
default to ``""`` (ids, fingerprint, ip), ``0`` (tokens), ``1`` (requests) and ``200``
(status).

Validation runs inside DuckDB in one pass (a million rows cost tens of milliseconds);
only when a check fails does Python scan the source to name the first offending row, so
the error reads ``usage.records[12].input_tokens: negative (-5)`` or ``records_file line
57: not JSON``. Every row must have a timestamp with a UTC offset: a naive time is an
error, not a guess.

Cost: ``cost`` is a decimal string of dollars, stored as integer nano-dollars. When it is
missing the price table costs the row (``quotadesk.billing.pricing``: uncached input,
output and cached input, rounded half-even once) — except a failing request (status >=
400), which providers do not bill and which costs 0. A model with no price and no cost is
an error naming the row: it is never costed at $0.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from quotadesk.billing.pricing import DEFAULT_TABLE, PriceTable, UnknownModelError
from quotadesk.errors import UsageFileError
from quotadesk.usage import engine

INT_COLUMNS = ("input_tokens", "output_tokens", "cached_tokens", "requests", "status")
TEXT_COLUMNS = ("request_id", "key_id", "fingerprint", "ip")
OUTPUT_COLUMNS = (
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
MAX_TOKENS = 10**12
"""More tokens than this in one row is a corrupt value, not usage (and would overflow costs)."""
DEFAULTS = {"input_tokens": 0, "output_tokens": 0, "cached_tokens": 0, "requests": 1, "status": 200}

_TS_RE = r"^\s*\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*([Zz]|[+-]\d{2}(:?\d{2})?)\s*$"
_TS_NAIVE_RE = r"^\s*\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*$"
_INT_RE = r"^\s*[+-]?\d+\s*$"
_COST_RE = r"^\s*-?\d+(\.\d+)?\s*$"
_COST_NANO_RE = r"^\s*-?\d+(\.\d{1,9})?\s*$"


@dataclass(frozen=True, eq=False)
class UsageData:
    """A validated usage log held in the analytics engine, plus its headline figures.

    ``table`` is an Ibis table with columns ``ts`` (UTC timestamp), ``request_id``,
    ``key_id``, ``model``, ``input_tokens``, ``output_tokens``, ``cached_tokens``,
    ``requests``, ``status`` (int64), ``cost_nanos`` (int64 nano-dollars), ``fingerprint``
    and ``ip`` (text, ``""`` when absent). ``source`` is the bundle's JSON pointer to the
    records, quoted as the source of every usage fact. ``priced_rows`` counts rows whose
    cost came from the price table; ``prices`` is the table used, kept so detectors can
    ask a model's price class.
    """

    con: Any
    table: Any
    rows: int
    requests: int
    total_nanos: int
    start: datetime | None
    end: datetime | None
    models: tuple[str, ...]
    key_ids: tuple[str, ...]
    source: str
    path: Path | None = None
    priced_rows: int = 0
    prices: PriceTable = field(default=DEFAULT_TABLE)

    @property
    def is_empty(self) -> bool:
        return self.rows == 0

    def to_pyarrow(self, expr: Any) -> Any:
        """Run an Ibis expression over this log and return a pyarrow Table."""
        return self.con.to_pyarrow(expr)


def load_usage(
    records: Sequence[Mapping[str, Any]] | None,
    records_file: Path | None,
    prices: PriceTable | None = None,
) -> UsageData:
    """Validate and load usage from inline records or a file (not both).

    ``prices`` costs rows without a ``cost`` (default: the project's own table; a bundle's
    ``prices`` section should be merged in by the caller with ``PriceTable.from_mapping``).
    Raises ``UsageFileError`` naming the row and field of the first bad value, or the file
    when it is missing, unreadable or not of its type.
    """
    table_prices = DEFAULT_TABLE if prices is None else prices
    if records is not None and records_file is not None:
        raise UsageFileError("give either usage.records or usage.records_file, not both", "usage")
    con = engine.connect()
    source: _InlineSource | _FileSource
    if records_file is not None:
        path = Path(records_file)
        raw, fmt = engine.read_raw(con, path)
        source = _FileSource(path, fmt)
        pointer = "/usage/records_file"
    else:
        rows = list(records or [])
        raw = _inline_table(con, rows)
        source = _InlineSource(rows)
        path = None
        pointer = "/usage/records"
    if raw is None:
        return _empty(con, pointer, table_prices)
    schema = raw.schema()
    try:
        _check_columns(schema, source)
    except UsageFileError:
        _raise_located(source, None)  # a malformed file can hide its header from the engine
        raise
    normal, checks = _normalize(raw, schema)
    try:
        # The engine reads a file lazily: a corrupt line surfaces in the first query.
        rates, unpriced = _rates(con, normal, table_prices)
        staged = normal.mutate(cost_nanos=_cost(normal, rates))
        stored = con.create_table(engine.fresh_name("usage"), staged, temp=True)
    except duckdb_error() as exc:
        _raise_located(source, None)
        raise UsageFileError(f"cannot read the records: {engine.short(exc)}", _field(source)) from exc
    census = _census(con, stored, len(checks))
    _validate(census, checks, source)
    if any(c["open"] for c in census):
        stored = _price_missing(con, stored, table_prices, unpriced, census, source)
        census = _census(con, stored, 0)
    table = stored.select(*OUTPUT_COLUMNS)
    return _summarize(con, table, census, pointer, path, table_prices)


def duckdb_error() -> type[Exception]:
    import duckdb

    return duckdb.Error


# --- inline records ---------------------------------------------------------------------------


def _inline_table(con: Any, rows: list[Mapping[str, Any]]) -> Any:
    """Inline rows as an all-text Ibis table, so they take the same checks as a file."""
    import ibis
    import pyarrow as pa

    if not rows:
        return None
    columns: dict[str, list[str | None]] = {name: [] for name in engine.COLUMNS}
    for i, rec in enumerate(rows):
        where = f"usage.records[{i}]"
        if not isinstance(rec, Mapping):
            raise UsageFileError(f"expected an object, got {type(rec).__name__}", where)
        for name in engine.COLUMNS:
            columns[name].append(_as_text(rec.get(name), f"{where}.{name}", strict=True))
    table = pa.table({name: pa.array(values, type=pa.string()) for name, values in columns.items()})
    return con.create_table(engine.fresh_name("raw"), ibis.memtable(table), temp=True)


def _as_text(value: Any, where: str, *, strict: bool) -> str | None:
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
    if name in INT_COLUMNS:
        return "an integer"
    if name == "ts":
        return "an RFC 3339 timestamp"
    return "a string"


# --- sources: where a row lives, for error messages ---------------------------------------------


class _InlineSource:
    def __init__(self, rows: list[Mapping[str, Any]]) -> None:
        self.rows = rows

    def where(self, index: int) -> str:
        return f"usage.records[{index}]"

    def scan(self) -> Iterator[tuple[str, dict[str, str | None]]]:
        for i, rec in enumerate(self.rows):
            yield (
                self.where(i),
                {n: _as_text(rec.get(n), f"{self.where(i)}.{n}", strict=True) for n in engine.COLUMNS},
            )

    def column_error(self, message: str, column: str) -> UsageFileError:
        return UsageFileError(message, f"usage.records[].{column}")


class _FileSource:
    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.fmt = fmt

    def column_error(self, message: str, column: str) -> UsageFileError:
        return UsageFileError(message, f"records_file column {column}")

    def scan(self) -> Iterator[tuple[str, dict[str, str | None]]]:
        """Rows as text in file order, each with its line (JSONL, CSV) or row (Parquet)."""
        if self.fmt == "jsonl":
            yield from self._scan_jsonl()
        elif self.fmt == "csv":
            yield from self._scan_csv()
        else:
            yield from self._scan_parquet()

    def _scan_jsonl(self) -> Iterator[tuple[str, dict[str, str | None]]]:
        with self.path.open("rb") as fh:
            for number, line in enumerate(fh, start=1):
                where = f"records_file line {number}"
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    raise UsageFileError("not JSON", where) from exc
                if not isinstance(obj, dict):
                    raise UsageFileError(f"expected a JSON object, got {type(obj).__name__}", where)
                yield where, {n: _as_text(obj.get(n), f"{where}.{n}", strict=False) for n in engine.COLUMNS}

    def _scan_csv(self) -> Iterator[tuple[str, dict[str, str | None]]]:
        with self.path.open(newline="", encoding="utf-8", errors="strict") as fh:
            reader = csv.reader(fh)
            try:
                header = next(reader)
            except StopIteration:
                return
            width = len(header)
            for row in reader:
                where = f"records_file line {reader.line_num}"
                if not row:
                    continue
                if len(row) != width:
                    raise UsageFileError(f"expected {width} fields as in the header, found {len(row)}", where)
                values = dict(zip(header, row, strict=True))
                yield where, {n: (values.get(n) or None) for n in engine.COLUMNS}

    def _scan_parquet(self) -> Iterator[tuple[str, dict[str, str | None]]]:
        import pyarrow.parquet as pq

        number = 0
        for batch in pq.ParquetFile(self.path).iter_batches(batch_size=65536):
            for rec in batch.to_pylist():
                number += 1
                where = f"records_file row {number}"
                yield where, {n: _parquet_text(rec.get(n)) for n in engine.COLUMNS}


def _parquet_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an integral float is accepted by the engine too
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


# --- checks ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Check:
    """One rule, as an engine flag (counted over all rows) and its Python mirror (to locate)."""

    column: str
    message: str
    flag: Any
    test: Callable[[dict[str, str | None]], str | None]


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _check_columns(schema: Any, source: _InlineSource | _FileSource) -> None:
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


def _normalize(raw: Any, schema: Any) -> tuple[Any, list[_Check]]:
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
        prep["_cost"] = text("cost")
        prep["_cost_ok"] = prep["_cost"].re_search(_COST_RE)
        prep["_cost_ok9"] = prep["_cost"].re_search(_COST_NANO_RE)
    pre = raw.mutate(**prep) if prep else raw

    checks: list[_Check] = []
    cols: dict[str, Any] = {}
    if ts_typed:
        ts_val = pre.ts.cast("timestamp('UTC')")
        checks.append(
            _Check("ts", "missing", ts_val.isnull(), lambda r: "missing" if _blank(r["ts"]) else None)
        )
    else:
        ts_val = pre._ts.try_cast("timestamp('UTC')")
        checks += [
            _Check("ts", "missing", pre._ts.isnull(), lambda r: "missing" if _blank(r["ts"]) else None),
            _Check("ts", "timestamp has no UTC offset (naive)", pre._ts_naive, lambda r: _naive(r["ts"])),
            _Check(
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
        _Check(
            "model",
            "missing",
            model.isnull() | (model.strip() == ""),
            lambda r: "missing" if _blank(r["model"]) else None,
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
                _Check(name, "not an integer", col.notnull() & (col != col.floor()), _int_test(name))
            )
            value = col.cast("int64")
        else:
            t, ok = pre[f"_{name}"], pre[f"_{name}_ok"]
            checks.append(_Check(name, "not an integer", t.notnull() & ~ok, _int_test(name)))
            value = ibis.ifelse(ok, t.try_cast("int64"), ibis.null("int64"))
        value = value.fill_null(default)
        if name == "requests":
            checks.append(_Check(name, "must be at least 1", value < 1, _range_test(name, 1, None)))
        elif name == "status":
            checks.append(
                _Check(name, "not an HTTP status", (value < 100) | (value > 599), _range_test(name, 100, 599))
            )
        else:
            checks.append(_Check(name, "negative", value < 0, _range_test(name, 0, None)))
            checks.append(
                _Check(name, "implausibly large", value > MAX_TOKENS, _range_test(name, 0, None, MAX_TOKENS))
            )
        cols[name] = value

    # cost
    if cost_decimal:
        cost = pre.cost.cast("decimal(38, 9)")
    else:
        checks += [
            _Check(
                "cost", "not a decimal amount of dollars", pre._cost.notnull() & ~pre._cost_ok, _cost_test
            ),
            _Check("cost", "finer than a nano-dollar", pre._cost_ok & ~pre._cost_ok9, _cost_nano_test),
        ]
        cost = ibis.ifelse(pre._cost_ok9, pre._cost.try_cast("decimal(38, 9)"), ibis.null("decimal(38, 9)"))
    cols["given_nanos"] = (cost * 1_000_000_000).cast("int64")
    flags = {f"_f{i}": check.flag.fill_null(False) for i, check in enumerate(checks)}
    normal = pre.select(**cols, **flags)
    return normal, checks


def _naive(value: str | None) -> str | None:
    if value is not None and re.search(_TS_NAIVE_RE, value):
        return "timestamp has no UTC offset (naive)"
    return None


def _junk_ts(value: str | None) -> str | None:
    if _blank(value) or _naive(value):
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
        if _blank(value) or re.search(_INT_RE, value or ""):
            return None
        assert value is not None
        return f"not an integer: {value[:40]!r}"

    return test


def _range_test(
    name: str, low: int, high: int | None, most: int | None = None
) -> Callable[[dict[str, str | None]], str | None]:
    def test(row: dict[str, str | None]) -> str | None:
        value = row[name]
        if _blank(value):
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


def _cost_test(row: dict[str, str | None]) -> str | None:
    value = row["cost"]
    if _blank(value):
        return None
    assert value is not None
    if not re.search(_COST_RE, value):
        return f"not a decimal amount of dollars: {value[:40]!r}"
    return None


def _cost_nano_test(row: dict[str, str | None]) -> str | None:
    value = row["cost"]
    if value is not None and re.search(_COST_RE, value) and not re.search(_COST_NANO_RE, value):
        return f"finer than a nano-dollar: {value[:40]!r}"
    return None


def _census(con: Any, stored: Any, n_checks: int) -> list[dict[str, Any]]:
    """One pass over the stored rows, per model × key: counts, cost, time span, check failures."""
    import ibis

    flags = {f"c{i}": stored[f"_f{i}"].cast("int64").sum() for i in range(n_checks)}
    return list(
        con.to_pyarrow(
            stored.group_by(["model", "key_id"]).aggregate(
                rows=ibis._.count(),
                requests=stored.requests.sum(),
                cost=stored.cost_nanos.sum(),
                start=stored.ts.min(),
                end=stored.ts.max(),
                priced=(stored.given_nanos.isnull() & (stored.status < 400)).cast("int64").sum(),
                open=stored.cost_nanos.isnull().cast("int64").sum(),
                **flags,
            )
        ).to_pylist()
    )


def _validate(
    census: list[dict[str, Any]], checks: list[_Check], source: _InlineSource | _FileSource
) -> None:
    """Raise for the first row that breaks a check, if any check counted a failure."""
    counts = [sum(int(c[f"c{i}"] or 0) for c in census) for i in range(len(checks))]
    failed = [(check, n) for check, n in zip(checks, counts, strict=True) if n]
    if failed:
        _raise_located(source, [check for check, _ in failed])
        first, count = failed[0]
        raise UsageFileError(f"{first.message} ({count} rows)", f"{_field(source)}.{first.column}")


def _field(source: _InlineSource | _FileSource) -> str:
    return "usage.records" if isinstance(source, _InlineSource) else "records_file"


def _raise_located(source: _InlineSource | _FileSource, checks: list[_Check] | None) -> None:
    """Scan the source in order and raise for the first row that breaks a rule.

    With ``checks`` None only the shape is scanned (not JSON, wrong field count), which is
    what an engine read error means.
    """
    for where, row in source.scan():
        for check in checks or ():
            message = check.test(row)
            if message:
                raise UsageFileError(message, f"{where}.{check.column}")


# --- cost -----------------------------------------------------------------------------------------


def _rates(con: Any, normal: Any, prices: PriceTable) -> tuple[dict[str, tuple[int, int, int]], set[str]]:
    """Per model in the log: whole nano-dollars per token (input, output, cached), if it has a price.

    Returns the rates the engine can apply exactly and the models it cannot: unknown to
    the price table, or priced finer than a nano-dollar per token (costed in Python).
    """
    models = con.to_pyarrow(normal.select("model").distinct()).column(0).to_pylist()
    rates: dict[str, tuple[int, int, int]] = {}
    unpriced: set[str] = set()
    for model in models:
        if model is None:
            continue
        try:
            price = prices.get(model)
        except UnknownModelError:
            unpriced.add(model)
            continue
        per_token = [
            p * 1000 for p in (price.input_per_mtok, price.output_per_mtok, price.cached_input_per_mtok)
        ]
        if all(v == v.to_integral_value() for v in per_token):
            rates[model] = (int(per_token[0]), int(per_token[1]), int(per_token[2]))
        else:
            unpriced.add(model)
    return rates, unpriced


def _cost(t: Any, rates: Mapping[str, tuple[int, int, int]]) -> Any:
    """Given cost, else 0 for a failing request, else tokens × whole nano-dollars per token.

    NULL marks a row that needs a price the engine does not have; ``_price_missing``
    settles those. Token counts are bounded by ``MAX_TOKENS`` so the products fit int64.
    """
    import ibis

    def rate(i: int) -> Any:
        if not rates:
            return ibis.null("int64")
        return ibis.cases(*[(t.model == m, r[i]) for m, r in rates.items()], else_=ibis.null("int64"))

    sane = (t.input_tokens <= MAX_TOKENS) & (t.output_tokens <= MAX_TOKENS) & (t.cached_tokens <= MAX_TOKENS)
    priced = t.input_tokens * rate(0) + t.output_tokens * rate(1) + t.cached_tokens * rate(2)
    return ibis.cases(
        (t.given_nanos.notnull(), t.given_nanos),
        (t.status >= 400, 0),
        (sane, priced),
        else_=ibis.null("int64"),
    ).cast("int64")


def _price_missing(
    con: Any,
    stored: Any,
    prices: PriceTable,
    unpriced: set[str],
    census: list[dict[str, Any]],
    source: _InlineSource | _FileSource,
) -> Any:
    """Cost the rows the engine could not (prices finer than a nano-dollar per token), or
    name the first row of a model that has no price at all."""
    import ibis
    import pyarrow as pa

    for c in census:
        model = str(c["model"])
        if c["open"] and (model not in unpriced or not _has_price(prices, model)):
            _raise_unknown(source, model)
            raise UsageFileError(
                f"no price for model {model!r} and no cost given ({c['open']} rows); refusing to cost it at $0",
                f"{_field(source)}.model",
            )
    keys = ["model", "input_tokens", "output_tokens", "cached_tokens"]
    distinct = con.to_pyarrow(stored.filter(stored.cost_nanos.isnull()).select(*keys).distinct()).to_pydict()
    costs = [
        prices.cost_nanos(m, int(i), int(o), int(c))
        for m, i, o, c in zip(*(distinct[k] for k in keys), strict=True)
    ]
    lookup = ibis.memtable(
        pa.table(
            {
                "p_model": pa.array(distinct["model"], type=pa.string()),
                "p_in": pa.array(distinct["input_tokens"], type=pa.int64()),
                "p_out": pa.array(distinct["output_tokens"], type=pa.int64()),
                "p_cached": pa.array(distinct["cached_tokens"], type=pa.int64()),
                "p_cost": pa.array(costs, type=pa.int64()),
            }
        )
    )
    joined = stored.left_join(
        lookup,
        [
            stored.model == lookup.p_model,
            stored.input_tokens == lookup.p_in,
            stored.output_tokens == lookup.p_out,
            stored.cached_tokens == lookup.p_cached,
        ],
    )
    fixed = joined.select(
        *[c for c in OUTPUT_COLUMNS if c != "cost_nanos"],
        "given_nanos",
        cost_nanos=joined.cost_nanos.fill_null(joined.p_cost),
    )
    return con.create_table(engine.fresh_name("usage"), fixed, temp=True)


def _has_price(prices: PriceTable, model: str) -> bool:
    try:
        prices.get(model)
    except UnknownModelError:
        return False
    return True


def _raise_unknown(source: _InlineSource | _FileSource, model: str) -> None:
    for where, row in source.scan():
        if (row["model"] or "").strip() == model and _blank(row["cost"]):
            status = row["status"]
            try:
                failing = status is not None and int(float(status)) >= 400
            except ValueError:
                failing = False
            if not failing:
                raise UsageFileError(
                    f"no price for model {model!r} and no cost given; refusing to cost it at $0",
                    f"{where}.model",
                )


# --- summary --------------------------------------------------------------------------------------


def _empty(con: Any, pointer: str, prices: PriceTable) -> UsageData:
    return UsageData(con, None, 0, 0, 0, None, None, (), (), pointer, prices=prices)


def _summarize(
    con: Any, table: Any, census: list[dict[str, Any]], pointer: str, path: Path | None, prices: PriceTable
) -> UsageData:
    rows = sum(int(c["rows"]) for c in census)
    starts = [c["start"] for c in census if c["start"] is not None]
    ends = [c["end"] for c in census if c["end"] is not None]
    return UsageData(
        con=con,
        table=table if rows else None,
        rows=rows,
        requests=sum(int(c["requests"] or 0) for c in census),
        total_nanos=sum(int(c["cost"] or 0) for c in census),
        start=_utc(min(starts)) if starts else None,
        end=_utc(max(ends)) if ends else None,
        models=tuple(sorted({str(c["model"]) for c in census})),
        key_ids=tuple(sorted({str(c["key_id"]) for c in census})),
        source=pointer,
        path=path,
        priced_rows=sum(int(c["priced"] or 0) for c in census),
        prices=prices,
    )


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)
