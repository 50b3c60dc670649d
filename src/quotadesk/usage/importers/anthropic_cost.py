"""Anthropic costs: the Admin API cost report and the analytics cost endpoint.

The (legacy) ``GET /v1/organizations/cost_report`` answers daily buckets of results; the
analytics endpoint ``GET /v1/organizations/analytics/cost`` answers flat items
``{"starting_at", "ending_at", "group": {...}, "cost": {"amount", "currency",
"list_amount", "requests"}}``, ``amount`` post-discount and pre-credit, in fractional
cents like the legacy report. Both are read.

``{"data": [{"starting_at", "ending_at", "results": [...]}], "has_more", "next_page"}``;
each result has ``amount`` — a decimal string in the currency's LOWEST unit, so
``"123.45"`` USD is 123.45 cents, $1.2345 — ``currency`` (``USD``), ``cost_type``
(tokens, web_search, code_execution, …), ``description``, ``model``, ``token_type``,
``service_tier``, ``context_window``, ``inference_geo`` and ``workspace_id`` (most null
unless grouped by description).

Cents are exact decimals: cents / 100 is dollars exactly; fractional cents finer than a
nano-dollar (more than 7 decimals) are rounded half-even. Only USD is accepted. These
figures go to the log's costs dataset for reconciliation.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from quotadesk.usage.importers.anthropic_usage import analytics_items
from quotadesk.usage.importers.batch import CostBuilder, RowBuilder
from quotadesk.usage.importers.fields import decimal, nanos_rounded, present, text, timestamp
from quotadesk.usage.importers.pages import bucket_results

SOURCE = "anthropic-cost"
KIND = "costs"
CENTS_PER_DOLLAR = Decimal(100)
GROUP_KEYS = (
    "workspace_id",
    "description",
    "cost_type",
    "model",
    "token_type",
    "service_tier",
    "context_window",
    "inference_geo",
)


def read_file(path: Path, rows: RowBuilder, costs: CostBuilder) -> None:
    flat = analytics_items(path, rows, "cost")
    source = (
        flat
        if flat is not None
        else bucket_results(path, rows, start_key="starting_at", end_key="ending_at", parse=timestamp)
    )
    for start, end, loc, res in source:
        if not present(res.get("amount")):
            raise loc.at("amount").error("missing")
        cents = decimal(res.get("amount"), loc.at("amount"))
        currency = text(res, "currency", loc) or "USD"
        if currency.upper() != "USD":
            raise loc.at("currency").error(f"only USD is supported, got {currency!r}")
        project = text(res, "workspace_id", loc)
        costs.add(
            ts=start,
            end=end,
            amount_nanos=nanos_rounded(cents / CENTS_PER_DOLLAR),
            id_parts=(start.isoformat(), end.isoformat(), *(text(res, k, loc) for k in GROUP_KEYS)),
            project=project,
            line_item=text(res, "description", loc),
            model=text(res, "model", loc),
            cost_type=text(res, "cost_type", loc),
            token_type=text(res, "token_type", loc),
        )
