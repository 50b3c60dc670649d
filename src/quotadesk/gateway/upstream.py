"""Keep-alive connections to the upstream providers, and when a request may be retried.

A pool of persistent HTTP/1.1 connections per upstream (an asyncio Protocol each, answers
parsed by httptools), because opening a connection per request (httpx or aiohttp used that
way) costs more than the gateway's whole budget. One request at a time per connection.

Retries never double-charge: a request is sent again (on a fresh connection, same request id)
only when the upstream has sent no byte of an answer: a refused connection, or a kept-alive
connection the upstream had closed. Once a byte has arrived, whatever happens is the answer
and is metered once. Timeouts: connecting (``connect_timeout``) and the whole answer
(``timeout``); a timed-out answer is an error to the client, metered for what arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from typing import cast

import httptools

from quotadesk.gateway.config import Upstream


class UpstreamError(Exception):
    """The upstream could not be reached or broke off; ``started`` when bytes had arrived."""

    def __init__(self, message: str, *, started: bool = False) -> None:
        super().__init__(message)
        self.started = started


class Exchange:
    """One request and its answer: status, headers, body (or a ``sink`` streaming it)."""

    __slots__ = ("chunks", "done", "error", "head_done", "headers", "sink", "started", "status")

    def __init__(self, loop: asyncio.AbstractEventLoop, sink: Callable[[Exchange, bytes], None] | None) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.chunks: list[bytes] = []
        self.sink = sink
        self.started = False
        self.error: UpstreamError | None = None
        self.head_done: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[None] = loop.create_future()

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def fail(self, error: UpstreamError) -> None:
        self.error = error
        for fut in (self.head_done, self.done):
            if not fut.done():
                fut.set_exception(error)
                fut.exception()  # retrieved: a failure nobody awaits is not "never retrieved"


class UpstreamConnection(asyncio.Protocol):
    """A kept-alive connection to one upstream."""

    def __init__(self, pool: UpstreamPool, key: tuple[str, str, int]) -> None:
        self._pool = pool
        self._key = key
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.exchange: Exchange | None = None
        self.closed = False
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        ex = self.exchange
        if ex is not None and not ex.done.done():
            ex.fail(UpstreamError("the upstream closed the connection", started=ex.started))
        self._finish()

    def data_received(self, data: bytes) -> None:
        ex = self.exchange
        if ex is not None:
            ex.started = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if ex is not None:
                ex.fail(UpstreamError("malformed answer from the upstream", started=True))
            self.abort()

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.exchange is not None:
            self.exchange.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        ex = self.exchange
        if ex is not None:
            ex.status = self._parser.get_status_code()
            if not ex.head_done.done():
                ex.head_done.set_result(None)

    def on_body(self, body: bytes) -> None:
        ex = self.exchange
        if ex is None:
            return
        if ex.sink is not None:
            ex.sink(ex, body)
        else:
            ex.chunks.append(body)

    def on_message_complete(self) -> None:
        ex = self.exchange
        keep = self._parser.should_keep_alive()
        self.exchange = None
        self._finish()
        if ex is not None and not ex.done.done():
            ex.done.set_result(None)
        if keep and not self.closed:
            self._pool.put_back(self._key, self)
        else:
            self.abort()

    def start(self, ex: Exchange, data: bytes, timeout: float) -> None:
        assert self.transport is not None
        self.exchange = ex
        self._timer = asyncio.get_running_loop().call_later(timeout, self._timed_out)
        self.transport.write(data)

    def _timed_out(self) -> None:
        ex = self.exchange
        if ex is not None:
            ex.fail(UpstreamError("the upstream did not answer in time", started=ex.started))
        self.abort()

    def _finish(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def abort(self) -> None:
        """Drop the connection (a client went away mid-stream, or the answer broke)."""
        self.closed = True
        if self.transport is not None:
            with contextlib.suppress(Exception):
                self.transport.close()


class UpstreamPool:
    """Idle connections per upstream address, opened on demand and reused."""

    def __init__(self, *, connect_timeout: float = 10.0, timeout: float = 600.0, retries: int = 1,
                 max_idle: int = 256) -> None:
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.retries = retries
        self.max_idle = max_idle
        self._idle: dict[tuple[str, str, int], list[UpstreamConnection]] = {}
        self._ssl: ssl.SSLContext | None = None

    def put_back(self, key: tuple[str, str, int], conn: UpstreamConnection) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) < self.max_idle:
            idle.append(conn)
        else:
            conn.abort()

    async def _connect(self, up: Upstream, key: tuple[str, str, int]) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        tls = None
        if up.scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            tls = self._ssl
        try:
            _, proto = await asyncio.wait_for(
                loop.create_connection(
                    lambda: UpstreamConnection(self, key), up.host, up.port, ssl=tls,
                    server_hostname=up.host if tls else None,
                ),
                self.connect_timeout,
            )
        except (OSError, TimeoutError) as exc:
            raise UpstreamError(f"cannot connect to the upstream {up.name}: {exc}") from exc
        return proto

    def _take(self, key: tuple[str, str, int]) -> UpstreamConnection | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    async def send(
        self,
        up: Upstream,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        body: bytes,
        sink: Callable[[Exchange, bytes], None] | None = None,
    ) -> tuple[Exchange, UpstreamConnection]:
        """Send a request; returns once the answer's head arrived (its body may still flow)."""
        key = (up.scheme, up.host, up.port)
        lines = [f"{method} {up.base_path}{path} HTTP/1.1", f"host: {up.host}:{up.port}"]
        lines += [f"{k}: {v}" for k, v in headers]
        lines.append(f"content-length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            conn = self._take(key)
            try:
                if conn is None:
                    conn = await self._connect(up, key)
                ex = Exchange(loop, sink)
                conn.start(ex, data, self.timeout)
                await ex.head_done
                return ex, conn
            except UpstreamError as exc:
                if conn is not None:
                    conn.abort()
                if exc.started or attempt >= self.retries:
                    raise
                attempt += 1  # nothing of an answer arrived: safe to send again, same request id

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.abort()
        self._idle.clear()
