"""OpenAI Costs API: ``GET /v1/organization/costs`` pages (or a bare bucket list), and the
dashboard's cost CSV download, daily amounts to reconcile against.

The CSV (``cost_<from>_<to>.csv``) has one row per bucket and group: ``start_time,
end_time, start_time_iso, end_time_iso, amount_value, amount_currency, quantity,
quantity_unit, line_item, user_id, api_key_id, project_id, organization_id, project_name,
organization_name, user_email, api_source``; a bucket without an amount is an empty day.

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
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from quotadesk.usage.importers.batch import CostBuilder, RowBuilder
from quotadesk.usage.importers.fields import Loc, csv_rows, decimal, nanos_rounded, present, text, unix_time
from quotadesk.usage.importers.openai_usage import bucket_bounds, is_csv
from quotadesk.usage.importers.pages import bucket_results

SOURCE = "openai-costs"
KIND = "costs"


def read_file(path: Path, rows: RowBuilder, costs: CostBuilder) -> None:
    if is_csv(path):
        for loc, row in csv_rows(path, required=("start_time", "end_time")):
            rows.seen()
            if not present(row.get("amount_value")):
                rows.empty += 1
                continue
            start, end = bucket_bounds(row, loc)
            currency = text(row, "amount_currency", loc) or "usd"
            _add(loc, row, start, end, decimal(row.get("amount_value"), loc, "amount_value"), currency, costs)
        return
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
        _add(loc, res, start, end, value, currency, costs, where=loc.at("amount").at("currency"))


def _add(
    loc: Loc,
    res: Mapping[str, Any],
    start: datetime,
    end: datetime,
    value: Decimal,
    currency: str,
    costs: CostBuilder,
    where: Loc | None = None,
) -> None:
    if currency.lower() != "usd":
        raise (where or loc.at("amount_currency")).error(f"only usd is supported, got {currency!r}")
    project = text(res, "project_id", loc)
    line_item = text(res, "line_item", loc)
    key = text(res, "api_key_id", loc)
    costs.add(
        ts=start,
        end=end,
        amount_nanos=nanos_rounded(value),
        id_parts=(start.isoformat(), end.isoformat(), project, line_item, *((key,) if key else ())),
        project=project,
        line_item=line_item,
        model=_model_of(line_item),
    )


def _model_of(line_item: str) -> str:
    """``"gpt-4o-2024-08-06, input"`` names the model before the comma (an observed, unofficial shape)."""
    return line_item.split(",", 1)[0].strip() if "," in line_item else ""
