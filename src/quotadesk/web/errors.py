"""One error shape for the whole HTTP surface: ``{"error": {"code", "message", "field"?}}`` and a 4xx.

Every refusal of the library is a ``QuotadeskError`` that carries its HTTP status; a request
FastAPI cannot validate is a 400 naming the first bad field (``body.ticket.body``); an unknown
path or method keeps its status in the same shape. Nothing a client sends produces a 5xx:
an unexpected failure is a bug, logged with its traceback and answered 500 in the same shape
without details (schemathesis in CI looks for exactly that). ``StoreError`` (the database
itself failing) is the one deliberate 503.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from quotadesk.billing.secrets import redact
from quotadesk.errors import QuotadeskError

log = logging.getLogger("quotadesk.web")

CODES = {
    400: "invalid_request",
    401: "unauthorized",
    402: "payment_failed",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unsafe_reply",
    429: "too_many_requests",
    503: "service_unavailable",
}


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None
    allowed_roles: list[str] | None = None
    objections: list[dict[str, str]] | None = None


class ErrorResponse(BaseModel):
    """The error envelope of every 4xx (and the 5xx that should never happen)."""

    error: ErrorBody


def error(status: int, message: str, field: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"code": CODES.get(status, "error"), "message": redact(message)[0]}
    if field is not None:
        body["field"] = redact(field)[0]
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse({"error": body}, status_code=status)


def _loc(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc) or "body"


async def _quotadesk(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QuotadeskError)
    extra: dict[str, Any] = {}
    if getattr(exc, "allowed", None):
        extra["allowed_roles"] = exc.allowed  # type: ignore[attr-defined]
    if getattr(exc, "objections", None):
        extra["objections"] = exc.objections  # type: ignore[attr-defined]
    return error(exc.http_status, exc.message, exc.field, **extra)


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if not errors:
        return error(400, "the request is not valid")
    first = errors[0]
    loc = _loc(first.get("loc", ()))
    msg = str(first.get("msg", "invalid value"))
    if first.get("type") == "json_invalid":
        return error(400, "the body is not valid JSON", "body")
    return error(400, msg, loc)


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else CODES.get(exc.status_code, "error")
    response = error(exc.status_code, detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error(500, "internal error: the request failed (the server log has the details)")


def install(app: FastAPI) -> None:
    app.add_exception_handler(QuotadeskError, _quotadesk)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


RESPONSES: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorResponse, "description": d}
    for s, d in (
        (400, "Bad input, naming the field"),
        (401, "No staff token or session, or a bad one"),
        (403, "The caller's role may not do this; names the roles that may"),
        (404, "No such organization, case, flag or key"),
        (409, "Conflicts with the books or the case's state"),
        (413, "Body too large"),
    )
}
"""Error responses every endpoint may give, for the OpenAPI document."""
