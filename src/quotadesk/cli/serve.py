"""``quotadesk serve``: the desk service (REST API, sign-in, pages) on uvicorn.

``--demo`` fills fresh books in a temporary folder with the simulated month of ``quotadesk
demo``, opens its tickets as cases in the queues (each triaged on the bundle captured when the
ticket arrived), adds one staff member per role, and prints a sign-in link for each. The demo's
desk runs on a clock that starts at the end of the simulated month, so what it shows (a hard
limit reached "this month", a card declined "today") stays true while someone looks.

Several ``--workers`` are separate processes, each building the desk from the settings
(``app_from_env``); use them on PostgreSQL. The books are migrated once, before they start.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from quotadesk.cli.common import DbOption, guard

HostOption = Annotated[str, typer.Option("--host", help="Interface to listen on.")]
PortOption = Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0: a free one).")]


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def serve_command(
    db: DbOption = None,
    usage_dir: Annotated[
        str | None, typer.Option("--usage-dir", help="Usage log folder (default: setting 'usage_dir').")
    ] = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes.")] = 1,
    status_page: Annotated[
        str | None, typer.Option("--status-page", help="Status page file or URL (setting 'status_page').")
    ] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Fresh demo books with the simulated month.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the demo's month.")] = 1,
    wording: Annotated[
        str | None, typer.Option("--wording", help="Reply wording override (setting 'wording_file').")
    ] = None,
) -> None:
    """Serve the desk: the REST API under /api/v1, sign-in and the console."""
    import uvicorn

    from quotadesk import settings

    port = port or _free_port(host)
    if demo:
        tmp = tempfile.TemporaryDirectory(prefix="quotadesk-serve-demo-")
        try:
            app = guard(lambda: _demo_app(Path(tmp.name), seed, host, port))
            uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=10)
        finally:
            tmp.cleanup()
        return
    env = {"db": db, "usage_dir": usage_dir, "status_page": status_page, "wording_file": wording}
    for name, value in env.items():
        if value is not None:
            os.environ[settings.SETTINGS[name].env] = value

    def prepare() -> int:
        from quotadesk.store import migrations
        from quotadesk.store.db import make_engine
        from quotadesk.triage.wording import load_wording

        if settings.get("wording_file"):
            load_wording(settings.get("wording_file"))  # a bad file stops the start, not the first case
        engine = make_engine(settings.get("db"))
        try:
            migrations.upgrade(engine)
            return recover_on_start_up(engine)
        finally:
            engine.dispose()

    recovered = guard(prepare)
    if recovered:
        typer.echo(f"finished {recovered} payment(s) a crash had left pending", err=True)
    typer.echo(f"quotadesk desk on http://{host}:{port}/ (books: {_safe(settings.get('db'))})", err=True)
    uvicorn.run(
        "quotadesk.web.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )


def recover_on_start_up(engine: Any) -> int:
    """Before the desk takes requests: finish every payment a crash left pending (credited once
    or failed, ``Books.recover``), at the clock's time; returns how many."""
    from datetime import UTC, datetime

    from quotadesk.store.books import Books

    return len(Books(engine).recover(datetime.now(UTC)))


def _safe(url: str) -> str:
    from quotadesk.store.db import safe_url

    return safe_url(url)


def _demo_app(folder: Path, seed: int, host: str, port: int) -> Any:
    from quotadesk.desk.demo import load_demo
    from quotadesk.web.app import create_app

    demo = load_demo(folder, seed)
    base = f"http://{host}:{port}"
    typer.echo(f"quotadesk demo desk: {base}/  ({demo.cases} cases, {demo.organizations} organizations)")
    typer.echo(f"simulated month {demo.start} to {demo.end}; the desk's clock starts at {demo.end}")
    for role, token in demo.tokens.items():
        typer.echo(f"  sign in as {role:<17} {base}/login?token={token}")
    for org_id, token in demo.customer_tokens.items():
        typer.echo(f"  customer of {org_id:<24} {base}/login?token={token}")
    sys.stdout.flush()  # the links must reach a pipe before the server takes over
    return create_app(demo.desk)
