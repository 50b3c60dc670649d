"""What the race and SIGKILL tests (and ``bench/gateway_race.py``) share: gateway processes on free
loopback ports, a fake upstream, books seeded through the library, and the ledger read back.

Nothing here asserts a time. Money is integer nano-dollars throughout.

    with FakeUpstream() as up, Gateway(url, {"openai": up.url}) as gw:
        org, secret = seed_org(books, credit="0.01", hard=None)
        ...
        facts = org_facts(books.engine, org)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import httpx
from sqlalchemy import Engine, func, select

from quotadesk.billing.limits import month_start
from quotadesk.store import ledger
from quotadesk.store.access import SYSTEM
from quotadesk.store.books import Books
from quotadesk.store.db import transaction
from quotadesk.store.schema import credit_grants, holds, ledger_postings, usage_events
from quotadesk.store.verify import verify

MODEL = "gpt-4o-mini"
PROMPT_TOKENS = 50
COMPLETION_TOKENS = 20
# The header that names the request id in the gateway's answers, and the usage event it settles.
REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-quotadesk-request-id")
BIG_RATE = {MODEL: {"rpm": 100_000_000, "tpm": 100_000_000_000}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def quotadesk_exe() -> str:
    """The ``quotadesk`` console script of the running interpreter's environment."""
    exe = Path(sys.executable).with_name("quotadesk")
    return str(exe) if exe.exists() else "quotadesk"


def request_id(headers: Mapping[str, str]) -> str | None:
    low = {k.lower(): v for k, v in headers.items()}
    for name in REQUEST_ID_HEADERS:
        if name in low:
            return low[name]
    return None


# ------------------------------------------------------------------ fake upstream


def _chat(model: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hello."}}
            ],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": COMPLETION_TOKENS,
                "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
            },
        }
    ).encode()


def _chat_stream(model: str, include_usage: bool) -> bytes:
    chunks: list[dict[str, object]] = [
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "model": model,
            "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
        }
        for piece in ("Hel", "lo.")
    ]
    chunks.append(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "model": model,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }
    )
    if include_usage:
        chunks.append(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "model": model,
                "choices": [],
                "usage": {
                    "prompt_tokens": PROMPT_TOKENS,
                    "completion_tokens": COMPLETION_TOKENS,
                    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
                },
            }
        )
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks).encode() + b"data: [DONE]\n\n"


def _messages(model: str) -> bytes:
    return json.dumps(
        {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "Hello."}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": COMPLETION_TOKENS},
        }
    ).encode()


def _http(status: bytes, body: bytes, ctype: bytes = b"application/json") -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: " + ctype + b"\r\nContent-Length: "
        + str(len(body)).encode() + b"\r\nConnection: keep-alive\r\n\r\n" + body
    )


class FakeUpstream:
    """An OpenAI/Anthropic upstream on a free loopback port, served from a thread of this process.

    Every answer reports ``PROMPT_TOKENS``/``COMPLETION_TOKENS``, so metering can be checked exactly.
    ``latency_s`` delays each answer (keeps requests in flight during a race or a kill). ``served``
    counts the model calls answered.
    """

    def __init__(self, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.served = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-upstream", daemon=True)

    def __enter__(self) -> FakeUpstream:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake upstream did not start")
        return self

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._server = loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port, backlog=1024)
        )
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    def _answer(self, method: bytes, path: bytes, body: bytes) -> bytes:
        path = path.split(b"?")[0]
        if method == b"GET" and path == b"/healthz":
            return _http(b"200 OK", b'{"status":"ok"}')
        if method != b"POST":
            return _http(b"404 Not Found", b"")
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            return _http(b"400 Bad Request", b'{"error":{"message":"bad json","type":"invalid_request_error"}}')
        model = str(req.get("model", MODEL))
        self.served += 1
        if path.endswith(b"/chat/completions"):
            if req.get("stream"):
                inc = bool((req.get("stream_options") or {}).get("include_usage"))
                return _http(b"200 OK", _chat_stream(model, inc), b"text/event-stream")
            return _http(b"200 OK", _chat(model))
        if path.endswith(b"/messages"):
            return _http(b"200 OK", _messages(model))
        if path.endswith(b"/embeddings"):
            usage = {"prompt_tokens": PROMPT_TOKENS, "total_tokens": PROMPT_TOKENS}
            data = [{"object": "embedding", "index": 0, "embedding": [0.0] * 4}]
            return _http(b"200 OK", json.dumps({"object": "list", "model": model, "data": data, "usage": usage}).encode())
        self.served -= 1
        return _http(b"404 Not Found", b"")

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                method, path, _ = lines[0].split(b" ", 2)
                clen = 0
                for ln in lines[1:]:
                    if ln.lower().startswith(b"content-length:"):
                        clen = int(ln.split(b":", 1)[1].strip())
                body = await reader.readexactly(clen) if clen else b""
                if self.latency_s:
                    await asyncio.sleep(self.latency_s)
                writer.write(self._answer(method, path, body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            writer.close()


# ------------------------------------------------------------------ gateway processes


class Gateway:
    """``quotadesk gateway`` in a subprocess on a free port, ready once ``/healthz`` answers 200.

    ``stop()`` sends SIGTERM (graceful), ``kill()`` SIGKILL to the whole process group (the master and
    its workers), ``kill_worker()`` SIGKILL to one worker only when there are several processes.
    """

    def __init__(
        self,
        db: str,
        upstreams: Mapping[str, str],
        *,
        workers: int = 1,
        port: int | None = None,
        extra: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
        journal_dir: Path | None = None,
    ) -> None:
        self.db = db
        self.upstreams = dict(upstreams)
        self.workers = workers
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra = tuple(extra)
        self.env = dict(os.environ if env is None else env)
        if journal_dir is not None:
            # Processes that share a folder replay each other's journals after a crash.
            self.env["QUOTADESK_GATEWAY_JOURNAL_DIR"] = str(journal_dir)
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready_s: float | None = None

    def argv(self) -> list[str]:
        argv = [quotadesk_exe(), "gateway", "--db", self.db, "--host", "127.0.0.1", "--port", str(self.port)]
        argv += ["--workers", str(self.workers)]
        for name, url in self.upstreams.items():
            argv += ["--upstream", f"{name}={url}"]
        return argv + list(self.extra)

    def start(self, timeout: float = 30.0) -> Gateway:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.argv(), stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        if self.log:
            out.close()  # type: ignore[union-attr]
        self.ready_s = wait_healthy(self.url, self.proc, timeout) - t0
        return self

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def pids(self) -> list[int]:
        """The master and every descendant (the workers)."""
        if self.proc is None:
            return []
        return [self.pid, *descendants(self.pid)]

    def worker_pids(self) -> list[int]:
        """Processes that serve: the descendants when there are any, else the process itself."""
        kids = descendants(self.pid) if self.proc is not None else []
        return kids or ([self.pid] if self.proc is not None else [])

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self) -> None:
        """SIGKILL the process group: the master and its workers die at once, mid-request."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        for k in kids:
            out.append(int(k))
            todo.append(int(k))
    return out


def rss_kib(pid: int) -> int | None:
    """VmRSS of ``pid`` in KiB (None when gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def wait_healthy(url: str, proc: subprocess.Popen[bytes] | None, timeout: float) -> float:
    """Poll ``GET /healthz`` until 200 ``{"status": "ok"}``; returns the perf_counter of that answer."""
    deadline = time.perf_counter() + timeout
    with httpx.Client(timeout=1.0) as client:
        while time.perf_counter() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {proc.returncode} before it was ready")
            try:
                r = client.get(f"{url}/healthz")
                if r.status_code == 200 and r.json().get("status") == "ok":
                    return time.perf_counter()
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.01)
    raise RuntimeError(f"gateway at {url} not ready after {timeout} s")


# ------------------------------------------------------------------ the books


def now() -> datetime:
    return datetime.now(UTC)


def seed_org(
    books: Books,
    *,
    credit: str,
    hard: str | None = None,
    rate_limits: Mapping[str, Mapping[str, int | None]] | None = None,
    name: str = "race",
) -> tuple[str, str]:
    """A prepaid org with ``credit`` dollars of goodwill credit, an optional hard limit and rate
    limits high enough never to bind (unless given); returns (org id, key secret)."""
    t = now()
    org = books.create_org(SYSTEM, t, name=name, trial_days=None)
    books.grant_credit(SYSTEM, t, org, credit, kind="goodwill", reason="race test")
    if hard is not None:
        books.set_limits(SYSTEM, t, org, soft=None, hard=hard)
    books.set_rate_limits(SYSTEM, t, org, dict(rate_limits or BIG_RATE))
    key = books.create_key(SYSTEM, t, org, name="race")
    return org, key.secret


@dataclass(frozen=True)
class OrgFacts:
    """What the books say about one org after a run (nano-dollars)."""

    granted: int
    remaining: int
    spend: int  # spend:<org>:<month> balance (the ledger)
    arrears: int  # arrears:<org> balance (negative when usage went past the credit)
    event_cost: int  # sum of usage_events.cost (what was settled)
    event_ids: frozenset[str]
    events: int
    holds_by_status: dict[str, int]
    settled_hold_requests: frozenset[str]
    postings_total: int  # every posting of the whole ledger summed
    verify_findings: tuple[str, ...] = field(default=())


def org_facts(engine: Engine, org_id: str, at: datetime | None = None, *, audit: bool = True) -> OrgFacts:
    t = at or now()
    with transaction(engine) as conn:
        granted, remaining = conn.execute(
            select(
                func.coalesce(func.sum(credit_grants.c.amount), 0),
                func.coalesce(func.sum(credit_grants.c.remaining), 0),
            ).where(credit_grants.c.org_id == org_id)
        ).one()
        spend = ledger.balance(conn, ledger.spend_account(org_id, month_start(t)))
        arrears = ledger.balance(conn, ledger.arrears_account(org_id))
        rows = conn.execute(
            select(usage_events.c.request_id, usage_events.c.cost).where(usage_events.c.org_id == org_id)
        ).all()
        by_status = {
            str(s): int(n)
            for s, n in conn.execute(
                select(holds.c.status, func.count()).where(holds.c.org_id == org_id).group_by(holds.c.status)
            )
        }
        settled = conn.execute(
            select(holds.c.request_id).where(holds.c.org_id == org_id, holds.c.status == "settled")
        ).all()
        total = conn.execute(select(func.coalesce(func.sum(ledger_postings.c.amount), 0))).scalar_one()
    # ``verify`` audits the whole books (every account, grant and usage transaction): a long run
    # calls it at checkpoints only (``audit=False`` between them), else each trial costs more.
    report = verify(engine) if audit else None
    return OrgFacts(
        granted=int(granted),
        remaining=int(remaining),
        spend=int(spend),
        arrears=int(arrears),
        event_cost=sum(int(c) for _, c in rows),
        event_ids=frozenset(str(r) for r, _ in rows),
        events=len(rows),
        holds_by_status=by_status,
        settled_hold_requests=frozenset(str(r) for (r,) in settled if r is not None),
        postings_total=int(total),
        verify_findings=() if report is None else tuple(f"{f.code}: {f.message}" for f in report.findings),
    )


def wait_settled(engine: Engine, org_id: str, timeout: float = 30.0) -> int:
    """Wait until ``org_id`` has no open hold (batched settlement flushed); returns holds still open."""
    deadline = time.monotonic() + timeout
    while True:
        with transaction(engine) as conn:
            n = conn.execute(
                select(func.count()).where(holds.c.org_id == org_id, holds.c.status == "open")
            ).scalar_one()
        if not n or time.monotonic() > deadline:
            return int(n)
        time.sleep(0.05)


def check_exactly_once(
    facts: OrgFacts, admitted: Sequence[str], hard_limit: int | None, *, unanswered_ok: bool = False
) -> list[str]:
    """Every invariant of a race, as a list of broken ones (empty when all hold).

    ``admitted``: the request ids of the 200 answers the clients received with a full body.
    ``unanswered_ok``: events of requests no client saw answered are allowed (a gateway killed
    mid-answer charges what the upstream produced); without it they are a finding.
    """
    bad: list[str] = []
    ids = set(admitted)
    if len(ids) != len(admitted):
        bad.append(f"the gateway gave {len(admitted) - len(ids)} request ids to two answers")
    if facts.event_cost != facts.spend:
        bad.append(f"settled {facts.event_cost} but the ledger's spend account says {facts.spend}")
    consumed = facts.granted - facts.remaining
    if facts.spend != consumed - facts.arrears:
        bad.append(f"spend {facts.spend} != grants consumed {consumed} + arrears {-facts.arrears}")
    if facts.arrears != 0 or facts.spend > facts.granted:
        bad.append(f"overspend: spent {facts.spend} of a balance of {facts.granted} (arrears {facts.arrears})")
    if hard_limit is not None and facts.spend > hard_limit:
        bad.append(f"overspend: spent {facts.spend} past the hard limit {hard_limit}")
    missing = ids - facts.event_ids
    if missing:
        bad.append(f"{len(missing)} admitted requests have no usage event, e.g. {sorted(missing)[:3]}")
    extra = facts.event_ids - ids
    if extra and not unanswered_ok:
        bad.append(f"{len(extra)} usage events for requests no client was answered 200, e.g. {sorted(extra)[:3]}")
    if facts.postings_total != 0:
        bad.append(f"ledger postings sum to {facts.postings_total}, not zero")
    if facts.holds_by_status.get("open"):
        bad.append(f"{facts.holds_by_status['open']} holds still open")
    bad.extend(facts.verify_findings)
    return bad


def open_leases(engine: Engine, org_id: str | None = None) -> list[dict[str, object]]:
    """Open rows of ``gateway_leases`` (the gateway's budget leases), of one org or all; [] when the
    books have no such table."""
    from sqlalchemy import MetaData, Table
    from sqlalchemy.exc import NoSuchTableError

    try:
        table = Table("gateway_leases", MetaData(), autoload_with=engine)
    except NoSuchTableError:
        return []
    query = select(table).where(table.c.status == "open")
    if org_id is not None:
        query = query.where(table.c.org_id == org_id)
    with transaction(engine) as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def open_holds(engine: Engine, org_id: str | None = None) -> int:
    query = select(func.count()).where(holds.c.status == "open")
    if org_id is not None:
        query = query.where(holds.c.org_id == org_id)
    with transaction(engine) as conn:
        return int(conn.execute(query).scalar_one())


# ------------------------------------------------------------------ a lean HTTP/1.1 client


@dataclass
class Answer:
    """One HTTP answer: status, headers (names in lower case), the whole body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Conn:
    """One keep-alive HTTP/1.1 connection to ``url``, reopened after an error. Far cheaper per
    request than a general client, so 64 racing clients in one process are not the bottleneck."""

    def __init__(self, url: str) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.netloc = parts.netloc
        self._rw: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def close(self) -> None:
        if self._rw is not None:
            self._rw[1].close()
            self._rw = None

    async def post(self, path: str, payload: object, headers: Mapping[str, str], timeout: float = 30.0) -> Answer:
        body = json.dumps(payload).encode()
        head = f"POST {path} HTTP/1.1\r\nHost: {self.netloc}\r\nContent-Type: application/json\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"Content-Length: {len(body)}\r\n\r\n"
        try:
            if self._rw is None:
                self._rw = await asyncio.open_connection(self.host, self.port)
            reader, writer = self._rw
            writer.write(head.encode() + body)
            return await asyncio.wait_for(_read_answer(reader), timeout)
        except BaseException:
            await self.close()
            raise


async def _read_answer(reader: asyncio.StreamReader) -> Answer:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    hdrs: dict[str, str] = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    if "content-length" in hdrs:
        data = await reader.readexactly(int(hdrs["content-length"]))
    elif hdrs.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        data = b"".join(parts)
    else:
        data = await reader.read()
    return Answer(status, hdrs, data)


def wait_quiet(engine: Engine, org_id: str, admitted: Sequence[str], timeout: float = 20.0) -> bool:
    """Wait until every admitted request of ``org_id`` has its usage event and the org's events and
    spend stopped moving (settles are group-committed a few ms after the answer; a dead process's
    journal is replayed by the next sweep). Returns False on timeout: the reading is then taken as
    it is, and a missing event is a finding."""
    want = set(admitted)
    t = now()
    deadline = time.monotonic() + timeout
    last: tuple[int, int] | None = None
    while time.monotonic() < deadline:
        with transaction(engine) as conn:
            ids = {str(r) for (r,) in conn.execute(select(usage_events.c.request_id).where(usage_events.c.org_id == org_id))}
            spend = ledger.balance(conn, ledger.spend_account(org_id, month_start(t)))
        state = (len(ids), spend)
        if want <= ids and state == last:
            return True
        last = state
        time.sleep(0.1)
    return False
