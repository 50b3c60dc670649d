"""``quotadesk bundle export``, ``quotadesk sim run|score``, ``quotadesk demo``, ``quotadesk practice``.

Thin commands over ``quotadesk.store.export`` and ``quotadesk.sim``; registered by ``quotadesk.cli``::

    app.add_typer(bundle_app, name="bundle")
    app.add_typer(sim_app, name="sim")
    app.command("demo")(demo_command)
    app.command("practice")(practice_command)

A ``QuotadeskError`` becomes ``error: …`` on stderr and exit 2.
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from quotadesk.cli.common import DbOption, JsonOption, guard, print_json, sub_app
from quotadesk.cli.errors import fail
from quotadesk.errors import InputError

T = TypeVar("T")

bundle_app = sub_app("bundle", "Case bundles from the books: export one for a live account.")
sim_app = sub_app("sim", "The scenario simulator: generate labelled cases, score the desk on them.")


def _time(text: str, field: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"not an RFC 3339 time: {text!r}", field) from exc
    if value.tzinfo is None:
        raise InputError(f"give a timezone, e.g. {text}Z", field)
    return value.astimezone(UTC)


def _read_json(path: Path, field: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}", field) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not JSON: {exc.msg} at line {exc.lineno}", field) from exc


def load_ticket(path: Path) -> dict[str, Any]:
    """A ticket file: a contract ``ticket`` object, a bundle holding one, or plain text (the body)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}", "--ticket") from exc
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} is not JSON: {exc.msg} at line {exc.lineno}", "--ticket") from exc
        ticket = doc.get("ticket", doc) if isinstance(doc, dict) else doc
        if not isinstance(ticket, dict):
            raise InputError("expected a ticket object", "--ticket")
        return ticket
    return {"id": path.stem, "body": text.strip()}


# ------------------------------------------------------------------------------------ bundle


@bundle_app.command("export")
def export_command(
    org: Annotated[str, typer.Argument(help="Organization id in the books.")],
    ticket: Annotated[
        Path,
        typer.Option("--ticket", help="Ticket: JSON (contract 'ticket' object) or a text file (the body)."),
    ],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="When the case is looked at (default: now).")
    ] = None,
    db: DbOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the bundle here (default: stdout).")
    ] = None,
    usage_since: Annotated[
        str | None, typer.Option("--usage-since", help="First usage to include (default: two months back).")
    ] = None,
    status_page: Annotated[
        Path | None, typer.Option("--status-page", help="Statuspage v2 JSON (with 'incidents') to include.")
    ] = None,
    provider: Annotated[str, typer.Option("--provider", help="Error dialect of the provider.")] = "generic",
) -> None:
    """Write a case bundle (contract v1) for ORG from the books, ready for `quotadesk triage`."""
    from quotadesk import settings
    from quotadesk.store.books import Books
    from quotadesk.store.db import make_engine
    from quotadesk.store.export import bundle_export

    def run() -> dict[str, Any]:
        when = _time(as_of, "--as-of") if as_of else datetime.now(UTC)
        since = _time(usage_since, "--usage-since") if usage_since else None
        page = _read_json(status_page, "--status-page") if status_page is not None else None
        if page is not None and not isinstance(page, dict):
            raise InputError("expected an object with 'incidents'", "--status-page")
        books = Books(make_engine(settings.get("db", db)))
        try:
            return bundle_export(
                books, org, load_ticket(ticket), when, since, provider=provider, status_page=page
            )
        finally:
            books.close()

    doc = guard(run)
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out} ({len(doc['usage']['records'])} usage rows)", err=True)


# ------------------------------------------------------------------------------------ sim


@sim_app.command("run")
def sim_run_command(
    out: Annotated[Path, typer.Option("--out", help="Folder for NAME.json and NAME.expected.json.")],
    seed: Annotated[int, typer.Option("--seed", help="Seed: the same seed gives the same cases.")] = 1,
    count: Annotated[int, typer.Option("--count", help="How many cases.")] = 64,
    per_world: Annotated[int, typer.Option("--per-world", help="Organizations per simulated world.")] = 12,
    background: Annotated[
        int, typer.Option("--background", help="Healthy organizations added to each world.")
    ] = 0,
    only: Annotated[
        str | None, typer.Option("--only", help="Comma-separated root causes to stage (default: all).")
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", help="Worlds simulated at once, in separate processes.")] = 1,
    json_out: JsonOption = False,
) -> None:
    """Simulate accounts and their tickets; write the case bundles with their ground truth."""
    from rich.console import Console
    from rich.progress import Progress

    from quotadesk.sim.run import generate, summary, write_cases

    roots = tuple(r.strip() for r in only.split(",") if r.strip()) if only else ()
    console = Console(stderr=True)

    def run() -> Any:
        with Progress(console=console, transient=True, disable=json_out or not console.is_terminal) as bar:
            task = bar.add_task("simulating worlds", total=None)
            g = generate(
                seed,
                count,
                per_world=per_world,
                background=background,
                only=roots,
                jobs=jobs,
                progress=lambda _what, done, total: bar.update(task, completed=done, total=total),
            )
        write_cases(g.cases, out)
        return summary(g)

    info = guard(run)
    info["out"] = str(out)
    if json_out:
        print_json(info)
        return
    typer.echo(
        f"wrote {info['cases']} cases to {out} in {info['seconds']}s "
        f"({info['worlds']} worlds, {info['admissions']} admission calls)"
    )
    for m in info["missing"]:
        typer.echo(f"  no ticket produced: {m}")
    typer.echo(f"score them: quotadesk sim score {out}")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


@sim_app.command("score")
def sim_score_command(
    folder: Annotated[
        Path, typer.Argument(help="Folder of NAME.json + NAME.expected.json (from `sim run`).")
    ],
    jobs: Annotated[int, typer.Option("--jobs", help="Triage in this many processes.")] = 1,
    json_out: JsonOption = False,
) -> None:
    """Triage simulated cases; print accuracy, the confusion matrix, safety violations and misses."""
    from rich.console import Console
    from rich.progress import Progress

    from quotadesk.sim.score import score_dir

    def run() -> Any:
        err = Console(stderr=True)  # drawn on a terminal only: a pipe's stderr keeps one error line
        with Progress(console=err, transient=True, disable=json_out or not err.is_terminal) as bar:
            task = bar.add_task("triaging", total=None)
            return score_dir(folder, jobs=jobs, progress=lambda d, t: bar.update(task, completed=d, total=t))

    report = guard(run)
    if report.n == 0:
        fail("folder", f"no NAME.json with NAME.expected.json in {folder}")
    if json_out:
        print_json(report.to_json())
        return
    render_report(report)


SHORT = {
    "provider_outage": "outage",
    "payment_failure": "payment",
    "unexpected_high_bill": "high bill",
    "spending_limit": "limit",
    "free_tier": "free",
    "refund_request": "refund",
    "account_suspension": "suspended",
    "api_key_issue": "key",
    "rate_limit": "rate",
    "needs_info": "info",
}
"""Column headings of the incident matrix, short enough for a terminal."""


def render_report(report: Any) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(
        f"[bold]{report.n} cases[/bold]  incident {_pct(report.rate('incident'))} ({report.count('incident')}/{report.n})"
        f"  root cause {_pct(report.rate('root'))} ({report.count('root')}/{report.n})"
        f"  route {_pct(report.rate('route'))} ({report.count('route')}/{report.n})"
        f"  safety violations {len(report.violations)}"
    )
    matrix = report.incident_matrix()
    got = sorted({g for row in matrix.values() for g in row})
    inc = Table(title="Incidents: expected (rows) x triage (columns)", box=box.SIMPLE_HEAD)
    inc.add_column("expected", no_wrap=True)
    for g in got:
        inc.add_column(SHORT.get(g, g), justify="right", no_wrap=True)
    for want in sorted(matrix):
        inc.add_row(want, *[str(matrix[want].get(g, "")) if matrix[want].get(g) else "." for g in got])
    con.print(inc)
    roots = Table(title="Root causes: expected -> what triage said", box=box.SIMPLE_HEAD)
    roots.add_column("expected incident/root cause", no_wrap=True)
    roots.add_column("n", justify="right")
    roots.add_column("right", justify="right")
    roots.add_column("confused with")
    for want, counts in sorted(report.root_matrix().items()):
        n = sum(counts.values())
        right = counts.get(want, 0)
        other = ", ".join(f"{k} x{v}" for k, v in counts.most_common() if k != want)
        roots.add_row(want, str(n), str(right), other)
    con.print(roots)
    if report.violations:
        con.print("[bold red]Safety violations[/bold red]")
        for o in report.violations:
            con.print(f"  {o.name}: {'; '.join(o.safety)}")
    else:
        con.print("Safety violations: none")
    if report.misses:
        con.print(f"[bold]Misses ({len(report.misses)})[/bold]")
    for o in report.misses:
        exp = "/".join(str(o.expected[k]) for k in ("incident", "root_cause", "route"))
        got_text = o.error or "/".join(o.got(k) for k in ("incident", "root_cause", "route"))
        con.print(f"  [bold]{o.source or o.name}[/bold]: expected {exp}, got {got_text}")
        for step in (o.result or {}).get("decision_path", []):
            con.print(f"      - {step}", markup=False)


# ------------------------------------------------------------------------------------ demo


def demo_command(
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated month.")] = 1,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Empty database to fill (default: a fresh SQLite file in a temp dir)."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the case bundles.")] = Path("quotadesk-demo"),
    tickets: Annotated[int, typer.Option("--tickets", help="Organizations that raise a ticket.")] = 9,
    background: Annotated[int, typer.Option("--background", help="Organizations that just use the API.")] = 3,
    json_out: JsonOption = False,
) -> None:
    """A month of a dozen simulated organizations on fresh books, their tickets, and the desk's diagnoses."""
    from rich import box
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from quotadesk.sim.desk import empty_books, run_demo

    console = Console()
    tmp = tempfile.TemporaryDirectory(prefix="quotadesk-demo-")

    def run() -> Any:
        url = db or f"sqlite:///{Path(tmp.name) / 'books.db'}"
        books = empty_books(url)
        try:
            columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                       TimeElapsedColumn())  # fmt: skip
            err = Console(stderr=True)
            with Progress(
                *columns, console=err, transient=True, disable=json_out or not err.is_terminal
            ) as bar:
                days = bar.add_task("simulating the month (days)", total=None)
                cases = bar.add_task("triaging tickets", total=None, visible=False)

                def on_case(done: int, total: int) -> None:
                    bar.update(cases, completed=done, total=total, visible=True)

                return run_demo(
                    books,
                    seed,
                    out,
                    tickets=tickets,
                    background=background,
                    on_day=lambda d, t: bar.update(days, completed=d, total=t),
                    on_case=on_case,
                )
        finally:
            books.close()

    try:
        report = guard(run)
    finally:
        tmp.cleanup()
    if json_out:
        print_json(
            {
                "seconds": round(report.seconds, 2),
                "organizations": report.organizations,
                "usage_rows": report.usage_rows,
                "refusals": {str(k): v for k, v in sorted(report.refusals.items())},
                "cases": [
                    {
                        "case": r.case,
                        "ticket": r.ticket,
                        "customer": r.customer,
                        "incident": r.incident,
                        "root_cause": r.root_cause,
                        "route": r.route,
                        "figure": r.figure,
                        "matches_simulation": r.matches_truth,
                        "bundle": str(r.path) if r.path else None,
                    }
                    for r in report.rows
                ],
            }
        )
        return
    refused = ", ".join(f"{n:,} x {status}" for status, n in sorted(report.refusals.items())) or "none"
    console.print(
        f"Simulated {report.start} to {report.end}: {report.organizations} organizations, "
        f"{report.usage_rows:,} usage rows, refusals from the rulebook: {refused}."
    )
    table = Table(title=f"The desk: {len(report.rows)} tickets", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("ticket", no_wrap=True)
    table.add_column("customer")
    for col in ("incident", "root cause", "route"):
        table.add_column(col, no_wrap=True)
    table.add_column("sim", no_wrap=True)
    table.add_column("key figure", min_width=24)
    for r in report.rows:
        table.add_row(
            r.ticket,
            r.customer,
            r.incident,
            r.root_cause,
            r.route,
            "[green]ok[/green]" if r.matches_truth else "[red]differs[/red]",
            r.figure,
        )
    console.print(table)
    right = sum(r.matches_truth for r in report.rows)
    console.print(
        f"{right}/{len(report.rows)} diagnoses match what the simulation staged ({report.seconds:.1f}s)."
    )
    if report.rows and report.rows[0].path is not None:
        console.print(f"Bundles in {out}/. Open any case in full:")
        console.print(f"  quotadesk triage {report.rows[0].path} --explain", markup=False)
        console.print(f"Score them all: quotadesk sim score {out}", markup=False)


# ------------------------------------------------------------------------------------ practice


def _ask(prompt: str, options: tuple[str, ...]) -> str:
    """Prompt until the answer is one of ``options`` (by name or by its number)."""
    listing = "  ".join(f"{i}) {o}" for i, o in enumerate(options, 1))
    while True:
        typer.echo(listing)
        raw = str(typer.prompt(prompt)).strip().lower()
        if raw.isdigit() and 1 <= int(raw) <= len(options):
            return options[int(raw) - 1]
        if raw in options:
            return raw
        typer.echo(f"'{raw}' is not one of the choices.")


def practice_command(
    rounds: Annotated[int, typer.Option("--rounds", help="Tickets to work through.")] = 3,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed (default: a new deal each time).")] = None,
) -> None:
    """Practise the desk: read a simulated ticket and its account, decide, then see the runbook's answer."""
    import random

    from rich.console import Console
    from rich.panel import Panel

    from quotadesk.sim.desk import INCIDENT_ROOTS, ROUTES, account_view, deal, grade
    from quotadesk.store.books import Books
    from quotadesk.triage.bundle import parse
    from quotadesk.triage.engine import triage_bundle

    con = Console()
    deal_seed = seed if seed is not None else random.SystemRandom().randrange(1, 10**6)
    tmp = tempfile.TemporaryDirectory(prefix="quotadesk-practice-")

    def dealt() -> Any:
        books = Books.open(f"sqlite:///{Path(tmp.name) / 'books.db'}")
        try:
            with con.status("dealing tickets (simulating the accounts)..."):
                return deal(deal_seed, rounds, books)
        finally:
            books.close()

    try:
        cases = guard(dealt)
    finally:
        tmp.cleanup()
    score = 0
    for n, case in enumerate(cases, 1):
        assert case.bundle is not None
        view = account_view(case.bundle)
        t = view["ticket"]
        ticket_text = f"[bold]{t['subject'] or '(no subject)'}[/bold]\n{t['body']}"
        for a in t["attachments"]:
            ticket_text += f"\n[dim]attached: {a[:400]}[/dim]"
        con.print(Panel(ticket_text, title=f"Round {n}/{len(cases)}: ticket {t['id']} ({t['received_at']})"))
        acct = view.get("account", {})
        lines = [
            f"as of {view['as_of']}, provider dialect {view['provider']}",
            f"status page: {'; '.join(view['status_page'])}",
        ]
        for k, v in acct.items():
            if isinstance(v, list):
                lines.append(f"{k}: " + ("; ".join(v) if v else "none"))
            else:
                lines.append(f"{k}: {v}")
        lines.extend(f"usage {u}" for u in view.get("usage", []))
        con.print(Panel("\n".join(lines), title="Account"), markup=False)
        incident = _ask("Incident", tuple(INCIDENT_ROOTS))
        root = _ask("Root cause", INCIDENT_ROOTS[incident])
        route = _ask("Route", ROUTES)
        points = grade((incident, root, route), case)
        score += points
        result = triage_bundle(parse(case.bundle))
        truth = case.truth
        con.print(
            f"You: {incident} / {root} / {route}   "
            f"Simulated truth: {truth.incident} / {truth.root_cause} / {truth.route}   "
            f"[bold]+{points}[/bold] (score {score}/{3 * n})"
        )
        con.print(f"Engine: {result['incident']} / {result['root_cause']} / {result['route']}")
        con.print("Decision path:")
        for i, step in enumerate(result["decision_path"], 1):
            con.print(f"  {i}. {step}", markup=False)
    con.print(f"[bold]Final score: {score}/{3 * len(cases)}[/bold] (seed {deal_seed})")
