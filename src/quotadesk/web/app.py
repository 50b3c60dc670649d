"""The desk service as an ASGI app: the REST API under ``/api/v1``, health, sign-in, pages.

``create_app(desk)`` wires a ``Desk`` (the library) to HTTP. ``app_from_env`` builds the desk
from settings (``QUOTADESK_DB``, ``QUOTADESK_USAGE_DIR``, ``QUOTADESK_STATUS_PAGE``, …) for
``uvicorn --factory``, which is how ``quotadesk serve --workers N`` starts each worker process.

Bodies are bounded (setting ``max_body_bytes``) before anything reads them: a request larger
than that is a 413, whether it says so in ``Content-Length`` or streams past it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quotadesk import __version__, settings
from quotadesk.desk.service import Desk
from quotadesk.web import api_cases, api_desk, api_orgs, console, errors, hooks, pages

if TYPE_CHECKING:
    from quotadesk.connectors.runtime import Connectors


class BodyLimit:
    """Refuse bodies over ``limit`` bytes with a 413 in the error shape, counting as they stream."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = errors.error(413, f"the body is larger than {self.limit} bytes", "body")
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


def _honest_openapi(app: FastAPI) -> None:
    """The document says what the API really answers: FastAPI documents a 422 of its own for every
    body, but a body that does not validate is a 400 in the one error shape here (``errors``)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = generate()
        for item in doc.get("paths", {}).values():
            for op in item.values():
                responses = op.get("responses", {}) if isinstance(op, dict) else {}
                ref = str(responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema"))
                if "HTTPValidationError" in ref:
                    del responses["422"]
        doc.setdefault("components", {})["securitySchemes"] = {
            "staffToken": {"type": "http", "scheme": "bearer", "description": "A staff token (quotadesk staff add)"}
        }
        for path, item in doc.get("paths", {}).items():
            if path.startswith("/api/v1"):
                for op in item.values():
                    if isinstance(op, dict):
                        op["security"] = [{"staffToken": []}]
        schemas = doc.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    desk: Desk, *, max_body_bytes: int | None = None, connectors: Connectors | None = None
) -> FastAPI:
    """The app; ``connectors`` (default: from settings) receive the webhooks, and their background
    work (pollers, the outbox) runs while the app is up and stops with it. Every log line is
    redacted from here on (``logredact``)."""
    from quotadesk import logredact

    logredact.install()
    if connectors is None:
        from quotadesk.connectors.runtime import Connectors

        connectors = Connectors.from_settings(desk)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        connectors.start()
        try:
            yield
        finally:
            connectors.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="quotadesk desk",
        version=__version__,
        description="The support desk of an AI API platform: organizations' books, live cases, "
        "the runbook's roles and an audit log. Money is a decimal string in US dollars; times are "
        'RFC 3339 UTC. Errors are {"error": {"code", "message", "field"}} with a 4xx status.',
    )
    app.state.desk = desk
    app.state.connectors = connectors
    errors.install(app)

    @app.get("/healthz", tags=["health"], summary="Ready")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(api_orgs.router)
    app.include_router(api_cases.router)
    app.include_router(api_desk.router)
    app.include_router(hooks.router)
    app.include_router(pages.router)
    console.install(app)
    _honest_openapi(app)
    limit = max_body_bytes if max_body_bytes is not None else int(settings.get("max_body_bytes"))
    app.add_middleware(BodyLimit, limit=limit)
    return app


def desk_from_settings(**overrides: Any) -> Desk:
    """A ``Desk`` on the books and sources the settings name (the same books as every command)."""
    from quotadesk.desk.statuspage import StatusSource
    from quotadesk.store.books import Books

    books = Books.open(overrides.get("db") or settings.get("db"))
    wording_file = overrides.get("wording_file") or settings.get("wording_file")
    wording = None
    if wording_file:
        from quotadesk.triage.wording import load_wording

        wording = load_wording(wording_file)
    return Desk(
        books,
        status=StatusSource(overrides.get("status_page") or settings.get("status_page")),
        usage_dir=overrides.get("usage_dir") or settings.get("usage_dir"),
        provider=overrides.get("provider") or settings.get("provider"),
        wording=wording,
    )


def app_from_env() -> FastAPI:
    """The app for ``uvicorn --factory quotadesk.web.app:app_from_env`` (one per worker process)."""
    import os

    desk = desk_from_settings()
    start = os.environ.get("QUOTADESK_DEMO_CLOCK")
    if start:
        from datetime import datetime

        from quotadesk.desk.clock import OffsetClock

        desk.clock = OffsetClock(datetime.fromisoformat(start))
    return create_app(desk)
