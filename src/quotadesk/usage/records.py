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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quotadesk.billing.pricing import DEFAULT_TABLE, PriceTable
from quotadesk.errors import UsageFileError
from quotadesk.usage import engine
from quotadesk.usage.checks import check_columns, normalize, raise_located, validate
from quotadesk.usage.costing import cost_expr, price_missing, rates_for
from quotadesk.usage.dedupe import collapse
from quotadesk.usage.sources import FileSource, InlineSource, Source, field_of, inline_table

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

    def fetch(self, expr: Any) -> engine.Rows:
        """Run an Ibis expression with a small result (an aggregate) over this log."""
        return engine.fetch_rows(self.con, expr)

    def to_pyarrow(self, expr: Any) -> Any:
        """Run an Ibis expression over this log and return a pyarrow Table."""
        return engine.fetch(self.con, expr)


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
    source: Source
    if records_file is not None:
        path = Path(records_file)
        raw, fmt = engine.read_raw(con, path)
        source = FileSource(path, fmt)
        pointer = "/usage/records_file"
    else:
        rows = list(records or [])
        raw = inline_table(con, rows)
        source = InlineSource(rows)
        path = None
        pointer = "/usage/records"
    if raw is None:
        return _empty(con, pointer, table_prices)
    schema = raw.schema()
    try:
        check_columns(schema, source)
    except UsageFileError:
        raise_located(source, None)  # a malformed file can hide its header from the engine
        raise
    normal, checks = normalize(raw, schema)
    try:
        # The engine reads a file lazily: a corrupt line surfaces in the first query.
        rates, unpriced = rates_for(con, normal, table_prices)
        staged = normal.mutate(cost_nanos=cost_expr(normal, rates))
        stored = engine.materialize(con, staged, "usage")
    except duckdb_error() as exc:
        raise_located(source, None)
        raise UsageFileError(f"cannot read the records: {engine.short(exc)}", field_of(source)) from exc
    cells = census(con, stored, len(checks))
    validate(cells, checks, source)
    deduped = collapse(con, stored, (*OUTPUT_COLUMNS, "given_nanos"), source)
    if deduped is not stored:  # one event per request id (quotadesk.usage.dedupe)
        stored = deduped
        cells = census(con, stored, 0)
    if any(c["open"] for c in cells):
        stored = price_missing(con, stored, table_prices, unpriced, cells, source)
        cells = census(con, stored, 0)
    table = stored.select(*OUTPUT_COLUMNS)
    return _summarize(con, table, cells, pointer, path, table_prices)


def duckdb_error() -> type[Exception]:
    import duckdb

    return duckdb.Error


def census(con: Any, stored: Any, n_checks: int) -> list[dict[str, Any]]:
    """One pass over the stored rows, per model × key: counts, cost, time span, check failures."""
    import ibis

    flags = {f"c{i}": stored[f"_f{i}"].cast("int64").sum() for i in range(n_checks)}
    return engine.fetch_rows(
        con,
        stored.group_by(["model", "key_id"]).aggregate(
            rows=ibis._.count(),
            requests=stored.requests.sum(),
            cost=stored.cost_nanos.sum(),
            start=stored.ts.min(),
            end=stored.ts.max(),
            priced=(stored.given_nanos.isnull() & (stored.status < 400)).cast("int64").sum(),
            open=stored.cost_nanos.isnull().cast("int64").sum(),
            **flags,
        ),
    ).dicts()


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
