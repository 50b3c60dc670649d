"""Refusals and errors on the wire, in the endpoint's own error shape.

A ``Deny`` is spelled by ``billing.dialects.render`` in the deployment's dialect (status,
message, codes, ``retry-after`` and ``x-should-retry``); this module only moves the result into
the envelope the endpoint's clients parse, because an SDK reads an error by its endpoint, not
by the provider behind it:

* OpenAI paths: ``{"error": {"message", "type", "code", "param"}}``;
* Anthropic paths: ``{"type": "error", "error": {"type", "message"}}``.

The gateway's own errors (a bad body, no upstream, an upstream that broke off) use the same
envelopes: ``invalid_request_error`` 400 naming the field, ``api_error`` 502/503.
"""

from __future__ import annotations

import json
from typing import Any

from quotadesk.billing.decision import Deny
from quotadesk.billing.dialects import render

OPENAI = "openai"
ANTHROPIC = "anthropic"


def _pick(body: Any) -> tuple[str, str | None, str | None]:
    """Message, type and code out of any provider's rendered envelope."""
    err = body.get("error", body) if isinstance(body, dict) else {}
    if isinstance(err, str):  # xai: {"code", "error": message}
        return err, None, str(body.get("code")) if isinstance(body, dict) and body.get("code") else None
    if not isinstance(err, dict):
        err = {}
    message = str(err.get("message") or body.get("message") or body.get("detail") or "refused")
    etype = err.get("type") or err.get("status") or body.get("type")
    code = err.get("code")
    if isinstance(err.get("details"), dict):
        code = err["details"].get("error_code") or code
    if isinstance(err.get("metadata"), dict):
        code = err["metadata"].get("error_code") or code
    return message, None if etype is None else str(etype), None if code is None else str(code)


def envelope(shape: str, message: str, etype: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    if shape == ANTHROPIC:
        return {"type": "error", "error": {"type": etype, "message": message}}
    return {"error": {"message": message, "type": etype, "code": code, "param": param}}


def deny_answer(deny: Deny, dialect: str, shape: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a refusal on an endpoint of ``shape``."""
    rendered = render(deny, dialect)
    message, etype, code = _pick(rendered.body)
    body = envelope(shape, message, etype or deny.error_type, code if code is not None else deny.code)
    headers = dict(rendered.headers)
    if deny.retry_after_s is not None:
        headers["retry-after"] = str(deny.retry_after_s)
    return rendered.status, headers, json.dumps(body, ensure_ascii=False).encode()


def error_answer(shape: str, status: int, message: str, *, param: str | None = None,
                 etype: str | None = None) -> bytes:
    kind = etype or ("invalid_request_error" if status < 500 else "api_error")
    code = "invalid_request" if status == 400 else None
    return json.dumps(envelope(shape, message, kind, code, param), ensure_ascii=False).encode()
