"""OpenRouter: generation records, chat completions with ``usage.cost``, and the activity exports.

Shapes read, by content:

- generation records, ``GET /api/v1/generation?id=…``: ``{"data": {"id", "created_at",
  "model", "total_cost", "tokens_prompt", "tokens_completion", "native_tokens_prompt",
  "native_tokens_completion", "native_tokens_cached", "provider_name", "is_byok", …}}``,
  one per file, a JSON array of them, or JSON Lines (with or without the ``data`` wrapper;
  the SDKs' camelCase spellings ``totalCost``, ``nativeTokensCached`` are read too);
- chat completions as returned with usage accounting: ``{"id": "gen-…", "object":
  "chat.completion", "created", "model", "usage": {"prompt_tokens", "completion_tokens",
  "prompt_tokens_details": {"cached_tokens"}, "cost"}}`` (a stream's last chunk too);
- the Activity page's CSV export, one row per generation: ``generation_id, created_at
  (UTC, no offset), cost_total, cost_cache, byok_usage_inference, tokens_prompt,
  tokens_completion, tokens_reasoning, tokens_cached, model_permaslug, provider_name, …``;
- the activity endpoint, ``GET /api/v1/activity``: daily rows ``{"date", "model",
  "model_permaslug", "usage", "byok_usage_inference", "requests", "prompt_tokens",
  "completion_tokens", "reasoning_tokens"}``.

Costs are what OpenRouter charged in credits (USD): ``total_cost``, ``usage.cost``,
``cost_total``, ``usage``; the JSON numbers are read as exact decimals and rounded
half-even to the nano-dollar. A row without a cost is costed from the price table. BYOK
inference (paid to the provider directly) is not in those figures; a note says how much.
Tokens: prompt tokens include the cached ones (uncached = prompt - cached); the native
tokenizer's counts are preferred when present, as OpenRouter bills by them. Reasoning
tokens are part of the completion tokens.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from quotadesk.errors import UsageFileError
from quotadesk.usage.importers.batch import CostBuilder, RowBuilder, derived_id
from quotadesk.usage.importers.fields import (
    Loc,
    csv_rows,
    decimal,
    load_json,
    nanos_rounded,
    present,
    read_bytes,
    records,
    text,
    timestamp,
    unix_time,
    whole,
)

SOURCE = "openrouter"
KIND = "usage"
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def read_file(path: Path, rows: RowBuilder, costs: CostBuilder) -> None:
    byok = Decimal(0)
    for loc, row in _rows(path):
        rows.seen()
        byok += _row(loc, _snake(row), rows)
    if byok:
        rows.note(f"${byok} of BYOK inference was paid to providers directly and is not in these costs")


def _rows(path: Path) -> Iterator[tuple[Loc, Mapping[str, Any]]]:
    head = read_bytes(path).lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head not in (b"{", b"["):
        yield from csv_rows(path)
        return
    if head == b"{":
        try:
            doc: Any = load_json(path)
        except UsageFileError:  # JSON Lines: one record per line
            doc = None
        if isinstance(doc, Mapping):
            data = doc.get("data")
            if isinstance(data, Mapping):  # one generation record
                yield Loc(str(path), None, "data"), data
                return
            if not isinstance(data, list):
                yield Loc(str(path)), doc
                return
    for loc, row in records(path):
        data = row.get("data")
        yield (loc.at("data"), data) if isinstance(data, Mapping) else (loc, row)


def _snake(row: Mapping[str, Any]) -> dict[str, Any]:
    return {(_CAMEL.sub("_", k).lower() if any(c.isupper() for c in k) else k): v for k, v in row.items()}


def _cost(row: Mapping[str, Any], loc: Loc, *names: str) -> int | None:
    for name in names:
        if present(row.get(name)):
            amount = decimal(row.get(name), loc, name)
            if amount < 0:
                raise loc.at(name).error(f"negative ({amount})")
            return nanos_rounded(amount)
    return None


def _row(loc: Loc, row: Mapping[str, Any], rows: RowBuilder) -> Decimal:
    present_byok = present(row.get("byok_usage_inference"))
    byok = (
        decimal(row.get("byok_usage_inference"), loc, "byok_usage_inference") if present_byok else Decimal(0)
    )
    usage = row.get("usage")
    if isinstance(usage, Mapping):  # a chat completion with usage accounting
        _completion(loc, row, _snake(usage), rows)
        return byok
    if present(row.get("date")) and present(row.get("requests")):  # /api/v1/activity, daily
        _activity(loc, row, rows)
        return byok
    rid = text(row, "id", loc) or text(row, "generation_id", loc, required=True)
    ts = timestamp(row.get("created_at"), loc, "created_at", naive_is_utc=True)
    model = text(row, "model", loc) or text(row, "model_permaslug", loc)
    prompt = _first(row, loc, "native_tokens_prompt", "tokens_prompt")
    cached = _first(row, loc, "native_tokens_cached", "tokens_cached")
    completion = _first(row, loc, "native_tokens_completion", "tokens_completion")
    rows.add(
        loc,
        ts=ts,
        request_id=rid,
        key_id=text(row, "api_key_name", loc) or text(row, "api_key_id", loc),
        model=model,
        input_tokens=_uncached(prompt, cached, loc),
        output_tokens=completion,
        cached_tokens=cached,
        cost_nanos=_cost(row, loc, "total_cost", "cost_total", "usage"),
        status=499 if row.get("cancelled") is True and not completion else 200,
    )
    return byok


def _completion(loc: Loc, row: Mapping[str, Any], usage: Mapping[str, Any], rows: RowBuilder) -> None:
    details = usage.get("prompt_tokens_details")
    cached = (
        whole(details, "cached_tokens", loc.at("usage").at("prompt_tokens_details"))
        if isinstance(details, Mapping)
        else 0
    )
    prompt = whole(usage, "prompt_tokens", loc.at("usage"))
    rows.add(
        loc,
        ts=unix_time(row.get("created"), loc, "created"),
        request_id=text(row, "id", loc, required=True),
        model=text(row, "model", loc),
        input_tokens=_uncached(prompt, cached, loc),
        output_tokens=whole(usage, "completion_tokens", loc.at("usage")),
        cached_tokens=cached,
        cost_nanos=_cost(usage, loc.at("usage"), "cost"),
    )


def _activity(loc: Loc, row: Mapping[str, Any], rows: RowBuilder) -> None:
    day = text(row, "date", loc, required=True)
    ts = timestamp(day if "T" in day else f"{day}T00:00:00Z", loc, "date")
    model = text(row, "model_permaslug", loc) or text(row, "model", loc)
    requests = whole(row, "requests", loc)
    prompt = whole(row, "prompt_tokens", loc)
    completion = whole(row, "completion_tokens", loc)
    if requests == 0:
        rows.empty += 1
        return
    rows.add(
        loc,
        ts=ts,
        request_id=derived_id(
            SOURCE, "activity", day, model, text(row, "endpoint_id", loc), text(row, "provider_name", loc)
        ),
        model=model,
        input_tokens=prompt,
        output_tokens=completion,
        requests=requests,
        cost_nanos=_cost(row, loc, "usage"),
    )
    rows.note("activity rows are daily totals: no statuses, request bodies or IPs")


def _first(row: Mapping[str, Any], loc: Loc, *names: str) -> int:
    for name in names:
        if present(row.get(name)):
            return whole(row, name, loc)
    return 0


def _uncached(prompt: int, cached: int, loc: Loc) -> int:
    if cached > prompt:
        raise loc.error(f"cached tokens exceed the prompt tokens ({cached} > {prompt})")
    return prompt - cached
