"""``quotadesk usage scan``: every organization in the usage log through the detectors.

Registered on the ``usage`` group by ``quotadesk.cli``. The library is ``quotadesk.usage.scan``;
this module parses options, shows a progress bar on stderr and prints a ranked table or
``--json``. Exit codes: 0 scanned, 1 scanned but some org could not be read (its files
are named; the others are still reported), 2 bad input (nothing scanned).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from quotadesk.cli.common import JsonOption, guard, print_json, progress_bar
from quotadesk.cli.errors import line
from quotadesk.cli.usage import EngineOption, MinImpactOption, UsageDirOption, parse_time, usage_app

if TYPE_CHECKING:
    from quotadesk.usage.scan import OrgScan


@usage_app.command("scan")
def scan_command(
    orgs: Annotated[
        list[str] | None,
        typer.Option("--org", help="Scan only this organization (repeat for several; default: every one)."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Scan as of this time (RFC 3339; default: now). Later rows are not read."
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", help="Worker processes (default: one per core)."),
    ] = None,
    min_impact: MinImpactOption = None,
    usage_dir: UsageDirOption = None,
    engine: EngineOption = None,
    json_out: JsonOption = False,
) -> None:
    """Run every detector over every organization in the usage log and rank what they found."""

    def run() -> dict[str, Any]:
        from quotadesk import settings
        from quotadesk.errors import InputError
        from quotadesk.money import nanos
        from quotadesk.usage.detectors import DEFAULT_MIN_IMPACT_NANOS
        from quotadesk.usage.log import UsageLog
        from quotadesk.usage.scan import default_jobs, scan, targets

        when = parse_time(as_of) if as_of else datetime.now(UTC)
        floor = DEFAULT_MIN_IMPACT_NANOS
        if min_impact is not None:
            floor = nanos(min_impact, "--min-impact", allow_negative=False)
        workers = default_jobs() if jobs is None else jobs
        if workers < 1:
            raise InputError("must be at least 1", "--jobs")
        log = UsageLog.open(usage_dir)
        try:
            names = targets(log, orgs)
        except InputError as exc:
            raise InputError(str(exc).removeprefix("org: "), "--org") from exc
        if log.root.exists() and not log.root.is_dir():
            raise InputError(f"not a folder: {log.root}", "--usage-dir")
        if not names:
            raise InputError(f"no organizations in the usage log at {log.root}", "--usage-dir")
        started = time.perf_counter()
        with ScanProgress(len(names), enabled=not json_out) as advance:
            try:
                results = scan(
                    log.root,
                    as_of=when,
                    orgs=names,
                    jobs=workers,
                    min_impact_nanos=floor,
                    on_done=advance,
                    engine=settings.get("usage_engine", engine),
                )
            except InputError as exc:
                renamed = {"org": "--org", "usage_engine": "--engine" if engine else "usage_engine"}
                if exc.field in renamed:
                    message = str(exc).removeprefix(f"{exc.field}: ")
                    raise InputError(message, renamed[exc.field]) from exc
                raise
        return _as_json(log.root, when, results, time.perf_counter() - started)

    out = guard(run)
    if json_out:
        print_json(out)
    else:
        typer.echo("\n".join(_lines(out)))
    for failed in out["errors"]:
        typer.echo(line(f"org {failed['org']}", str(failed["error"])), err=True)
    if out["errors"]:
        raise typer.Exit(1)


class ScanProgress:
    """A bar of orgs scanned on stderr (only on a terminal, never with --json)."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self._bar = progress_bar(enabled=enabled)
        self._total = total

    def __enter__(self) -> Any:
        self._bar.__enter__()
        task = self._bar.add_task("scanning organizations", total=self._total)

        def advance(result: OrgScan) -> None:
            self._bar.update(task, advance=1, description=f"scanned {result.org}")

        return advance

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(None, None, None)


def _as_json(root: Any, as_of: datetime, results: list[OrgScan], seconds: float) -> dict[str, Any]:
    from quotadesk.usage.explanation import finding_json, usd
    from quotadesk.usage.scan import ranked

    return {
        "usage_dir": str(root),
        "as_of": as_of.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "orgs": len(results),
        "rows": sum(r.rows for r in results),
        "total": usd(sum(r.total_nanos for r in results)),
        "orgs_with_findings": sum(1 for r in results if r.findings),
        "seconds": round(seconds, 3),
        "findings": [{"org": org, **finding_json(f)} for org, f in ranked(results)],
        "per_org": [
            {"org": r.org, "rows": r.rows, "total": usd(r.total_nanos), "findings": len(r.findings)}
            for r in results
            if not r.error
        ],
        "detector_errors": [{"org": r.org, "error": e} for r in results for e in r.detector_errors],
        "errors": [{"org": r.org, "error": r.error} for r in results if r.error],
    }


def _lines(out: dict[str, Any]) -> list[str]:
    """The ranked findings, one line each plus its summary. A finding with the same org,
    window and impact as one above (a retry burst is a retry_storm and, for a refund, a
    code_bug) is folded into that line instead of repeated."""
    from decimal import Decimal

    from quotadesk.money import fmt

    lines = [
        f"Usage scan of {out['usage_dir']} as of {out['as_of']}: {out['orgs']} organizations, "
        f"{out['rows']:,} rows, {fmt(Decimal(out['total']))} in {out['seconds']:.1f} s",
        f"{out['orgs_with_findings']} with findings, best first (alerts, then the rest):",
    ]
    width = max((len(f["org"]) for f in out["findings"]), default=0)
    shown: dict[tuple[str, str, str, str], int] = {}
    for f in out["findings"]:
        start, end = (f["window"][k][:16].replace("T", " ") for k in ("start", "end"))
        twin = (f["org"], start, end, f["impact"])
        if twin in shown:
            lines[shown[twin]] += f" (also read as {f['root_cause']})"
            continue
        shown[twin] = len(lines)
        lines.append(
            f"  {f['org']:<{width}}  {f['root_cause']:<23} {fmt(Decimal(f['impact'])):>13}  "
            f"conf {f['confidence']:.2f}  {start} → {end}"
        )
        lines.append(f"  {'':<{width}}  {f['summary']}")
    if not out["findings"]:
        lines.append("  nothing found")
    for e in out["detector_errors"]:
        lines.append(f"  detector error in {e['org']}: {e['error']}")
    return lines
