"""LiteLLM proxy spend logs: rows of the ``LiteLLM_SpendLogs`` table, exported as CSV or JSON.

Columns used (BerriAI/litellm ``schema.prisma``): ``request_id`` (primary key),
``api_key`` (hashed token), ``spend`` (USD), ``prompt_tokens``, ``completion_tokens``,
``startTime``, ``model`` (``model_group`` when empty), ``status``, ``cache_key``,
``messages``, ``requester_ip_address``, ``request_tags``, ``metadata``. A CSV export has a
header row with these names; a JSON export is an array of row objects, ``{"data": […]}``
or JSON Lines.

A JSON export may also be one row object: what ``/spend/logs?request_id=…`` answers.

``spend`` is a float column in the database; its exported text (``0.00012300000000000001``)
is read as an exact decimal and rounded half-even to the nano-dollar. An empty spend is
costed from the price table. Spend logs have no cached-token columns; since LiteLLM
stores the provider's whole usage in ``metadata.usage_object`` the cached tokens
(``prompt_tokens_details.cached_tokens`` or ``cache_read_input_tokens``) and cache
writes (``cache_creation_input_tokens``) are read from there, and ``prompt_tokens`` (which
counts them) is split accordingly. Without a usage object, cached = 0 (a note says so).
Times are PostgreSQL ``timestamp without time zone`` written in UTC by Prisma: a time
without an offset is taken as UTC. ``status`` is ``success`` or ``failure``; a failure is
stored with the HTTP code from ``metadata.error_information.error_code`` when there is one,
else 500. The fingerprint (identical requests share it) is the ``cache_key`` when caching
was on, else a hash of ``messages`` when prompts were stored, else empty.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from quotadesk.usage.importers.batch import CostBuilder, RowBuilder
from quotadesk.usage.importers.fields import (
    Loc,
    csv_rows,
    decimal,
    integer,
    nanos_rounded,
    present,
    read_bytes,
    records,
    text,
    timestamp,
)

SOURCE = "litellm"
KIND = "usage"
_NO_CACHE = {"", "cache off", "none", "null"}
_ENVIRONMENTS = {
    "production": "production",
    "prod": "production",
    "development": "development",
    "dev": "development",
    "ci": "ci",
}


def read_file(path: Path, rows: RowBuilder, costs: CostBuilder) -> None:
    head = read_bytes(path).lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    source = records(path) if head in (b"{", b"[") else csv_rows(path)
    without = 0
    for loc, row in source:
        rows.seen()
        without += _row(loc, row, rows)
    if without:
        rows.note(
            f"{without} spend log rows have no metadata.usage_object: their cached tokens are unknown (0)"
        )


def _row(loc: Loc, row: Mapping[str, Any], rows: RowBuilder) -> int:
    """Add one spend log row; 1 when it had no usage object (cached tokens unknown), else 0."""
    request_id = text(row, "request_id", loc, required=True)
    ts = timestamp(row.get("startTime"), loc, "startTime", naive_is_utc=True)
    model = text(row, "model", loc) or text(row, "model_group", loc)
    prompt = integer(row, "prompt_tokens", loc)
    completion = integer(row, "completion_tokens", loc)
    metadata = _json(row.get("metadata"))
    usage = metadata.get("usage_object") if isinstance(metadata, Mapping) else None
    usage = _json(usage)
    cached = writes = 0
    uncached = prompt
    if isinstance(usage, Mapping):
        uloc = loc.at("metadata").at("usage_object")
        details = usage.get("prompt_tokens_details")
        if isinstance(details, Mapping) and present(details.get("cached_tokens")):
            cached = integer(details, "cached_tokens", uloc.at("prompt_tokens_details"))
        else:
            cached = integer(usage, "cache_read_input_tokens", uloc)
        writes = integer(usage, "cache_creation_input_tokens", uloc)
        if cached > prompt:
            raise uloc.error(f"cached tokens exceed prompt_tokens ({cached} > {prompt})")
        # prompt_tokens counts the cache writes when they fit in it, as LiteLLM reports them;
        # a usage object whose writes do not fit counted them apart.
        uncached = prompt - cached - writes if cached + writes <= prompt else prompt - cached
    status = _status(text(row, "status", loc), metadata, loc)
    cost = None
    if present(row.get("spend")):
        spend = decimal(row.get("spend"), loc, "spend")
        if spend < 0:
            raise loc.at("spend").error(f"negative ({spend})")
        cost = nanos_rounded(spend)
    rows.add(
        loc,
        ts=ts,
        request_id=request_id,
        key_id=text(row, "api_key", loc),
        environment=_environment(row.get("request_tags"), metadata),
        model=model,
        input_tokens=uncached,
        output_tokens=completion,
        cached_tokens=cached,
        cache_write=writes,
        status=status,
        cost_nanos=cost,
        fingerprint=_fingerprint(row),
        ip=text(row, "requester_ip_address", loc),
    )
    return 0 if isinstance(usage, Mapping) else 1


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value, parse_float=Decimal) if value.strip() else None
        except json.JSONDecodeError:
            return None
    return value


def _status(value: str, metadata: Any, loc: Loc) -> int:
    lowered = value.lower()
    if lowered in ("", "success", "ok"):
        return 200
    if lowered.isdigit() and 100 <= int(lowered) <= 599:
        return int(lowered)
    if lowered in ("failure", "failed", "error"):
        info = metadata.get("error_information") if isinstance(metadata, Mapping) else None
        code = str(info.get("error_code") or "") if isinstance(info, Mapping) else ""
        return int(code) if code.isdigit() and 400 <= int(code) <= 599 else 500
    raise loc.at("status").error(f"expected success or failure, got {value[:40]!r}")


def _fingerprint(row: Mapping[str, Any]) -> str:
    key = row.get("cache_key")
    if isinstance(key, str) and key.strip().lower() not in _NO_CACHE:
        return "cache:" + key.strip()
    messages = _json(row.get("messages"))
    if messages in (None, "", {}, []):
        return ""
    canonical = json.dumps(messages, sort_keys=True, separators=(",", ":"), default=str)
    return "messages:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _environment(tags: Any, metadata: Any) -> str:
    """``environment:production``/``env:dev``/``production`` in request_tags, or metadata.environment."""
    values = _json(tags)
    candidates: list[str] = []
    if isinstance(values, list):
        candidates += [str(v) for v in values]
    if isinstance(metadata, Mapping):
        for name in ("environment", "env"):
            if metadata.get(name):
                candidates.append(str(metadata[name]))
    for tag in candidates:
        word = (
            tag.split(":", 1)[1]
            if ":" in tag and tag.split(":", 1)[0].lower() in ("environment", "env")
            else tag
        )
        env = _ENVIRONMENTS.get(word.strip().lower())
        if env:
            return env
    return ""
