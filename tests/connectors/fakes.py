"""Local fake servers that speak the help desks' real API shapes (from their published docs),
a status page with ETags, and an alert webhook receiver: small HTTP servers on free ports."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = tuple[str, str, Callable[..., tuple[int, Any, dict[str, str]]]]


class FakeServer:
    """A threaded HTTP server; ``routes`` are (method, path regex, handler(match, body, headers))."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_next: list[int] = []  # statuses to answer before behaving (500, 429, ...)
        self.routes: list[Route] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw and "json" in (self.headers.get("content-type") or "") else raw
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.requests.append(
                    {"method": self.command, "path": self.path, "body": body, "headers": headers}
                )
                status, answer, extra = 404, {"error": "no route"}, {}
                if outer.fail_next:
                    status, answer = outer.fail_next.pop(0), {"error": "injected"}
                else:
                    for method, pattern, handler in outer.routes:
                        m = re.fullmatch(pattern, self.path.split("?")[0])
                        if method == self.command and m:
                            status, answer, extra = handler(m, body, headers)
                            break
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class FakeDesk(FakeServer):
    """One help desk: notes per ticket (with their internal/private flag), tags, groups."""

    def __init__(self, name: str, auth: str) -> None:
        super().__init__()
        self.name = name
        self.auth = auth  # the exact Authorization (or api_access_token) value expected
        self.notes: dict[str, list[dict[str, Any]]] = {}
        self.tags: dict[str, list[str]] = {}
        self.groups: dict[str, Any] = {}
        self.users = {"9001": {"id": 9001, "email": "dana@acme.io"}}
        getattr(self, f"_{name}")()

    def _ok(self, headers: dict[str, str]) -> bool:
        key = "api_access_token" if self.name == "chatwoot" else "authorization"
        return headers.get(key) == self.auth

    def _note(self, ticket: str, text: str, private: bool) -> dict[str, Any]:
        note = {"id": sum(len(v) for v in self.notes.values()) + 100, "body": text, "private": private}
        self.notes.setdefault(ticket, []).append(note)
        return note

    def _guard(self, fn: Callable[..., tuple[int, Any, dict[str, str]]]) -> Callable[..., Any]:
        def wrapped(m: Any, body: Any, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
            if not self._ok(headers):
                return 401, {"error": "Couldn't authenticate you"}, {}
            return fn(m, body, headers)

        return wrapped

    # Zammad: POST /api/v1/ticket_articles {ticket_id, body, type: note, internal: true}
    def _zammad(self) -> None:
        def article(m: Any, body: Any, h: Any) -> Any:
            if body.get("type") != "note":
                return 422, {"error": "type"}, {}
            note = self._note(str(body["ticket_id"]), body["body"], bool(body.get("internal")))
            return (
                201,
                {"id": note["id"], "ticket_id": body["ticket_id"], "internal": body.get("internal")},
                {},
            )

        def by_ticket(m: Any, body: Any, h: Any) -> Any:
            return (
                200,
                [
                    {"id": n["id"], "body": n["body"], "internal": n["private"]}
                    for n in self.notes.get(m[1], [])
                ],
                {},
            )

        def tag(m: Any, body: Any, h: Any) -> Any:
            self.tags.setdefault(str(body["o_id"]), []).append(body["item"])
            return 200, True, {}

        def ticket(m: Any, body: Any, h: Any) -> Any:
            self.groups[m[1]] = body.get("group")
            return 200, {"id": int(m[1]), "group": body.get("group")}, {}

        self.routes += [
            ("POST", r"/api/v1/ticket_articles", self._guard(article)),
            ("GET", r"/api/v1/ticket_articles/by_ticket/(\d+)", self._guard(by_ticket)),
            ("POST", r"/api/v1/tags/add", self._guard(tag)),
            ("PUT", r"/api/v1/tickets/(\d+)", self._guard(ticket)),
        ]

    # Zendesk: PUT /api/v2/tickets/{id}.json {"ticket": {"comment": {"body", "public": false}}}
    def _zendesk(self) -> None:
        def update(m: Any, body: Any, h: Any) -> Any:
            t = body["ticket"]
            if "comment" in t:
                self._note(m[1], t["comment"]["body"], t["comment"].get("public") is False)
            if "additional_tags" in t:
                self.tags.setdefault(m[1], []).extend(t["additional_tags"])
            if "group_id" in t:
                self.groups[m[1]] = t["group_id"]
            return 200, {"ticket": {"id": int(m[1])}, "audit": {"id": 7000 + len(self.requests)}}, {}

        def comments(m: Any, body: Any, h: Any) -> Any:
            return (
                200,
                {
                    "comments": [
                        {"id": n["id"], "body": n["body"], "public": not n["private"]}
                        for n in self.notes.get(m[1], [])
                    ]
                },
                {},
            )

        def user(m: Any, body: Any, h: Any) -> Any:
            return (
                (200, {"user": self.users[m[1]]}, {})
                if m[1] in self.users
                else (404, {"error": "RecordNotFound"}, {})
            )

        self.routes += [
            ("PUT", r"/api/v2/tickets/(\d+)\.json", self._guard(update)),
            ("GET", r"/api/v2/tickets/(\d+)/comments\.json", self._guard(comments)),
            ("GET", r"/api/v2/users/(\d+)\.json", self._guard(user)),
        ]

    # Freshdesk: POST /api/v2/tickets/{id}/notes {body, private: true}
    def _freshdesk(self) -> None:
        def note(m: Any, body: Any, h: Any) -> Any:
            n = self._note(m[1], body["body"], bool(body.get("private")))
            return (
                201,
                {"id": n["id"], "body": body["body"], "private": body.get("private"), "ticket_id": int(m[1])},
                {},
            )

        def conversations(m: Any, body: Any, h: Any) -> Any:
            return (
                200,
                [
                    {
                        "id": n["id"],
                        "body": n["body"],
                        "body_text": re.sub("<[^>]+>", "", n["body"]),
                        "private": n["private"],
                    }
                    for n in self.notes.get(m[1], [])
                ],
                {},
            )

        def show(m: Any, body: Any, h: Any) -> Any:
            return 200, {"id": int(m[1]), "tags": self.tags.get(m[1], [])}, {}

        def put(m: Any, body: Any, h: Any) -> Any:
            if "tags" in body:
                self.tags[m[1]] = body["tags"]
            if "group_id" in body:
                self.groups[m[1]] = body["group_id"]
            return 200, {"id": int(m[1])}, {}

        self.routes += [
            ("POST", r"/api/v2/tickets/(\d+)/notes", self._guard(note)),
            ("GET", r"/api/v2/tickets/(\d+)/conversations", self._guard(conversations)),
            ("GET", r"/api/v2/tickets/(\d+)", self._guard(show)),
            ("PUT", r"/api/v2/tickets/(\d+)", self._guard(put)),
        ]

    # Chatwoot: POST /api/v1/accounts/{a}/conversations/{id}/messages {content, message_type, private}
    def _chatwoot(self) -> None:
        base = r"/api/v1/accounts/(\d+)/conversations/(\d+)"

        def message(m: Any, body: Any, h: Any) -> Any:
            n = self._note(m[2], body["content"], bool(body.get("private")))
            return (
                200,
                {
                    "id": n["id"],
                    "content": body["content"],
                    "private": body.get("private"),
                    "message_type": 1,
                },
                {},
            )

        def messages(m: Any, body: Any, h: Any) -> Any:
            return (
                200,
                {
                    "payload": [
                        {"id": n["id"], "content": n["body"], "private": n["private"]}
                        for n in self.notes.get(m[2], [])
                    ]
                },
                {},
            )

        def labels(m: Any, body: Any, h: Any) -> Any:
            if body:
                self.tags[m[2]] = body["labels"]
            return 200, {"payload": self.tags.get(m[2], [])}, {}

        def assign(m: Any, body: Any, h: Any) -> Any:
            self.groups[m[2]] = body.get("team_id")
            return 200, {"id": body.get("team_id")}, {}

        self.routes += [
            ("POST", base + r"/messages", self._guard(message)),
            ("GET", base + r"/messages", self._guard(messages)),
            ("GET", base + r"/labels", self._guard(labels)),
            ("POST", base + r"/labels", self._guard(labels)),
            ("POST", base + r"/assignments", self._guard(assign)),
        ]


class FakeStatusPage(FakeServer):
    """A Statuspage v2 page: summary.json and incidents.json with an ETag."""

    def __init__(self) -> None:
        super().__init__()
        self.incidents: list[dict[str, Any]] = []
        self.down = False

        def doc(kind: str) -> Callable[..., Any]:
            def handler(m: Any, body: Any, headers: dict[str, str]) -> Any:
                if self.down:
                    return 503, {"error": "unavailable"}, {}
                listed = (
                    self.incidents
                    if kind == "incidents"
                    else [i for i in self.incidents if i["status"] != "resolved"]
                )
                answer = {
                    "page": {
                        "id": "kctbh9vrtdwd",
                        "name": "Example API",
                        "updated_at": "2026-11-14T08:00:00Z",
                    },
                    "status": {"indicator": "major" if listed else "none", "description": "x"},
                    "incidents": listed,
                }
                etag = f'W/"{hash(json.dumps(answer, sort_keys=True)) & 0xFFFFFFFF:x}"'
                if headers.get("if-none-match") == etag:
                    return 304, None, {"ETag": etag}
                return 200, answer, {"ETag": etag}

            return handler

        self.routes += [
            ("GET", r"/api/v2/summary\.json", doc("summary")),
            ("GET", r"/api/v2/incidents\.json", doc("incidents")),
        ]
