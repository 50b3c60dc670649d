"""``quotadesk usage …``: import provider exports into the usage log, explain a bill.

Registered by ``quotadesk.cli`` (``app.add_typer(usage_app, name="usage")``). Thin: each command
calls the library (``quotadesk.usage.importers``, ``.log``, ``.explanation``) and prints a
readable view or ``--json``. A ``QuotadeskError`` becomes ``error: <where>: <message>`` on
stderr and exit 2, with the log unchanged: every file is read and checked before anything
is written. Heavy imports (pyarrow, Ibis, DuckDB) happen inside the commands.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from quotadesk.cli.common import JsonOption, guard, print_json, progress_bar, sub_app
from quotadesk.cli.common import parse_time as common_parse_time
from quotadesk.errors import InputError, QuotadeskError

if TYPE_CHECKING:
    from quotadesk.billing.pricing import PriceTable
    from quotadesk.usage.importers.batch import ImportBatch
    from quotadesk.usage.records import UsageData

T = TypeVar("T")

usage_app = sub_app("usage", "The usage log: import provider exports, explain a bill.")

UsageDirOption = Annotated[
    str | None,
    typer.Option(
        "--usage-dir", help="Folder of the usage log (default: setting 'usage_dir', env QUOTADESK_USAGE_DIR)."
    ),
]
EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="Engine that reads the stored log: duckdb, spark or a Spark master URL "
        "(default: setting 'usage_engine', env QUOTADESK_USAGE_ENGINE).",
    ),
]
MinImpactOption = Annotated[
    str | None,
    typer.Option("--min-impact", help="Smallest finding worth reporting, in dollars (default 0.50)."),
]
PricesOption = Annotated[
    Path | None,
    typer.Option(
        "--prices",
        help="JSON file of prices per 1M tokens ({model: {input_per_mtok, …}}) over the built-in table.",
    ),
]


def _prices(path: Path | None) -> PriceTable | None:
    from quotadesk.billing.pricing import PriceTable
    from quotadesk.money import MoneyError

    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read prices from {path}: {exc}", "--prices") from exc
    if not isinstance(data, dict):
        raise InputError("expected an object of models", "--prices")
    try:
        return PriceTable.from_mapping(data, datetime.now(UTC).date())
    except (MoneyError, ValueError) as exc:
        raise InputError(str(exc), "--prices") from exc


def _read(fmt: str, files: list[Path], prices: PriceTable | None, *, show_progress: bool) -> ImportBatch:
    """Read every file (all of them, before anything is written), with a progress bar on stderr."""
    from quotadesk.usage.importers import read_files

    progress = progress_bar(enabled=show_progress)
    with progress:
        task = progress.add_task(f"reading {fmt}: {files[0].name}", total=len(files))
        rows = progress.add_task("rows read", total=None)
        names = iter([f.name for f in files[1:]])

        def done(path: Path) -> None:
            progress.update(task, advance=1, description=f"reading {fmt}: {next(names, path.name)}")

        def seen(count: int) -> None:
            progress.update(rows, completed=count, description=f"{count:,} rows read")

        return read_files(fmt, files, prices, on_file=done, on_rows=seen)


def _check_files(files: list[Path]) -> None:
    if not files:
        raise InputError("give at least one file", "FILE")
    for f in files:
        if not f.is_file():
            raise InputError("file not found", str(f))


# --- import -----------------------------------------------------------------------------------------


@usage_app.command("import")
def import_command(
    fmt: Annotated[
        str,
        typer.Argument(
            metavar="FORMAT",
            help="auto (each file's format from its content), openai-usage, openai-costs, anthropic-usage, "
            "anthropic-cost, openrouter, litellm or contract (csv/jsonl/parquet).",
        ),
    ],
    files: Annotated[list[Path], typer.Argument(metavar="FILE…", help="Export files to import.")],
    org: Annotated[str, typer.Option("--org", help="Organization the usage belongs to.")] = "default",
    usage_dir: UsageDirOption = None,
    prices: PricesOption = None,
    json_out: JsonOption = False,
) -> None:
    """Import provider exports into the usage log (idempotent: importing a file twice adds nothing)."""

    def run() -> dict[str, Any]:
        from quotadesk.usage.importers import AUTO, group_by_format, resolve_format
        from quotadesk.usage.log import UsageLog, check_org

        name = resolve_format(fmt, allow_auto=True)
        check_org(org)
        _check_files(files)
        table = _prices(prices)
        detected: list[dict[str, str]] = []
        if name == AUTO:
            groups = group_by_format(files)
            for _, paths, why in groups:
                detected += [w.to_json(p) for p, w in zip(paths, why, strict=True)]
            parts = [(f, paths) for f, paths, _ in groups]
        else:
            parts = [(name, list(files))]
        batches = [_read(f, paths, table, show_progress=not json_out) for f, paths in parts]  # all read first
        log = UsageLog.open(usage_dir)
        outs = [_append(log, org, batch) for batch in batches]
        if name != AUTO:
            return outs[0]
        total: dict[str, Any] = {"org": org, "format": AUTO, "detected": detected, "imports": outs}
        for key in ("rows_read", "rows_added", "requests_added", "duplicates_skipped", "empty_skipped"):
            total[key] = sum(int(o[key]) for o in outs)
        total["unknown_models"] = [u for o in outs for u in o["unknown_models"]]
        total["usage_dir"] = str(log.root)
        return total

    out = guard(run)
    if json_out:
        print_json(out)
        return
    lines: list[str] = []
    for d in out.get("detected", []):
        lines.append(f"{d['file']}: {d['format']} ({d['why']})")
    for part in out.get("imports", [out]):
        lines += _import_lines(part)
    typer.echo("\n".join(lines))


def _append(log: Any, org: str, batch: ImportBatch) -> dict[str, Any]:
    """Write one format's batch (usage or costs, plus the rows that could not be priced)."""
    from quotadesk.usage.importers import kind

    dataset = kind(batch.fmt)
    table = batch.usage if dataset == "usage" else batch.costs
    result = log.append(org, table, dataset=dataset)
    unpriced = batch.unpriced
    kept = (
        log.append(org, unpriced, dataset="unpriced") if unpriced is not None and unpriced.num_rows else None
    )
    out: dict[str, Any] = {
        "org": org,
        "format": batch.fmt,
        "kind": dataset,
        "files": list(batch.files),
        "rows_read": batch.rows_read,
        "rows_added": result.added,
        "requests_added": result.requests,
        "duplicates_skipped": result.duplicates,
        "empty_skipped": batch.empty,
        "unpriced_added": kept.added if kept is not None else 0,
        "unpriced_requests_added": kept.requests if kept is not None else 0,
        "unknown_models": [u.to_json() for u in batch.unknown],
        "months": sorted({*result.months, *(kept.months if kept is not None else ())}),
        "usage_dir": str(log.root),
        "notes": list(batch.notes),
    }
    if dataset == "costs":
        out["reconciliation"] = _reconciliation(log, org, table)
    return out


def _import_lines(out: dict[str, Any]) -> list[str]:
    lines = [
        f"{out['format']} → org {out['org']} ({out['usage_dir']})",
        f"  {out['rows_read']} rows read, {out['rows_added']} added, "
        f"{out['duplicates_skipped']} skipped as duplicates, {out['empty_skipped']} empty; "
        f"{out['requests_added']} requests added",
    ]
    if out["unknown_models"]:
        lines.append(
            f"  kept unpriced ({out['unpriced_added']} rows added; never costed at $0), by model and reason:"
        )
        for u in out["unknown_models"]:
            lines.append(
                f"    {u['model']} ({u['reason']}): {u['rows']} rows, {u['requests']} requests, "
                f"{u['input_tokens']:,} input + {u['cached_tokens']:,} cached + {u['output_tokens']:,} output "
                f"tokens (first at {u['first']})"
            )
    for r in out.get("reconciliation", []):
        lines.append(
            f"  {r['source']} {r['start'][:10]}..{r['end'][:10]}: reported ${r['reported']}, "
            f"usage log ${r['usage']}, difference ${r['difference']}"
        )
    for note in out["notes"]:
        lines.append(f"  note: {note}")
    return lines


def _reconciliation(log: Any, org: str, costs: Any) -> list[dict[str, str]]:
    from quotadesk.usage.explanation import usd
    from quotadesk.usage.reconcile import reconcile

    if costs.num_rows == 0:
        return []
    ts = costs.column("ts").to_pylist()
    ends = costs.column("end").to_pylist()
    return [
        {
            "source": r.source,
            "start": r.start.isoformat(),
            "end": r.end.isoformat(),
            "reported": usd(r.reported_nanos),
            "usage": usd(r.usage_nanos),
            "difference": usd(r.difference_nanos),
        }
        for r in reconcile(log, org, start=min(ts), end=max(ends))
    ]


# --- explain ----------------------------------------------------------------------------------------


@usage_app.command("explain")
def explain_command(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="[FILE…]", help="Usage files to explain instead of the stored log (no books needed)."
        ),
    ] = None,
    period: Annotated[
        str, typer.Option("--period", help="Month to explain (2026-10) or days (2026-10-01..2026-10-15).")
    ] = "",
    against: Annotated[
        str | None, typer.Option("--against", help="Period to compare with (default: the month before).")
    ] = None,
    org: Annotated[str | None, typer.Option("--org", help="Organization in the stored usage log.")] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="Format of FILE… (an import format; default contract: csv/jsonl/parquet)."
        ),
    ] = "contract",
    usage_dir: UsageDirOption = None,
    prices: PricesOption = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Explain as of this time (RFC 3339; default: end of the period, or now)."
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="Books database URL: read the org's API keys and invoices from it (with --org)."
        ),
    ] = None,
    min_impact: MinImpactOption = None,
    engine: EngineOption = None,
    json_out: JsonOption = False,
) -> None:
    """Explain a period's spend against another: totals, the exact decomposition, findings, daily chart."""

    def run() -> tuple[dict[str, Any], list[str]]:
        from quotadesk.money import nanos
        from quotadesk.usage.explanation import as_of_for, default_against, explain, to_json
        from quotadesk.usage.periods import Period

        if not period:
            raise InputError("give the period to explain, e.g. --period 2026-10", "--period")
        p = Period.parse(period)
        a = Period.parse(against) if against else default_against(p)
        when = as_of_for(p, parse_time(as_of) if as_of else datetime.now(UTC))
        floor = None if min_impact is None else nanos(min_impact, "--min-impact", allow_negative=False)
        extra: dict[str, Any] = {}
        notes: list[str] = []
        keys: list[Any] = []
        invoices: list[dict[str, Any]] = []
        if files:
            if org:
                raise InputError("give FILE… or --org, not both", "--org")
            data, extra, notes = _from_files(fmt, files, _prices(prices))
        else:
            if not org:
                raise InputError("give --org ORG (the stored log) or usage files", "--org")
            data, keys, invoices, extra = _from_log(org, usage_dir, _prices(prices), p, a, engine)
            kept = extra.get("unpriced")
            if kept:
                notes.append(
                    f"{kept['requests']:,} requests ({kept['input_tokens']:,} input, {kept['output_tokens']:,} output "
                    "tokens) in these periods could not be priced and are not in the totals (see usage import)"
                )
            if db:
                keys, invoices = _from_books(db, org, keys, invoices)
        result = explain(data, p, a, as_of=when, keys=keys, invoices=invoices, min_impact_nanos=floor)
        out = to_json(result)
        out.update(extra)
        out["notes"] = notes
        return out, _lines(result, notes)

    out, lines = guard(run)
    if json_out:
        print_json(out)
    else:
        typer.echo("\n".join(lines))


def _lines(result: Any, notes: list[str]) -> list[str]:
    from quotadesk.usage.explanation import render_lines

    return render_lines(result, notes=notes)


def parse_time(text: str) -> datetime:
    """``--as-of``: the one time parser of the CLI (``common.parse_time``)."""
    return common_parse_time(text, "--as-of")


def _from_files(
    fmt: str, files: list[Path], prices: PriceTable | None
) -> tuple[UsageData, dict[str, Any], list[str]]:
    from quotadesk.usage.importers import AUTO, group_by_format, kind, resolve_format
    from quotadesk.usage.log import from_arrow

    name = resolve_format(fmt, allow_auto=True)
    if name == AUTO:
        _check_files(files)
        found = [f for f, _, _ in group_by_format(files)]
        if len(found) != 1:
            raise InputError(
                f"the files hold several formats ({', '.join(found)}); explain one at a time", "FILE"
            )
        name = found[0]
    if kind(name) != "usage":
        raise InputError(
            f"{name} is a cost report; explain needs usage (import it beside the usage instead)", "--format"
        )
    _check_files(files)
    batch = _read(name, files, prices, show_progress=False)
    data = from_arrow(batch.usage, source=", ".join(str(f) for f in files), prices=prices)
    extra = {
        "files": list(batch.files),
        "rows_read": batch.rows_read,
        "unknown_models": [u.to_json() for u in batch.unknown],
    }
    notes = list(batch.notes)
    notes += [f"{u.model or '(none)'}: {u.rows} rows not costed ({u.reason})" for u in batch.unknown]
    return data, extra, notes


def _from_books(
    url: str, org: str, keys: list[Any], invoices: list[dict[str, Any]]
) -> tuple[list[Any], list[Any]]:
    """The org's keys and invoices from the books, then what the log adds (keys it alone knows,
    costs the provider reported)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from quotadesk.errors import NotFoundError
    from quotadesk.store.books import Books

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InputError(f"not a database URL: {url!r}", "--db") from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).is_file():
        raise InputError(f"no books at {parsed.database} (run quotadesk init)", "--db")
    try:
        books = Books.open(url, migrate=False)
        try:
            account = books.organization(org)
        finally:
            books.close()
    except NotFoundError:
        raise
    except (SQLAlchemyError, QuotadeskError) as exc:
        raise InputError(f"cannot read the books: {str(exc).splitlines()[0][:200]}", "--db") from exc
    known = {k.id for k in account.api_keys}
    merged_keys: list[Any] = [*account.api_keys, *(k for k in keys if k["id"] not in known)]
    return merged_keys, [*account.invoices, *invoices]


def _from_log(
    org: str, usage_dir: str | None, prices: PriceTable | None, period: Any, against: Any, engine: str | None
) -> tuple[UsageData, list[Any], list[dict[str, Any]], dict[str, Any]]:
    from quotadesk import settings
    from quotadesk.usage.engine import connect_engine
    from quotadesk.usage.log import UsageLog, check_org
    from quotadesk.usage.reconcile import as_invoices, reconcile

    check_org(org)
    log = UsageLog.open(usage_dir)
    if not log.months(org):
        raise InputError(f"no usage for org {org!r} in {log.root}", "--org")
    con = connect_engine(settings.get("usage_engine", engine), "--engine" if engine else "usage_engine")
    data = log.load(org, end=max(period.end, against.end), prices=prices, con=con)  # nothing later is read
    recs = [r for p in (against, period) for r in reconcile(log, org, start=p.start, end=p.end)]
    from quotadesk.usage.explanation import usd

    extra: dict[str, Any] = {
        "org": org,
        "reconciliation": [
            {
                "source": r.source,
                "start": r.start.isoformat(),
                "end": r.end.isoformat(),
                "reported": usd(r.reported_nanos),
                "usage": usd(r.usage_nanos),
                "difference": usd(r.difference_nanos),
            }
            for r in recs
        ],
    }
    kept = log.read_arrow(
        org, start=min(period.start, against.start), end=max(period.end, against.end), dataset="unpriced"
    )
    if kept.num_rows:
        import pyarrow.compute as pc

        extra["unpriced"] = {
            "rows": kept.num_rows,
            "requests": int(pc.sum(kept.column("requests")).as_py() or 0),
            "input_tokens": int(pc.sum(kept.column("input_tokens")).as_py() or 0),
            "output_tokens": int(pc.sum(kept.column("output_tokens")).as_py() or 0),
        }
    return data, log.keys(org, con), as_invoices(recs), extra
