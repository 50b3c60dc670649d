"""The gateway's HTTP/1.1 server: an asyncio Protocol around the httptools parser.

Why not uvicorn and FastAPI (which the desk uses): the gateway's budget is about half a
millisecond of CPU per request for everything (parse, admit, forward, meter). An ASGI stack
spends most of that on scopes, middleware and validation the gateway does not need. Here a
request is parsed by httptools (the C parser uvicorn itself uses), handed to one coroutine,
and answered with bytes written straight to the transport. Keep-alive and pipelining are
kept: requests on one connection are answered in order, one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import cast

import httptools

MAX_BODY = 16 * 1024 * 1024
_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}


class Request:
    """A parsed request: method, path (no query), lower-case header names, body bytes."""

    __slots__ = ("body", "headers", "keep_alive", "method", "path")

    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes, keep_alive: bool) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive


Handler = Callable[[Request, "Connection"], Awaitable[None]]


def head(status: int, headers: list[tuple[str, str]], *, length: int | None, keep_alive: bool) -> bytes:
    parts = [b"HTTP/1.1 ", str(status).encode(), b" ", _REASONS.get(status, b"Unknown"), b"\r\n"]
    for name, value in headers:
        parts += [name.encode(), b": ", value.encode("latin-1", "replace"), b"\r\n"]
    if length is None:
        parts.append(b"transfer-encoding: chunked\r\n")
    else:
        parts += [b"content-length: ", str(length).encode(), b"\r\n"]
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


class Connection(asyncio.Protocol):
    """One client connection: parses requests, runs the handler for each in turn, writes answers."""

    def __init__(self, handler: Handler, connections: set[Connection]) -> None:
        self._handler = handler
        self._connections = connections
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._queue: deque[Request] = deque()
        self._task: asyncio.Task[None] | None = None
        self._paused: asyncio.Future[None] | None = None
        self.closed = False
        self.on_close: Callable[[], None] | None = None
        self.on_resume: Callable[[], None] | None = None
        self.peer = ""
        self._keep_alive = True
        self.shutting = False

    # ------------------------------------------------------------------ protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        self._connections.add(self)
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else ""

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._connections.discard(self)
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)
        if self.on_close is not None:
            callback, self.on_close = self.on_close, None
            callback()

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._bad(400, b"upgrades are not supported")
        except httptools.HttpParserError:
            self._bad(400, b"malformed HTTP request")

    def pause_writing(self) -> None:
        if self._paused is None or self._paused.done():
            self._paused = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)
        if self.on_resume is not None:
            callback, self.on_resume = self.on_resume, None
            callback()

    @property
    def paused(self) -> bool:
        """The client's socket buffer is full (it reads slower than we write)."""
        return self._paused is not None and not self._paused.done()

    # ------------------------------------------------------------------ parser callbacks

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        if self._headers.get("expect", "").lower() == "100-continue":
            self.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_BODY:
            self._bad(413, b"request body too large")
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self.closed:
            return
        url = self._url
        q = url.find(b"?")
        path = (url if q < 0 else url[:q]).decode("latin-1")
        req = Request(
            self._parser.get_method().decode("latin-1"),
            path,
            self._headers,
            b"".join(self._body),
            self._parser.should_keep_alive(),
        )
        self._url, self._headers, self._body, self._size = b"", {}, [], 0
        self._queue.append(req)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    # ------------------------------------------------------------------ running handlers

    async def _run(self) -> None:
        try:
            while self._queue and not self.closed:
                req = self._queue.popleft()
                self._keep_alive = req.keep_alive and not self.shutting
                await self._handler(req, self)
                if not self._keep_alive:
                    self.close()
        finally:
            self._task = None

    @property
    def busy(self) -> bool:
        return self._task is not None

    def _bad(self, status: int, message: bytes) -> None:
        body = b'{"error":{"message":"' + message + b'","type":"invalid_request_error","code":null,"param":null}}'
        self.write(head(status, [("content-type", "application/json")], length=len(body), keep_alive=False) + body)
        self.close()

    # ------------------------------------------------------------------ answering

    def write(self, data: bytes) -> None:
        if self._transport is not None and not self.closed:
            self._transport.write(data)

    def send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """A whole answer with its length."""
        self.write(head(status, headers, length=len(body), keep_alive=self._keep_alive) + body)

    def start_stream(self, status: int, headers: list[tuple[str, str]]) -> None:
        """The head of a chunked answer; then ``chunk`` and ``end``."""
        self.write(head(status, headers, length=None, keep_alive=self._keep_alive))

    def chunk(self, data: bytes) -> None:
        if data:
            self.write(b"%x\r\n%b\r\n" % (len(data), data))

    def end(self, last: bytes = b"") -> None:
        if last:
            self.write(b"%x\r\n%b\r\n0\r\n\r\n" % (len(last), last))
        else:
            self.write(b"0\r\n\r\n")

    async def drain(self) -> None:
        """Wait while the client's socket buffer is full (a slow reader must not grow memory)."""
        if self._paused is not None and not self._paused.done():
            await self._paused

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def close_when_idle(self) -> None:
        """Shutting down: close now if no request runs, else after the current one."""
        self.shutting = True
        self._keep_alive = False
        if self._task is None:
            with contextlib.suppress(Exception):
                self.close()
