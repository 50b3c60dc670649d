"""OpenAI Costs API: ``GET /v1/organization/costs`` pages, daily amounts to reconcile against.

Same page and bucket envelope as the Usage API (``start_time``/``end_time`` in unix
seconds, daily buckets); each result ``organization.costs.result`` has
``amount: {value, currency}``, ``line_item`` and ``project_id`` (null unless grouped).

``amount.value`` is a JSON number the API serialized from a binary float
(``0.13080000000000003``): it is read as the exact decimal of its text, never as a
float, and the digits past the nano-dollar (the float's noise) are rounded half-even.
Only ``usd`` is accepted. These are the provider's figures for reconciliation, not
usage rows: they go to the log's costs dataset.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from quotadesk.usage.importers.batch import CostBuilder, RowBuilder
from quotadesk.usage.importers.fields import decimal, nanos_rounded, text, unix_time
from quotadesk.usage.importers.pages import bucket_results

SOURCE = "openai-costs"
KIND = "costs"


def read_file(path: Path, rows: RowBuilder, costs: CostBuilder) -> None:
    for start, end, loc, res in bucket_results(
        path, rows, start_key="start_time", end_key="end_time", parse=unix_time
    ):
        kind = res.get("object")
        if isinstance(kind, str) and kind.startswith("organization.usage."):
            raise loc.at("object").error("a Usage API result: import this file with format openai-usage")
        amount = res.get("amount")
        if not isinstance(amount, Mapping):
            raise loc.at("amount").error("missing: expected {value, currency}")
        value = decimal(amount.get("value"), loc.at("amount").at("value"))
        currency = text(amount, "currency", loc.at("amount")) or "usd"
        if currency.lower() != "usd":
            raise loc.at("amount").at("currency").error(f"only usd is supported, got {currency!r}")
        project = text(res, "project_id", loc)
        line_item = text(res, "line_item", loc)
        costs.add(
            ts=start,
            end=end,
            amount_nanos=nanos_rounded(value),
            id_parts=(start.isoformat(), end.isoformat(), project, line_item),
            project=project,
            line_item=line_item,
            model=_model_of(line_item),
        )


def _model_of(line_item: str) -> str:
    """``"gpt-4o-2024-08-06, input"`` names the model before the comma (an observed, unofficial shape)."""
    return line_item.split(",", 1)[0].strip() if "," in line_item else ""
