"""Anthropic usage: the Admin API usage report and the analytics usage endpoint.

Shapes read, by content:

- the (now "[Legacy]") usage report ``GET /v1/organizations/usage_report/messages`` and the
  analytics time-bucketed reports: ``{"data": [{"starting_at", "ending_at", "results":
  [...]}], ...}``;
- the Console's usage CSV download: one row per day and model, ``usage_date_utc,
  model_version, usage_input_tokens_no_cache, usage_input_tokens_cache_write_5m,
  usage_input_tokens_cache_write_1h, usage_input_tokens_cache_read, usage_output_tokens``
  (plus workspace or key columns when grouped);
- the analytics endpoint its docs now recommend, ``GET /v1/organizations/analytics/usage``
  (beta ``analytics-usage-cost-2026-08-24``): ``{"data": [{"starting_at", "ending_at",
  "group": {...}, "usage": {...}}], "has_more", "next_page"}``, one item per time bucket ×
  group, the group keys under ``group`` and the token counts (with ``requests``) under
  ``usage``.

``{"data": [{"starting_at", "ending_at", "results": [...]}], "has_more", "next_page"}``
with RFC 3339 bucket bounds. Each result has ``uncached_input_tokens``,
``cache_read_input_tokens``, the cache writes split by lifetime, ``output_tokens``,
``server_tool_use.web_search_requests`` and the group keys (``api_key_id,
workspace_id, model, service_tier, context_window, inference_geo``, …).

Cache writes come under two spellings and both are read: the official nesting
``cache_creation.ephemeral_5m_input_tokens`` / ``.ephemeral_1h_input_tokens`` and the
flattened ``cache_creation_5m_input_tokens`` / ``cache_creation_1h_input_tokens``. When a
result has both and they disagree, it is refused rather than guessed.

The report has no request count: each bucket × group counts as one request unless the
result carries one (``request_count``/``requests``, as the analytics rows do). Web
searches are not costed here (the price table has no per-search price); the cost report
has them.

Tiers: ``service_tier: batch`` is costed at the Batch price (half the list price, cache
writes and reads included), ``priority`` at its own price where the catalog has one;
``speed: fast`` at the fast-mode price. A row without a model (not grouped by model) is
kept in the unpriced rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from quotadesk.usage.importers.batch import CostBuilder, RowBuilder, derived_id
from quotadesk.usage.importers.fields import (
    Loc,
    as_int,
    csv_rows,
    integer,
    load_json,
    present,
    read_bytes,
    text,
    timestamp,
)
from quotadesk.usage.importers.pages import bucket_results

SOURCE = "anthropic-usage"
KIND = "usage"
GROUP_KEYS = (
    "api_key_id",
    "workspace_id",
    "model",
    "service_tier",
    "context_window",
    "inference_geo",
    "speed",
    "account_id",
    "service_account_id",
)


def analytics_items(
    path: Path, rows: RowBuilder, metrics: str
) -> Iterator[tuple[datetime, datetime, Loc, Mapping[str, Any]]] | None:
    """The analytics endpoint's flat items (``group`` + ``metrics``) as results, or None when the
    file has the bucketed shape."""
    doc = load_json(path)
    data = doc.get("data") if isinstance(doc, Mapping) else doc
    if not isinstance(data, list) or not data:
        return None
    first = data[0]
    if not (isinstance(first, Mapping) and "results" not in first and metrics in first):
        return None
    if isinstance(doc, Mapping) and doc.get("has_more") is True:
        rows.note(
            f"{path}: the page says has_more (next_page {doc.get('next_page')!r}); import the next pages too"
        )

    def items() -> Iterator[tuple[datetime, datetime, Loc, Mapping[str, Any]]]:
        base = Loc(str(path), None, "data" if isinstance(doc, Mapping) else "")
        for i, item in enumerate(data):
            loc = base.at(i)
            rows.seen()
            if not isinstance(item, Mapping):
                raise loc.error("expected an item object")
            start = timestamp(item.get("starting_at"), loc, "starting_at")
            end = timestamp(item.get("ending_at"), loc, "ending_at")
            if end <= start:
                raise loc.at("ending_at").error("not after starting_at")
            group = item.get("group") or {}
            values = item.get(metrics)
            if not isinstance(group, Mapping):
                raise loc.at("group").error("expected an object")
            if not isinstance(values, Mapping):
                raise loc.at(metrics).error("missing: expected an object")
            yield start, end, loc.at(metrics), {**group, **values}

    return items()


CONSOLE_COLUMNS = {
    "model_version": "model",
    "usage_input_tokens_no_cache": "uncached_input_tokens",
    "usage_input_tokens_cache_write_5m": "cache_creation_5m_input_tokens",
    "usage_input_tokens_cache_write_1h": "cache_creation_1h_input_tokens",
    "usage_input_tokens_cache_read": "cache_read_input_tokens",
    "usage_output_tokens": "output_tokens",
    "api_key": "api_key_id",
    "api_key_id": "api_key_id",
    "workspace": "workspace_id",
    "workspace_id": "workspace_id",
    "service_tier": "service_tier",
}


def console_rows(path: Path, rows: RowBuilder) -> Iterator[tuple[datetime, datetime, Loc, Mapping[str, Any]]]:
    """The Console's CSV: each day × model row as a usage result over that UTC day."""
    for loc, row in csv_rows(path, required=("usage_date_utc",)):
        rows.seen()
        day = text(row, "usage_date_utc", loc, required=True)
        start = timestamp(day if "T" in day else f"{day}T00:00:00Z", loc, "usage_date_utc")
        yield (
            start,
            start + timedelta(days=1),
            loc,
            {CONSOLE_COLUMNS[k]: v for k, v in row.items() if k in CONSOLE_COLUMNS},
        )


def read_file(path: Path, rows: RowBuilder, costs: CostBuilder) -> None:
    searches = 0
    counted = True
    source: Iterator[tuple[datetime, datetime, Loc, Mapping[str, Any]]]
    if read_bytes(path).lstrip(b"\xef\xbb\xbf \t\r\n")[:1] not in (b"{", b"["):
        source = console_rows(path, rows)
    else:
        flat = analytics_items(path, rows, "usage")
        source = (
            flat
            if flat is not None
            else bucket_results(path, rows, start_key="starting_at", end_key="ending_at", parse=timestamp)
        )
    for start, end, loc, res in source:
        found, has_count = _result(loc, res, start, end, rows)
        searches += found
        counted = counted and has_count
    if not counted:
        rows.note("the usage report has no request counts: each bucket row counts as one request")
    if searches:
        rows.note(f"{searches} web searches not costed (no per-search price); the cost report includes them")
    rows.note(
        "bucketed export: no statuses, request bodies or IPs, so retry storms and compromise cannot be seen"
    )


def _result(loc: Loc, res: Mapping[str, Any], start: Any, end: Any, rows: RowBuilder) -> tuple[int, bool]:
    uncached = integer(res, "uncached_input_tokens", loc)
    cache_read = integer(res, "cache_read_input_tokens", loc)
    output = integer(res, "output_tokens", loc)
    write_5m = _cache_write(res, loc, "5m")
    write_1h = _cache_write(res, loc, "1h")
    tool = res.get("server_tool_use")
    searches = (
        integer(tool, "web_search_requests", loc.at("server_tool_use")) if isinstance(tool, Mapping) else 0
    )
    count_name = next((n for n in ("request_count", "requests", "num_requests") if present(res.get(n))), None)
    requests = integer(res, count_name, loc) if count_name else 1
    if uncached == cache_read == output == write_5m == write_1h == 0 and (
        requests == 0 or count_name is None
    ):
        rows.empty += 1
        return searches, count_name is not None
    if requests == 0:
        raise loc.at(str(count_name)).error("0 requests but tokens were used")
    tier = text(res, "service_tier", loc).lower()
    model = text(res, "model", loc)
    rows.add(
        loc,
        ts=start,
        request_id=derived_id(
            SOURCE,
            start.isoformat(),
            end.isoformat(),
            *("" if res.get(k) is None else str(res.get(k)) for k in GROUP_KEYS),
        ),
        key_id=text(res, "api_key_id", loc),
        model=model,
        input_tokens=uncached,
        output_tokens=output,
        cached_tokens=cache_read,
        requests=requests,
        write_5m=write_5m,
        write_1h=write_1h,
        batch=tier == "batch",
        service_tier="" if tier in ("batch", "standard") else tier,
        speed=text(res, "speed", loc).lower(),
        unpriced_reason="" if model else "not grouped by model (export with group_by=model to price it)",
    )
    return searches, count_name is not None


def _cache_write(res: Mapping[str, Any], loc: Loc, ttl: str) -> int:
    nested_obj = res.get("cache_creation")
    nested: int | None = None
    if isinstance(nested_obj, Mapping) and present(nested_obj.get(f"ephemeral_{ttl}_input_tokens")):
        nested = integer(nested_obj, f"ephemeral_{ttl}_input_tokens", loc.at("cache_creation"))
    elif nested_obj is not None and not isinstance(nested_obj, Mapping):
        raise loc.at("cache_creation").error("expected an object")
    flat_name = f"cache_creation_{ttl}_input_tokens"
    flat = as_int(res.get(flat_name), loc.at(flat_name)) if present(res.get(flat_name)) else None
    if nested is not None and flat is not None and nested != flat:
        raise loc.at(flat_name).error(
            f"disagrees with cache_creation.ephemeral_{ttl}_input_tokens ({flat} != {nested})"
        )
    return nested if nested is not None else (flat or 0)
