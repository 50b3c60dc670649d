"""The usage log on disk: Parquet per organization and month, idempotent, crash-safe.

Layout under the ``usage_dir`` setting (Hive-style, so DuckDB, Spark and pyarrow all read
it as a partitioned dataset)::

    usage_dir/org=<org>/month=YYYY-MM/part-<id>.parquet     usage rows (``COLUMNS``)
    usage_dir/_costs/org=<org>/month=YYYY-MM/part-<id>.parquet
                                                           costs a provider reported
    usage_dir/_unpriced/org=<org>/month=YYYY-MM/part-<id>.parquet
                                                           usage that could not be priced
    usage_dir/org=<org>/.lock                              one writer per org at a time

``org`` and ``month`` live in the path, not in the files (Spark refuses a column that is
both). Each row carries a ``request_id``; the log keeps at most one row per
(org, request_id), so importing the same export twice adds nothing. Bucketed exports get
a deterministic id from the bucket's keys (see ``importers``).

Why the dedup reads the files instead of keeping an index: the files are the only truth,
so a crash can never leave an index that disagrees with them.

Crash safety: a batch is written as hidden temporary files (``.part-….tmp``, ignored by
every reader), each flushed to disk; then a journal listing the renames is written
atomically; then the files are renamed into place and the journal removed. A crash
before the journal leaves only temporary files (removed later: nothing was added); a
crash after it is rolled forward by the next reader or writer (everything is added). A
batch is all or nothing, and readers take a shared lock so they never see half of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from quotadesk import settings
from quotadesk.billing.pricing import DEFAULT_TABLE, PriceTable
from quotadesk.errors import InputError, UsageFileError
from quotadesk.usage.records import OUTPUT_COLUMNS, UsageData

COLUMNS = (
    "ts",
    "request_id",
    "key_id",
    "environment",
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
"""The canonical usage row as stored (``org`` is in the path). Tokens follow the price
table's convention: ``input_tokens`` uncached, ``cached_tokens`` read from the cache."""

SCHEMA = pa.schema(
    [
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("key_id", pa.string(), nullable=False),
        pa.field("environment", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("input_tokens", pa.int64(), nullable=False),
        pa.field("output_tokens", pa.int64(), nullable=False),
        pa.field("cached_tokens", pa.int64(), nullable=False),
        pa.field("requests", pa.int64(), nullable=False),
        pa.field("status", pa.int64(), nullable=False),
        pa.field("cost_nanos", pa.int64(), nullable=False),
        pa.field("fingerprint", pa.string(), nullable=False),
        pa.field("ip", pa.string(), nullable=False),
    ]
)

COST_SCHEMA = pa.schema(
    [
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("end", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("amount_nanos", pa.int64(), nullable=False),
        pa.field("project", pa.string(), nullable=False),
        pa.field("line_item", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("cost_type", pa.string(), nullable=False),
        pa.field("token_type", pa.string(), nullable=False),
    ]
)
"""A cost a provider reported for a day (``[ts, end)``), kept to reconcile the usage log
against. ``request_id`` is the deterministic id of the cost line (dedup as for usage)."""

UNPRICED_SCHEMA = pa.schema(
    [*(f for f in SCHEMA if f.name != "cost_nanos"), pa.field("reason", pa.string(), nullable=False)]
)
UNPRICED_COLUMNS = tuple(UNPRICED_SCHEMA.names)
"""Usage that reached the log without a cost: an export not grouped by model (no model to
price) or a model with no price. Kept with its volume, tokens and requests, never costed
at $0 and never dropped; ``reason`` says which. Deduplicated by request id like usage."""

DATASETS = {"usage": SCHEMA, "costs": COST_SCHEMA, "unpriced": UNPRICED_SCHEMA}

COPY_ABOVE_FILES = 64
"""An org read from more part files than this is copied into DuckDB once (see ``UsageLog.load``)."""

_ORG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_MONTH_DIR = re.compile(r"^month=(\d{4})-(\d{2})$")


def check_org(org: str) -> str:
    """An org id safe as a directory name (letters, digits, ``_ . -``)."""
    if not isinstance(org, str) or not _ORG.match(org) or ".." in org:
        raise InputError(f"not a valid org id: {org!r} (letters, digits, '_', '.', '-')", "org")
    return org


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What one append did: rows offered, rows added, rows that were already in the log
    (or repeated within the batch), and the months and files written."""

    org: str
    offered: int
    added: int
    duplicates: int
    months: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    requests: int = 0
    """Requests the added rows carry (a bucket row counts all of its requests)."""


class UsageLog:
    """The log rooted at one directory. Cheap to create; every call re-reads the disk."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @classmethod
    def open(cls, usage_dir: str | None = None) -> UsageLog:
        """The log at ``usage_dir``, else the ``usage_dir`` setting (env QUOTADESK_USAGE_DIR)."""
        return cls(Path(settings.get("usage_dir", usage_dir)))

    # --- layout -----------------------------------------------------------------------------------

    def org_dir(self, org: str, dataset: str = "usage") -> Path:
        if dataset not in DATASETS:
            raise InputError(f"unknown dataset {dataset!r}", "dataset")
        base = self.root if dataset == "usage" else self.root / f"_{dataset}"
        return base / f"org={check_org(org)}"

    def orgs(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name[4:] for p in self.root.iterdir() if p.is_dir() and p.name.startswith("org="))

    def months(self, org: str, dataset: str = "usage") -> list[str]:
        """``YYYY-MM`` of every month with data, oldest first."""
        base = self.org_dir(org, dataset)
        if not base.is_dir():
            return []
        out = []
        for p in base.iterdir():
            m = _MONTH_DIR.match(p.name)
            if m and p.is_dir() and any(p.glob("part-*.parquet")):
                out.append(f"{m.group(1)}-{m.group(2)}")
        return sorted(out)

    def files(
        self,
        org: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        dataset: str = "usage",
    ) -> list[Path]:
        """The org's part files whose month overlaps ``[start, end)`` (all when not given)."""
        base = self.org_dir(org, dataset)
        if not base.is_dir():
            return []
        lo = _month_key(start) if start is not None else None
        hi = _month_key(end, exclusive=True) if end is not None else None
        with self._lock(org, shared=True):
            out: list[Path] = []
            for month in self.months(org, dataset):
                key = int(month[:4]) * 12 + int(month[5:]) - 1
                if (lo is not None and key < lo) or (hi is not None and key > hi):
                    continue
                out.extend(sorted((base / f"month={month}").glob("part-*.parquet")))
            return out

    # --- writing ----------------------------------------------------------------------------------

    def append(self, org: str, rows: pa.Table, *, dataset: str = "usage") -> AppendResult:
        """Add the rows whose ``request_id`` the org's log does not hold yet; all or nothing.

        ``rows`` must have ``SCHEMA`` (or ``COST_SCHEMA`` for ``dataset="costs"``,
        ``UNPRICED_SCHEMA`` for ``"unpriced"``). Rows repeating an id within the batch keep
        the first.
        """
        check_org(org)
        schema = DATASETS.get(dataset, SCHEMA)
        table = _conform(rows, schema)
        offered = table.num_rows
        with self._lock(org, shared=False):
            self._recover(org)
            fresh = _first_per_id(table)
            existing = self._ids(org, dataset)
            if existing is not None and fresh.num_rows:
                fresh = fresh.filter(pc.invert(pc.is_in(fresh.column("request_id"), value_set=existing)))
            if fresh.num_rows == 0:
                return AppendResult(org, offered, 0, offered)
            requests = (
                int(pc.sum(fresh.column("requests")).as_py() or 0) if "requests" in fresh.column_names else 0
            )
            moves = self._write_temporaries(org, fresh, dataset)
            journal = self.org_dir(org) / f".journal-{uuid.uuid4().hex}.json"
            rel = [[os.path.relpath(a, self.root), os.path.relpath(b, self.root)] for a, b in moves]
            _write_atomic(journal, json.dumps(rel).encode())
            _roll_forward(journal, self.root)
        months = tuple(sorted({b.parent.name[6:] for _, b in moves}))
        files = tuple(str(b) for _, b in moves)
        return AppendResult(org, offered, fresh.num_rows, offered - fresh.num_rows, months, files, requests)

    def _write_temporaries(self, org: str, table: pa.Table, dataset: str) -> list[tuple[Path, Path]]:
        base = self.org_dir(org, dataset)
        ts = table.column("ts")
        keys = pc.add(pc.multiply(pc.year(ts), 100), pc.month(ts))
        moves: list[tuple[Path, Path]] = []
        batch = uuid.uuid4().hex
        try:
            for key in sorted(set(keys.to_pylist())):
                part = table.filter(pc.equal(keys, key)).sort_by("ts")
                folder = base / f"month={key // 100:04d}-{key % 100:02d}"
                folder.mkdir(parents=True, exist_ok=True)
                tmp = folder / f".part-{batch}.parquet.tmp"
                moves.append((tmp, folder / f"part-{batch}.parquet"))
                with tmp.open("wb") as fh:
                    pq.write_table(part, fh, compression="zstd")
                    fh.flush()
                    os.fsync(fh.fileno())
        except BaseException:
            for tmp, _ in moves:
                with contextlib.suppress(OSError):
                    tmp.unlink()
            raise
        return moves

    def _ids(self, org: str, dataset: str) -> pa.Array | None:
        base = self.org_dir(org, dataset)
        if not base.is_dir():
            return None
        chunks = [
            pq.read_table(p, columns=["request_id"]).column(0).combine_chunks()
            for p in sorted(base.glob("month=*/part-*.parquet"))
        ]
        chunks = [c for c in chunks if len(c)]
        if not chunks:
            return None
        return pa.concat_arrays(chunks)

    @contextlib.contextmanager
    def _lock(self, org: str, *, shared: bool) -> Iterator[None]:
        folder = self.org_dir(org)
        if shared and not folder.is_dir():
            yield
            return
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / ".lock").open("a+b") as fh:
            if shared and self._leftovers(org):
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # a crashed batch: settle it before reading
                self._recover(org)
            else:
                fcntl.flock(fh.fileno(), fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _leftovers(self, org: str) -> bool:
        """A journal or a temporary file: a batch crashed, or one is being written right now."""
        if any(self.org_dir(org).glob(".journal-*")):
            return True
        return any(any(self.org_dir(org, d).glob("month=*/.part-*")) for d in DATASETS)

    def _recover(self, org: str) -> None:
        """Finish batches whose journal was written; drop temporaries of batches that never got one."""
        folder = self.org_dir(org)
        for journal in sorted(folder.glob(".journal-*.json")):
            _roll_forward(journal, self.root)
        for unfinished in folder.glob(".journal-*.json.tmp"):
            with contextlib.suppress(OSError):
                unfinished.unlink()
        for dataset in DATASETS:
            for tmp in self.org_dir(org, dataset).glob("month=*/.part-*.parquet.tmp"):
                with contextlib.suppress(OSError):
                    tmp.unlink()

    # --- reading ----------------------------------------------------------------------------------

    def read_arrow(
        self, org: str, *, start: datetime | None = None, end: datetime | None = None, dataset: str = "usage"
    ) -> pa.Table:
        """The org's rows in ``[start, end)`` as one pyarrow table (small logs, tests, exports)."""
        schema = DATASETS.get(dataset, SCHEMA)
        paths = self.files(org, start=start, end=end, dataset=dataset)
        if not paths:
            return schema.empty_table()
        table = pa.concat_tables([pq.read_table(p, schema=schema) for p in paths])
        return _between(table, start, end)

    def count(self, org: str, dataset: str = "usage") -> int:
        return sum(pq.ParquetFile(p).metadata.num_rows for p in self.files(org, dataset=dataset))

    def table(
        self,
        con: Any,
        org: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        paths: list[Path] | None = None,
    ) -> Any:
        """The org's usage as an Ibis table on ``con`` (any backend with ``read_parquet``), or None.

        The files are listed (pruned by month; ``paths`` when the caller listed them already)
        and read by the backend itself, so the same call serves DuckDB and Spark.
        """
        from quotadesk.usage import engine

        paths = self.files(org, start=start, end=end) if paths is None else paths
        if not paths:
            return None
        source: Any = [str(p) for p in paths]
        if type(con).__module__.startswith("ibis.backends.pyspark"):
            source = str(self.org_dir(org))  # Spark reads the partitioned folder (hidden files skipped)
        t = con.read_parquet(source, table_name=engine.fresh_name("log"))
        t = t.select(*COLUMNS)
        if start is not None:
            t = t.filter(t.ts >= start)
        if end is not None:
            t = t.filter(t.ts < end)
        return t

    def load(
        self,
        org: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        prices: PriceTable | None = None,
        con: Any = None,
        cache: bool = True,
    ) -> UsageData:
        """The org's usage in ``[start, end)`` as ``UsageData`` for ``analyse``/``decompose``.

        On DuckDB (the default, ``con`` None or a DuckDB ``con``) the Parquet files are read
        in place by every query. That is a consistent snapshot: the file list is fixed here
        and a part file never changes once renamed into place (appends add files). It is
        also the fast path: each detector query reads only the columns it needs, where
        copying all thirteen columns into memory first cost more than every query
        together (1M rows: 0.66 s per org copied, 0.44 s read in place, and a quarter of
        the memory). Many small files (one per import, say) turn that around, since every
        query opens each of them again: past ``COPY_ABOVE_FILES`` the rows are copied into
        the engine once (400 files of 1,230 rows: 0.55 s copied, 0.8–1.2 s read in place).
        With a ``con`` of another backend (Spark) the table is cached by the backend when
        ``cache`` (Ibis ``Table.cache``), as its scans cost far more.
        """
        from quotadesk.usage import engine

        con = engine.connect() if con is None else con
        paths = self.files(org, start=start, end=end)
        t = self.table(con, org, start=start, end=end, paths=paths)
        if t is not None and engine.is_duckdb(con):
            if len(paths) > COPY_ABOVE_FILES:
                t = engine.materialize(con, t, "log")
        elif t is not None and cache:
            with contextlib.suppress(NotImplementedError, AttributeError):
                t = t.cache()
        return as_usage_data(con, t, source=f"{self.org_dir(org)}", prices=prices)

    def keys(self, org: str, con: Any = None) -> list[dict[str, str | None]]:
        """Keys seen in the log with the environment most of their rows name (for ``analyse(keys=…)``).

        Most rows, not any row: one stray "development" row must not make a production key a
        dev key. Read with pyarrow, or by the engine ``con`` when given (one query, as the
        detectors' own, instead of opening every file again).
        """
        counts: dict[tuple[str, str], int] = {}
        if con is not None:
            import ibis

            from quotadesk.usage import engine

            t = self.table(con, org)
            if t is not None:
                grouped = t.group_by(["key_id", "environment"]).aggregate(n=ibis._.count())
                for key_id, env, n in engine.fetch_rows(con, grouped).values:
                    counts[(str(key_id), str(env or ""))] = int(n)
        else:
            for p in self.files(org):
                t = pq.read_table(
                    p, columns=["key_id", "environment"], read_dictionary=["key_id", "environment"]
                )
                grouped = t.group_by(["key_id", "environment"], use_threads=False).aggregate(
                    [([], "count_all")]
                )
                for row in grouped.to_pylist():
                    pair = (str(row["key_id"]), str(row["environment"] or ""))
                    counts[pair] = counts.get(pair, 0) + int(row["count_all"])
        best: dict[str, tuple[int, str]] = {}
        for (key_id, env), n in sorted(counts.items()):
            if env and n > best.get(key_id, (0, ""))[0]:
                best[key_id] = (n, env)
            best.setdefault(key_id, (0, ""))
        return [{"id": k, "name": k, "environment": env or None} for k, (_, env) in sorted(best.items()) if k]


def as_usage_data(con: Any, table: Any, *, source: str, prices: PriceTable | None = None) -> UsageData:
    """An Ibis table with the log's columns as ``UsageData`` (the detectors' input), with its summary."""
    import ibis

    from quotadesk.usage import engine

    table_prices = DEFAULT_TABLE if prices is None else prices
    if table is None:
        return UsageData(con, None, 0, 0, 0, None, None, (), (), source, prices=table_prices)
    t = table.select(*OUTPUT_COLUMNS)
    # One pass for the headline figures and the distinct keys and models (three passes cost
    # twice as much on a large log).
    cells = engine.fetch_rows(
        con,
        t.group_by(["key_id", "model"]).aggregate(
            rows=ibis._.count(),
            requests=ibis._.requests.sum(),
            total=ibis._.cost_nanos.sum(),
            start=ibis._.ts.min(),
            end=ibis._.ts.max(),
        ),
    ).dicts()
    rows = sum(int(c["rows"] or 0) for c in cells)
    if not rows:
        return UsageData(con, None, 0, 0, 0, None, None, (), (), source, prices=table_prices)
    head = {
        "requests": sum(int(c["requests"] or 0) for c in cells),
        "total": sum(int(c["total"] or 0) for c in cells),
        "start": min(c["start"] for c in cells),
        "end": max(c["end"] for c in cells),
    }
    models = sorted({c["model"] for c in cells})
    keys = sorted({c["key_id"] for c in cells})
    return UsageData(
        con=con,
        table=t,
        rows=rows,
        requests=int(head["requests"] or 0),
        total_nanos=int(head["total"] or 0),
        start=_utc(head["start"]),
        end=_utc(head["end"]),
        models=tuple(models),
        key_ids=tuple(keys),
        source=source,
        prices=table_prices,
    )


def from_arrow(
    rows: pa.Table, *, source: str, prices: PriceTable | None = None, con: Any = None
) -> UsageData:
    """Rows with ``SCHEMA`` (e.g. straight from an importer) as ``UsageData`` on DuckDB."""
    import ibis

    from quotadesk.usage import engine

    con = engine.connect() if con is None else con
    if rows.num_rows == 0:
        return as_usage_data(con, None, source=source, prices=prices)
    stored = con.create_table(engine.fresh_name("rows"), ibis.memtable(_conform(rows, SCHEMA)), temp=True)
    return as_usage_data(con, stored, source=source, prices=prices)


# --- helpers --------------------------------------------------------------------------------------


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _month_key(when: datetime, *, exclusive: bool = False) -> int:
    when = when.astimezone(UTC)
    key = when.year * 12 + when.month - 1
    if exclusive and when == when.replace(day=1, hour=0, minute=0, second=0, microsecond=0):
        key -= 1  # [start, 2026-11-01) needs nothing of November
    return key


def _conform(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """The rows in ``schema``'s column order and types; a missing column or a null is refused."""
    missing = [n for n in schema.names if n not in rows.column_names]
    if missing:
        raise InputError(f"rows lack columns {', '.join(missing)}", "rows")
    table = rows.select(schema.names)
    for name in schema.names:
        if table.column(name).null_count:
            raise InputError(f"{table.column(name).null_count} null values", f"rows.{name}")
    try:
        table = table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(f"rows do not fit the log's schema: {exc}", "rows") from exc
    if schema is SCHEMA and table.num_rows:
        _check_values(table)
    return table


def _check_values(t: pa.Table) -> None:
    """The log's invariants, checked in bulk: a last guard behind each importer's own checks."""
    rules: Sequence[tuple[str, Any, str]] = (
        ("request_id", pc.equal(pc.utf8_length(t.column("request_id")), 0), "empty"),
        ("model", pc.equal(pc.utf8_length(t.column("model")), 0), "empty"),
        ("input_tokens", pc.less(t.column("input_tokens"), 0), "negative"),
        ("output_tokens", pc.less(t.column("output_tokens"), 0), "negative"),
        ("cached_tokens", pc.less(t.column("cached_tokens"), 0), "negative"),
        ("requests", pc.less(t.column("requests"), 1), "must be at least 1"),
        (
            "status",
            pc.or_(pc.less(t.column("status"), 100), pc.greater(t.column("status"), 599)),
            "not an HTTP status",
        ),
    )
    for column, bad, message in rules:
        count = pc.sum(pc.cast(bad, pa.int64())).as_py() or 0
        if count:
            raise InputError(f"{message} ({count} rows)", f"rows.{column}")


def _first_per_id(table: pa.Table) -> pa.Table:
    if table.num_rows == 0:
        return table
    index = pa.array(range(table.num_rows), type=pa.int64())
    firsts = (
        pa.table({"request_id": table.column("request_id"), "i": index})
        .group_by("request_id", use_threads=False)
        .aggregate([("i", "min")])
        .column("i_min")
    )
    if len(firsts) == table.num_rows:
        return table
    return table.filter(pc.is_in(index, value_set=firsts))


def _between(table: pa.Table, start: datetime | None, end: datetime | None) -> pa.Table:
    ts = table.column("ts")
    mask = None
    if start is not None:
        mask = pc.greater_equal(ts, pa.scalar(start, type=ts.type))
    if end is not None:
        below = pc.less(ts, pa.scalar(end, type=ts.type))
        mask = below if mask is None else pc.and_(mask, below)
    return table if mask is None else table.filter(mask)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


_MOVE_RE = re.compile(
    r"^(?P<folder>(?:_[a-z_]+/)?org=(?P<org>[^/]+)/month=\d{4}-\d{2})/\.part-(?P<batch>[A-Za-z0-9_\-]+)\.parquet\.tmp$"
)


def _journal_moves(journal: Path, root: Path) -> list[tuple[str, str]]:
    """The renames a journal lists, checked; a journal that is not one is ``UsageFileError``.

    A journal is what this module wrote: a JSON list of ``[tmp, final]`` pairs, relative to the
    log's root, each a hidden ``.part-….parquet.tmp`` of this org and the ``part-….parquet``
    beside it. Anything else (truncated, not UTF-8, another shape, a path out of the org's
    folder) is refused with the file named, before anything is renamed: rolling it forward
    could move files it does not own, and dropping it could lose a batch that was promised.
    """
    org_folder = journal.parent.name
    where = os.path.relpath(journal, root)
    try:
        moves = json.loads(journal.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UsageFileError(f"corrupt journal, not readable JSON ({exc}); {_JOURNAL_FIX}", where) from exc
    if not isinstance(moves, list) or not moves:
        raise UsageFileError(f"corrupt journal: expected a list of renames; {_JOURNAL_FIX}", where)
    out: list[tuple[str, str]] = []
    for i, move in enumerate(moves):
        ok = isinstance(move, list) and len(move) == 2 and all(isinstance(x, str) for x in move)
        m = _MOVE_RE.match(move[0]) if ok else None
        if (
            m is None
            or f"org={m['org']}" != org_folder
            or move[1] != f"{m['folder']}/part-{m['batch']}.parquet"
        ):
            raise UsageFileError(
                f"corrupt journal: entry {i} is not a rename of this org's batch; {_JOURNAL_FIX}", where
            )
        out.append((move[0], move[1]))
    return out


_JOURNAL_FIX = (
    "nothing was renamed; the org's log is refused until the journal is checked and moved away "
    "(the other orgs are read as usual)"
)


def _roll_forward(journal: Path, root: Path) -> None:
    """Rename every temporary file the journal lists (relative to ``root``) into place, then drop it."""
    moves = _journal_moves(journal, root)
    folders: set[Path] = set()
    for tmp, final in moves:
        if (root / tmp).exists():
            os.replace(root / tmp, root / final)
        folders.add((root / final).parent)
    for folder in sorted(folders):
        _fsync_dir(folder)
    journal.unlink()
    _fsync_dir(journal.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
