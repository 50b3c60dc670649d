"""Which export a file is, by its content (never its name): ``quotadesk usage import auto``.

Each rule looks at what only that export has: the bucket bounds' spelling (``start_time``
in unix seconds is OpenAI, ``starting_at`` RFC 3339 is Anthropic), a result's ``object``
(``organization.usage.completions.result``, ``organization.costs.result``), the analytics
items' ``group`` + ``usage``/``cost``, a CSV header's columns, LiteLLM's ``request_id`` +
``startTime``, OpenRouter's ``gen-…`` records. The answer says which rule matched, so the
import can tell the user which format it chose; a file no rule matches is refused with the
list of what was looked for.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from quotadesk.parse import ParseError, json_doc
from quotadesk.usage.importers.fields import Loc, read_bytes

LOOKED_FOR = (
    "OpenAI Usage API pages or bucket lists (start_time/end_time buckets of organization.usage.*.result)",
    "OpenAI Costs API pages (organization.costs.result)",
    "OpenAI dashboard CSV downloads (start_time,end_time,start_time_iso,end_time_iso,…)",
    "Anthropic usage/cost reports (starting_at/ending_at buckets), analytics items (group + usage/cost), "
    "the Console's usage CSV (usage_date_utc, model_version)",
    "OpenRouter generation records, chat completions with usage.cost, activity exports",
    "LiteLLM spend logs (request_id + startTime), as an object, an array or JSON Lines, or CSV",
    "the contract's usage files (ts, model, …) as CSV, JSON Lines or Parquet",
)


@dataclass(frozen=True, slots=True)
class Detected:
    """The format a file holds and the evidence for it."""

    format: str
    why: str

    def to_json(self, path: Path) -> dict[str, str]:
        return {"file": str(path), "format": self.format, "why": self.why}


def detect(path: Path) -> Detected:
    """The import format of ``path`` from its content; a located error when nothing matches."""
    raw = read_bytes(path)
    if raw[:4] == b"PAR1":
        return Detected("contract", "a Parquet file (the contract's usage columns)")
    body = raw.lstrip(b"\xef\xbb\xbf \t\r\n")
    found: Detected | None
    found = _json(body) if body[:1] in (b"{", b"[") else _csv(body)
    if found is None:
        raise Loc(str(path)).error("cannot tell which export this is; looked for: " + "; ".join(LOOKED_FOR))
    return found


def _csv(body: bytes) -> Detected | None:
    try:
        line = body.decode("utf-8").splitlines()[0] if body else ""
    except UnicodeDecodeError:
        return None
    header = {h.strip() for h in next(csv.reader(io.StringIO(line)), [])}
    if {"start_time", "end_time"} <= header or {"start_time_iso", "end_time_iso"} <= header:
        if header & {"amount_value", "amount_currency"}:
            return Detected("openai-costs", "OpenAI dashboard cost CSV (amount_value per bucket)")
        return Detected("openai-usage", "OpenAI dashboard usage CSV (start_time/end_time buckets)")
    if {"usage_date_utc", "model_version"} <= header:
        return Detected("anthropic-usage", "Anthropic Console usage CSV (usage_date_utc, model_version)")
    if "generation_id" in header and header & {"cost_total", "tokens_prompt"}:
        return Detected("openrouter", "OpenRouter activity export CSV (generation_id, cost_total)")
    if {"request_id", "startTime"} <= header:
        return Detected("litellm", "LiteLLM spend logs CSV (request_id, startTime)")
    if {"ts", "model"} <= header:
        return Detected("contract", "the contract's usage CSV (ts, model)")
    return None


def _json(body: bytes) -> Detected | None:
    try:
        doc: Any = json_doc(body, "detect", parse_float=Decimal)
    except ParseError:
        try:  # JSON Lines: the first line decides
            doc = json_doc(body.splitlines()[0], "detect", parse_float=Decimal)
        except (ParseError, IndexError):
            return None
        found = _item(doc)
        return None if found is None else Detected(found.format, found.why + ", JSON Lines")
    if isinstance(doc, list):
        first = next((x for x in doc if isinstance(x, Mapping)), None)
        if first is None:
            return None
        if "results" in first and "data" not in first:
            return _bucket(first, "a list of buckets")
        return _page(first) if "data" in first else _item(first)
    if isinstance(doc, Mapping):
        return _page(doc)
    return None


def _page(doc: Mapping[str, Any]) -> Detected | None:
    data = doc.get("data")
    if isinstance(data, Mapping):
        found = _item(data)
        return None if found is None else Detected(found.format, found.why + " ({data: …})")
    if isinstance(data, list):
        first = next((x for x in data if isinstance(x, Mapping)), None)
        if first is None:
            if doc.get("object") == "page":
                return Detected("openai-usage", "an empty OpenAI page")
            return None
        if "results" in first:
            return _bucket(first, "pages of buckets")
        return _item(first)
    return _item(doc)


def _bucket(bucket: Mapping[str, Any], shape: str) -> Detected | None:
    results = bucket.get("results")
    first = next((r for r in results if isinstance(r, Mapping)), {}) if isinstance(results, list) else {}
    kind = str(first.get("object") or "")
    if kind == "organization.costs.result" or isinstance(first.get("amount"), Mapping):
        return Detected("openai-costs", f"OpenAI Costs API ({shape}, organization.costs.result)")
    if kind.startswith("organization.usage."):
        return Detected("openai-usage", f"OpenAI Usage API ({shape}, {kind})")
    if "starting_at" in bucket:
        if "amount" in first or "cost_type" in first or "token_type" in first:
            return Detected("anthropic-cost", f"Anthropic cost report ({shape}, amounts in cents)")
        return Detected("anthropic-usage", f"Anthropic usage report ({shape}, starting_at/ending_at)")
    if "start_time" in bucket:
        return Detected("openai-usage", f"OpenAI Usage API ({shape}, unix start_time buckets)")
    return None


def _item(row: Any) -> Detected | None:
    if not isinstance(row, Mapping):
        return None
    if "group" in row and "starting_at" in row:
        if "cost" in row:
            return Detected("anthropic-cost", "Anthropic analytics cost items (group + cost)")
        if "usage" in row:
            return Detected("anthropic-usage", "Anthropic analytics usage items (group + usage)")
    if "request_id" in row and "startTime" in row:
        return Detected("litellm", "LiteLLM spend log rows (request_id, startTime)")
    usage = row.get("usage")
    if isinstance(usage, Mapping) and "prompt_tokens" in usage and "created" in row:
        return Detected("openrouter", "chat completions with usage (usage.cost)")
    keys = set(row)
    if keys & {"total_cost", "totalCost", "tokens_prompt", "tokensPrompt", "native_tokens_prompt"}:
        return Detected("openrouter", "OpenRouter generation records (total_cost, tokens_prompt)")
    if {"date", "requests"} <= keys and keys & {"model_permaslug", "endpoint_id", "byok_usage_inference"}:
        return Detected("openrouter", "OpenRouter activity rows (date, model_permaslug, requests)")
    if {"ts", "model"} <= keys:
        return Detected("contract", "the contract's usage rows (ts, model)")
    return None
