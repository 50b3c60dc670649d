"""The gateway process: start-up, recovery, upkeep, workers and a clean stop.

Start-up (before ``/healthz`` says ok): migrate the books (once, in the parent), open this
process's settle journal, replay the journals of dead holders (``journal.orphans``: settles
they journaled but had not committed, exactly once by request id), release their leases,
mark expired leases and holds. The same recovery runs every ``RECOVER_S`` seconds, so a
holder that died on another host is resolved when its lease expires (``gateway_lease_ttl_seconds``).

Workers: ``--workers N`` forks N processes after the listening socket is bound; they share it
(the kernel spreads connections), each with its own leases, journal and writer thread. The
parent restarts a worker that dies and forwards SIGTERM.

SIGTERM: stop accepting, let requests in flight finish (up to ``gateway_shutdown_grace_seconds``),
commit every settle, give the leases back, delete the (fully committed) journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection

from quotadesk.gateway import journal as journals
from quotadesk.gateway.accesslog import AccessLog
from quotadesk.gateway.app import Gateway
from quotadesk.gateway.budget import Budgets
from quotadesk.gateway.config import GatewayConfig
from quotadesk.gateway.http import Connection as HttpConnection
from quotadesk.gateway.rates import RateWindows
from quotadesk.gateway.settlement import SettlementWriter
from quotadesk.gateway.upstream import UpstreamPool
from quotadesk.money import nanos
from quotadesk.store import leases
from quotadesk.store.db import make_engine, normalize_url
from quotadesk.store.leases import settle_events

log = logging.getLogger("quotadesk.gateway")
RECOVER_S = 5.0


@dataclass(frozen=True, slots=True)
class Options:
    """Everything a worker needs, from flags and settings."""

    db: str
    config: GatewayConfig
    journal_dir: Path
    redis_url: str = ""
    access_log: str = ""
    lease_nanos: int = 1_000_000_000
    lease_ttl_s: float = 15.0
    snapshot_s: float = 1.0
    lease_idle_s: float = 2.0
    key_cache_s: float = 2.0
    upstream_timeout_s: float = 600.0
    upstream_retries: int = 1
    grace_s: float = 30.0


def options_from_settings(db: str, config: GatewayConfig) -> Options:
    from quotadesk import settings

    folder = settings.get("gateway_journal_dir")
    if not folder:
        url = normalize_url(db)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            folder = str(Path(url.database or "quotadesk.db").resolve()) + ".gateway-journal"
        else:
            folder = "./quotadesk-gateway-journal"
    return Options(
        db=db,
        config=config,
        journal_dir=Path(folder),
        redis_url=settings.get("gateway_redis_url"),
        access_log=settings.get("gateway_access_log"),
        lease_nanos=nanos(settings.get("gateway_lease_dollars"), "gateway_lease_dollars", allow_negative=False),
        lease_ttl_s=float(settings.get("gateway_lease_ttl_seconds")),
        snapshot_s=float(settings.get("gateway_snapshot_seconds")),
        lease_idle_s=float(settings.get("gateway_lease_idle_seconds")),
        key_cache_s=float(settings.get("gateway_key_cache_seconds")),
        upstream_timeout_s=float(settings.get("gateway_upstream_timeout_seconds")),
        upstream_retries=int(settings.get("gateway_upstream_retries")),
        grace_s=float(settings.get("gateway_shutdown_grace_seconds")),
    )


def recover(conn: Connection, folder: Path, own: Sequence[Path] = ()) -> list[str]:
    """Replay dead holders' journals, release their leases, expire stale ones; says what it did."""
    now = datetime.now(UTC)
    said: list[str] = []
    for path, holder, entries, fd in journals.orphans(folder, own):
        if entries:
            result = settle_events(conn, now, [e.event for e in entries], {})
            posted = result.posted
        else:
            posted = 0
        closed = leases.close_holder(
            conn, now, holder,
            f"holder gone: {posted} journaled settles replayed, {len(entries) - posted} already posted; "
            "unsettled reserve released",
        )
        journals.finish(path, fd)
        said.append(f"holder {holder}: replayed {posted} of {len(entries)} settles, released {len(closed)} leases")
    for c in leases.expire_leases(conn, now):
        said.append(f"lease {c.lease_id} of {c.holder} expired: {c.reason}")
    return said


async def _worker_main(sock: socket.socket, opts: Options, parent: int | None = None) -> None:
    loop = asyncio.get_running_loop()
    holder = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
    engine = make_engine(opts.db)
    journal = journals.Journal(opts.journal_dir, holder)
    writer = SettlementWriter(engine, loop, on_commit=journal.truncate_if)
    for line in await writer.call(lambda conn: recover(conn, opts.journal_dir, journal.paths)):
        log.warning("recovery: %s", line)
    budgets = Budgets(
        writer, holder, slice_nanos=opts.lease_nanos, key_ttl=opts.key_cache_s,
        refresh_s=opts.snapshot_s, lease_ttl_s=opts.lease_ttl_s, idle_s=opts.lease_idle_s,
    )
    rates = RateWindows(opts.redis_url, holder)
    pool = UpstreamPool(timeout=opts.upstream_timeout_s, retries=opts.upstream_retries)
    access = AccessLog(opts.access_log) if opts.access_log else None
    gw = Gateway(opts.config, writer, journal, budgets, rates, pool, access_log=access)
    conns: set[HttpConnection] = set()
    server = await loop.create_server(lambda: HttpConnection(gw.handle, conns), sock=sock, backlog=4096)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    gw.ready = True

    async def upkeep() -> None:
        last_recover = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.2)
            if parent is not None and os.getppid() != parent:
                log.warning("the parent process is gone: stopping")
                stop.set()
                break
            try:
                await budgets.upkeep()
                if access is not None:
                    access.flush()
                if writer.failed:
                    writer.retry_failed()
                if time.monotonic() - last_recover > RECOVER_S:
                    last_recover = time.monotonic()
                    for line in await writer.call(lambda conn: recover(conn, opts.journal_dir, journal.paths)):
                        log.warning("recovery: %s", line)
            except Exception:
                log.exception("upkeep failed")

    task = loop.create_task(upkeep())
    await stop.wait()
    gw.ready = False
    server.close()
    for c in list(conns):
        c.close_when_idle()
    deadline = time.monotonic() + opts.grace_s
    while (gw.inflight or any(c.busy for c in conns)) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    for c in list(conns):
        c.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    budgets.return_all()
    writer.stop()
    clean = writer.committed >= journal.written and not writer.failed
    journal.close(remove=clean)
    rates.close()
    pool.close()
    if access is not None:
        access.close()
    engine.dispose()


def _serve(sock: socket.socket, opts: Options, parent: int | None = None) -> None:
    # The writer thread shares the GIL with the loop; a short switch interval hands it back to
    # the loop within half a millisecond instead of five (the tail latency of a commit).
    sys.setswitchinterval(0.0005)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        import uvloop

        uvloop.run(_worker_main(sock, opts, parent))
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        asyncio.run(_worker_main(sock, opts, parent))


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


def run(opts: Options, host: str, port: int, workers: int) -> None:
    """Serve until SIGTERM: in this process for one worker, else forked workers sharing the socket."""
    sock = bind(host, port)
    print(f"quotadesk gateway on http://{host}:{sock.getsockname()[1]}/ ({workers} worker(s))",
          file=sys.stderr, flush=True)
    if workers <= 1:
        _serve(sock, opts)
        return
    children: dict[int, int] = {}
    stopping = False

    me = os.getpid()

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                _serve(sock, opts, parent=me)  # a worker stops when its parent is gone
            except BaseException:
                log.exception("worker failed")
                code = 1
            os._exit(code)
        children[pid] = slot

    def on_term(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    for slot in range(workers):
        spawn(slot)
    while children:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:  # pragma: no cover
            continue
        dead = children.pop(pid) if pid in children else None
        if dead is not None and not stopping:
            time.sleep(0.1)
            spawn(dead)
    sock.close()
