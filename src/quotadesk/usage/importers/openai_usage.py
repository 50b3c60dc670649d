"""OpenAI Usage API, completions: ``GET /v1/organization/usage/completions``, and the dashboard CSV.

Three shapes are read, by content:

- API pages ``{"object": "page", "data": [bucket], "has_more", "next_page"}`` (one page,
  a JSON array of pages, or one page per line);
- a bare list of buckets: the ``data`` of every page concatenated, which is what OpenAI's
  cookbook collects before building its DataFrame;
- the usage dashboard's CSV download (``completions_usage_<from>_<to>.csv``): one row per
  bucket × group with ``start_time, end_time, start_time_iso, end_time_iso`` and the
  result's fields as columns (counts may be written ``3.0``).

A bucket is ``{"object": "bucket", "start_time", "end_time", "results": [...]}`` (unix
seconds, UTC); each result carries ``input_tokens``, ``input_cached_tokens``,
``output_tokens``, ``num_model_requests`` and the group keys (``project_id, user_id,
api_key_id, model, batch, service_tier``, newer ``api_source``), null unless the export
was grouped by them.

Tokens (one reading for every shape, ``openai_tokens``): ``input_tokens`` INCLUDES the
cached ones and, in the newer spec, the cache writes; the log's uncached input is
``input_uncached_tokens`` when given, else ``input_tokens - input_cached_tokens -
input_cache_write_tokens``. Cache writes are kept and billed as writes. Audio and
per-modality counts are part of ``input_tokens`` and priced as text (the catalog's token
prices).

Tiers: ``batch: true`` is costed at the Batch price, ``service_tier`` (``flex``,
``priority``) at that tier's price where the catalog has one.

Not grouped by model (the API's default, and the cookbook's first query): the rows keep
their tokens and request counts in the log's unpriced rows, never dropped and never $0.

One row per bucket × group, timestamped at the bucket's start, with a deterministic id
from the bucket's times and group keys. A bucketed export has no statuses, bodies or
IPs: retry storms and compromise cannot be seen in it (a note says so).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from quotadesk.usage.importers.batch import CostBuilder, RowBuilder, derived_id
from quotadesk.usage.importers.fields import (
    Loc,
    csv_rows,
    present,
    read_bytes,
    text,
    timestamp,
    unix_time,
    whole,
)
from quotadesk.usage.importers.pages import bucket_results

SOURCE = "openai-usage"
KIND = "usage"
GROUP_KEYS = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier", "api_source")
BUCKETED = (
    "bucketed export: no statuses, request bodies or IPs, so retry storms and compromise cannot be seen"
)
UNGROUPED = "not grouped by model (export with group_by=model to price it)"


def read_file(path: Path, rows: RowBuilder, costs: CostBuilder) -> None:
    if is_csv(path):
        _read_csv(path, rows)
    else:
        for start, end, loc, result in bucket_results(
            path, rows, start_key="start_time", end_key="end_time", parse=unix_time
        ):
            _result(loc, result, start, end, rows)
    rows.note(BUCKETED)


def is_csv(path: Path) -> bool:
    head = read_bytes(path).lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return head not in (b"{", b"[")


def _read_csv(path: Path, rows: RowBuilder) -> None:
    for loc, row in csv_rows(path, required=("start_time", "end_time")):
        rows.seen()
        start, end = bucket_bounds(row, loc)
        if not any(present(row.get(k)) for k in ("input_tokens", "output_tokens", "num_model_requests")):
            rows.empty += 1  # an empty bucket: the dashboard writes one line per bucket
            continue
        _result(loc, row, start, end, rows)


def bucket_bounds(row: Mapping[str, Any], loc: Loc) -> tuple[datetime, datetime]:
    """A CSV row's bucket: the unix columns, else the ISO ones."""
    if present(row.get("start_time")):
        start = unix_time(row.get("start_time"), loc, "start_time")
        end = unix_time(row.get("end_time"), loc, "end_time")
    else:
        start = timestamp(row.get("start_time_iso"), loc, "start_time_iso")
        end = timestamp(row.get("end_time_iso"), loc, "end_time_iso")
    if end <= start:
        raise loc.at("end_time").error("not after start_time")
    return start, end


def openai_tokens(res: Mapping[str, Any], loc: Loc) -> tuple[int, int, int]:
    """(uncached input, cached input, cache writes) of a usage result, whichever fields it has."""
    cached = whole(res, "input_cached_tokens", loc)
    writes = whole(res, "input_cache_write_tokens", loc)
    if present(res.get("input_uncached_tokens")):
        return whole(res, "input_uncached_tokens", loc), cached, writes
    total = whole(res, "input_tokens", loc, required=True)
    uncached = total - cached - writes
    if uncached < 0:
        raise loc.at("input_cached_tokens").error(
            f"larger than input_tokens (cached {cached} + cache writes {writes} > {total})"
        )
    return uncached, cached, writes


def _result(loc: Loc, res: Any, start: datetime, end: datetime, rows: RowBuilder) -> None:
    if not isinstance(res, Mapping):
        raise loc.error("expected a result object")
    kind = res.get("object")
    if kind == "organization.costs.result":
        raise loc.at("object").error("a Costs API result: import this file with format openai-costs")
    if (
        isinstance(kind, str)
        and kind
        and not (kind.startswith("organization.usage.") and kind.endswith(".result"))
    ):
        raise loc.at("object").error(f"not a usage result: {kind!r}")
    uncached, cached, writes = openai_tokens(res, loc)
    output = whole(res, "output_tokens", loc)
    requests = whole(res, "num_model_requests", loc)
    if requests == 0:
        if uncached == cached == output == writes == 0:
            rows.empty += 1
            return
        raise loc.at("num_model_requests").error("0 requests but tokens were used")
    model = text(res, "model", loc)
    rows.add(
        loc,
        ts=start,
        request_id=derived_id(
            SOURCE, start.isoformat(), end.isoformat(), *(_key(res.get(k)) for k in GROUP_KEYS)
        ),
        key_id=text(res, "api_key_id", loc),
        model=model,
        input_tokens=uncached,
        output_tokens=output,
        cached_tokens=cached,
        cache_write=writes,
        requests=requests,
        batch=_truthy(res.get("batch")),
        service_tier=text(res, "service_tier", loc),
        unpriced_reason="" if model else UNGROUPED,
    )
    if not model:
        rows.note(f"rows {UNGROUPED} are kept unpriced")


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1", "yes"))


def _key(value: Any) -> str:
    """A group key as the same text from JSON (``true``) and from the dashboard CSV (``True``)."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false")):
        return str(value).lower()
    return str(value)
