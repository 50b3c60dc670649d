"""Outbound HTTP to the help desks and alert webhooks: one client, timeouts, and what a failure means.

Every call has a timeout (setting ``outbound_timeout_seconds``). A failure is classified once,
here: a network error, a timeout, 408, 409, 429 or a 5xx may pass (``Retry``: the outbox tries
again later, with backoff); any other 4xx will not (``GiveUp``: a wrong token or a deleted
ticket does not fix itself, so the row is kept as failed with the reason). Messages name the
method, the path and the status, never a header (tokens travel in headers).
"""

from __future__ import annotations

from typing import Any

import httpx

RETRYABLE = frozenset({408, 409, 425, 429})


class OutboundError(Exception):
    """A call that did not succeed; ``retry`` says whether trying again may help."""

    def __init__(self, message: str, *, retry: bool) -> None:
        self.retry = retry
        super().__init__(message)


class Http:
    """A small JSON client over httpx (``transport`` lets tests route calls to a fake server)."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = self._client.request(method, path, json=body)
        except httpx.TimeoutException as exc:
            raise OutboundError(f"{method} {path}: timed out", retry=True) from exc
        except httpx.HTTPError as exc:
            raise OutboundError(f"{method} {path}: {type(exc).__name__}", retry=True) from exc
        if response.status_code >= 400:
            retry = response.status_code >= 500 or response.status_code in RETRYABLE
            raise OutboundError(f"{method} {path}: HTTP {response.status_code}", retry=retry)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return None
