"""OpenAI Usage API, completions: ``GET /v1/organization/usage/completions`` pages.

A page is ``{"object": "page", "data": [bucket], "has_more", "next_page"}``; a bucket
``{"object": "bucket", "start_time", "end_time", "results": [...]}`` (unix seconds, UTC);
each result ``organization.usage.completions.result`` carries ``input_tokens``,
``input_cached_tokens``, ``output_tokens``, ``num_model_requests`` and the group keys
(``project_id, user_id, api_key_id, model, batch, service_tier``, newer ``api_source``),
null unless the export was grouped by them.

Tokens: ``input_tokens`` INCLUDES the cached ones, so the log's uncached input is
``input_tokens - input_cached_tokens``, unless the (newer, optional)
``input_uncached_tokens`` says so directly. Audio and per-modality counts are ignored
(the price table has text prices only). A result with ``batch: true`` is costed at half
the list price, as the Batch API bills.

One row per bucket × group, timestamped at the bucket's start, with a deterministic id
from the bucket's times and group keys. A bucketed export has no statuses, bodies or
IPs: retry storms and compromise cannot be seen in it (a note says so).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from quotadesk.usage.importers.batch import CostBuilder, RowBuilder, derived_id
from quotadesk.usage.importers.fields import Loc, integer, present, text, unix_time
from quotadesk.usage.importers.pages import bucket_results

SOURCE = "openai-usage"
KIND = "usage"
GROUP_KEYS = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier", "api_source")
BATCH_FACTOR = Decimal("0.5")


def read_file(path: Path, rows: RowBuilder, costs: CostBuilder) -> None:
    for start, end, loc, result in bucket_results(
        path, rows, start_key="start_time", end_key="end_time", parse=unix_time
    ):
        _result(loc, result, start, end, rows)
    rows.note(
        "bucketed export: no statuses, request bodies or IPs, so retry storms and compromise cannot be seen"
    )


def _result(loc: Loc, res: Any, start: Any, end: Any, rows: RowBuilder) -> None:
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
    total_input = integer(res, "input_tokens", loc, required=True)
    cached = integer(res, "input_cached_tokens", loc)
    output = integer(res, "output_tokens", loc)
    requests = integer(res, "num_model_requests", loc)
    if present(res.get("input_uncached_tokens")):
        uncached = integer(res, "input_uncached_tokens", loc)
    else:
        uncached = total_input - cached
        if uncached < 0:
            raise loc.at("input_cached_tokens").error(f"larger than input_tokens ({cached} > {total_input})")
    if requests == 0:
        if uncached == cached == output == 0:
            rows.empty += 1
            return
        raise loc.at("num_model_requests").error("0 requests but tokens were used")
    model = text(res, "model", loc)
    if not model:
        rows.note("results not grouped by model (group_by=model) cannot be priced")
    batch = res.get("batch") is True
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
        requests=requests,
        price_factor=BATCH_FACTOR if batch else None,
    )


def _key(value: Any) -> str:
    return "" if value is None else str(value)
