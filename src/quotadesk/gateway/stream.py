"""Streaming answers relayed event by event, with the usage picked out on the way.

OpenAI streams report usage only in a last chunk, and only when asked
(``stream_options.include_usage``); the gateway always asks, and drops that chunk from what the
client receives when the client did not ask. Anthropic streams carry the input tokens in
``message_start`` and the running output count in ``message_delta``.

The stream's last event (``data: [DONE]`` or ``message_stop``) is held until the request is
settled, then sent followed by an SSE comment ``: quotadesk request_id=... cost=...
balance=...`` (SSE clients skip comment lines), so a client that received the whole stream was
metered, and can read the final cost.

A client that goes away mid-stream closes the upstream connection too (no more tokens are
generated for nobody), and the request is charged for what the upstream produced: the usage
reported so far, else the text relayed counted at about four bytes a token (at least one token
per content event), and the prompt as reported, else its body size over four.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from quotadesk.gateway.estimate import Usage, anthropic_usage, guess_tokens, openai_usage
from quotadesk.gateway.http import Connection
from quotadesk.gateway.upstream import Exchange, UpstreamConnection

Settle = Callable[[Usage, int], tuple[int, str]]


class Relay:
    """One streaming answer between the upstream connection and the client."""

    def __init__(self, conn: Connection, kind: str, head: list[tuple[str, str]], wants_usage: bool,
                 on_settle: Settle, prompt_guess: int = 0) -> None:
        self.conn = conn
        self.kind = kind
        self.head = head
        self.wants_usage = wants_usage
        self.on_settle = on_settle
        self.prompt_guess = prompt_guess
        self.upstream: UpstreamConnection | None = None
        self.head_sent = False
        self.settled = False
        self.cost = 0
        self.usage: Usage | None = None
        self.text_bytes = 0
        self.content_events = 0
        self._buf = b""
        self._passthrough: bool | None = None
        self._status = 200
        self._ctype = "text/event-stream"
        self._raw: list[bytes] = []

    # ------------------------------------------------------------------ upstream side

    def feed(self, ex: Exchange, data: bytes) -> None:
        if self._passthrough is None:
            self._status = ex.status
            self._ctype = ex.headers.get("content-type", "")
            self._passthrough = ex.status != 200 or "event-stream" not in self._ctype
        if self._passthrough:
            self._raw.append(data)
            return
        if self.conn.closed:
            return
        if not self.head_sent:
            self._send_head()
        buf = self._buf + data
        out: list[bytes] = []
        start = 0
        while True:
            end = buf.find(b"\n\n", start)
            if end < 0:
                break
            piece = self._event(buf[start:end])
            if piece is not None:
                out.append(piece)
            start = end + 2
        self._buf = buf[start:]
        if out:
            self.conn.chunk(b"".join(out))
        up = self.upstream
        if self.conn.paused and up is not None and up.transport is not None:
            # A slow reader: stop reading the upstream until the client's buffer drains, so a
            # stream is held in the kernel's buffers, not in the gateway's memory.
            up.transport.pause_reading()
            self.conn.on_resume = up.transport.resume_reading

    def _send_head(self) -> None:
        self.head_sent = True
        self.conn.start_stream(
            200, [("content-type", self._ctype or "text/event-stream"), ("cache-control", "no-cache"), *self.head]
        )

    @staticmethod
    def _payload(event: bytes) -> bytes | None:
        data = [line[5:].strip() for line in event.split(b"\n") if line.startswith(b"data:")]
        return b"\n".join(data) if data else None

    def _event(self, event: bytes) -> bytes | None:
        payload = self._payload(event)
        raw = event + b"\n\n"
        if payload is None:
            return raw
        if self.kind != "messages" and payload == b"[DONE]":
            return raw + self.finish(200, send=False)
        try:
            doc: Any = json.loads(payload)
        except ValueError:
            return raw
        if not isinstance(doc, dict):
            return raw
        if self.kind == "messages":
            return self._anthropic(doc, raw)
        usage = doc.get("usage")
        if usage:
            self.usage = openai_usage(usage) or self.usage
            if not doc.get("choices") and not self.wants_usage:
                return None
        for choice in doc.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict) and delta.get("content"):
                self.content_events += 1
                self.text_bytes += len(str(delta["content"]).encode())
        return raw

    def _anthropic(self, doc: dict[str, Any], raw: bytes) -> bytes:
        kind = doc.get("type")
        if kind == "message_start":
            msg = doc.get("message")
            self.usage = anthropic_usage(msg.get("usage") if isinstance(msg, dict) else None, self.usage)
        elif kind == "message_delta":
            self.usage = anthropic_usage(doc.get("usage"), self.usage)
        elif kind == "content_block_delta":
            delta = doc.get("delta") or {}
            text = delta.get("text") or delta.get("partial_json") or delta.get("thinking") or ""
            self.content_events += 1
            self.text_bytes += len(str(text).encode())
        elif kind == "message_stop":
            return raw + self.finish(200, send=False)
        return raw

    # ------------------------------------------------------------------ settling and ending

    def usage_so_far(self) -> Usage:
        """What the upstream produced when no final report arrived (see the module docstring)."""
        counted = max(self.content_events, guess_tokens(self.text_bytes))
        if self.usage is None:
            return Usage(self.prompt_guess, counted, 0)
        if self.kind == "messages":
            return Usage(self.usage.input, max(self.usage.output, counted), self.usage.cached)
        return self.usage

    def finish(self, status: int, *, send: bool = True) -> bytes:
        """Settle once; returns (and with ``send`` writes) the closing comment."""
        if self.settled:
            return b""
        self.settled = True
        complete = status == 200 and self.usage is not None and (
            self.kind == "messages" or self.usage.output or self.usage.input
        )
        usage = self.usage if complete and self.usage is not None else self.usage_so_far()
        if self._passthrough:
            usage = Usage(0, 0, 0)
            status = self._status
        self.cost, line = self.on_settle(usage, status)
        comment = b": quotadesk " + line.encode() + b"\n\n"
        if send and self.head_sent and not self.conn.closed:
            self.conn.chunk(comment)
        return comment

    def end(self) -> None:
        """The upstream answer is over: close the chunked stream (or send a whole non-SSE answer)."""
        if self.conn.closed:
            return
        if self._passthrough:
            body = b"".join(self._raw)
            self.conn.send(self._status, [("content-type", self._ctype or "application/json"), *self.head], body)
            return
        if not self.head_sent:
            self._send_head()
        self.conn.end(self._buf)
        self._buf = b""

    def client_gone(self) -> None:
        if self.upstream is not None:
            self.upstream.abort()
