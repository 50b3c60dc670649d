"""A small fake provider for the gateway tests (OpenAI and Anthropic shapes), run as a subprocess.

    python fake_upstream.py PORT

Fixed usage (50 prompt / 20 completion tokens) so metering can be checked exactly. Streams are
sent with chunked transfer-encoding (the mock of shared/bench uses Content-Length), one event per
chunk. ``GET /hits`` counts the POSTs seen, so a test can prove a refusal never came here. A body
containing ``SLOW_STREAM`` streams two content events and then stalls (a client can leave
mid-stream); ``SLOW_ANSWER`` answers after a pause (a request in flight during SIGTERM);
``FAIL_500`` answers 500; ``DROP_ONCE`` closes the connection without a byte the first time a
request id is seen (the gateway may retry that). ``GET /seen`` lists the request ids seen.
"""

import asyncio
import json
import sys

PT, CT = 50, 20
HITS = 0
SEEN = []  # the x-request-id of every POST, in order


def _head(status, ctype, length=None):
    h = f"HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\n"
    h += f"content-length: {length}\r\n" if length is not None else "transfer-encoding: chunked\r\n"
    return (h + "\r\n").encode()


def _chunk(data):
    return b"%x\r\n%b\r\n" % (len(data), data)


def _whole(path, req):
    model = req.get("model", "m")
    if path.endswith("/messages"):
        return {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": "Hello."}], "stop_reason": "end_turn",
                "stop_sequence": None, "usage": {"input_tokens": PT, "output_tokens": CT}}
    if path.endswith("/embeddings"):
        return {"object": "list", "model": model, "data": [{"object": "embedding", "index": 0, "embedding": [0.0]}],
                "usage": {"prompt_tokens": PT, "total_tokens": PT}}
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hello."}}],
            "usage": {"prompt_tokens": PT, "completion_tokens": CT, "total_tokens": PT + CT}}


def _events(path, req):
    model = req.get("model", "m")
    if path.endswith("/messages"):
        ev = [("message_start", {"type": "message_start", "message": {"id": "msg_fake", "type": "message",
               "role": "assistant", "model": model, "content": [], "usage": {"input_tokens": PT, "output_tokens": 1}}}),
              ("content_block_start", {"type": "content_block_start", "index": 0,
               "content_block": {"type": "text", "text": ""}}),
              ("content_block_delta", {"type": "content_block_delta", "index": 0,
               "delta": {"type": "text_delta", "text": "Hello"}}),
              ("content_block_delta", {"type": "content_block_delta", "index": 0,
               "delta": {"type": "text_delta", "text": " there."}}),
              ("content_block_stop", {"type": "content_block_stop", "index": 0}),
              ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
               "usage": {"output_tokens": CT}}),
              ("message_stop", {"type": "message_stop"})]
        return [f"event: {n}\ndata: {json.dumps(d)}\n\n".encode() for n, d in ev]
    out = []
    for piece in ("Hello", " there", "."):
        out.append({"id": "c", "object": "chat.completion.chunk", "model": model,
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
    out.append({"id": "c", "object": "chat.completion.chunk", "model": model,
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if (req.get("stream_options") or {}).get("include_usage"):
        out.append({"id": "c", "object": "chat.completion.chunk", "model": model, "choices": [],
                    "usage": {"prompt_tokens": PT, "completion_tokens": CT, "total_tokens": PT + CT}})
    return [f"data: {json.dumps(c)}\n\n".encode() for c in out] + [b"data: [DONE]\n\n"]


async def handle(reader, writer):
    global HITS
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length, rid = 0, ""
            for ln in lines[1:]:
                if ln.lower().startswith("content-length:"):
                    length = int(ln.split(":", 1)[1])
                elif ln.lower().startswith("x-request-id:"):
                    rid = ln.split(":", 1)[1].strip()
            body = await reader.readexactly(length) if length else b""
            if method == "GET":
                data = json.dumps({"count": HITS} if path == "/hits" else SEEN).encode()
                writer.write(_head("200 OK", "application/json", len(data)) + data)
                await writer.drain()
                continue
            HITS += 1
            if b"DROP_ONCE" in body and rid not in SEEN:
                SEEN.append(rid)
                return  # close without a byte
            SEEN.append(rid)
            req = json.loads(body or b"{}")
            if b"FAIL_500" in body:
                data = b'{"error":{"message":"boom","type":"server_error"}}'
                writer.write(_head("500 Internal Server Error", "application/json", len(data)) + data)
            elif req.get("stream"):
                writer.write(_head("200 OK", "text/event-stream"))
                events = _events(path, req)
                if b"SLOW_STREAM" in body:
                    for ev in events[:3]:
                        writer.write(_chunk(ev))
                        await writer.drain()
                    await asyncio.sleep(30)
                    return
                for ev in events:
                    writer.write(_chunk(ev))
                writer.write(b"0\r\n\r\n")
            else:
                if b"SLOW_ANSWER" in body:
                    await asyncio.sleep(1.0)
                data = json.dumps(_whole(path, req)).encode()
                writer.write(_head("200 OK", "application/json", len(data)) + data)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
