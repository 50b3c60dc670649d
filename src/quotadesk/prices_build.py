"""Build the price catalog snapshot from the pinned ``genai-prices`` package.

Why a snapshot and not ``genai_prices`` at run time: ``quotadesk.billing`` is a pure core
(standard library only), ``quotadesk triage`` must start fast (importing the package's data
costs about 0.3 s, the snapshot loads in a few milliseconds), and prices must never change
under a running desk. So the desk ships ``quotadesk/data/prices/catalog.json``, written by
this module from the pinned package, and ``tests/billing/test_price_catalog.py`` fails when
the file no longer matches the package (bump the pin, then run
``python -m quotadesk.prices_build`` to rewrite it).

What is kept, per provider and model, in the package's own order (its matching is first
match wins): the match clauses, and the token prices per 1M tokens (input, output, cache
read, cache write, 1-hour cache write), each price period with the date it starts, plus
the request-context variants (``processing: batch``, ``service_tier``, ``speed``) with the
date from which the package verified them. Long-context tiers keep their base price only
(a bucketed export cannot say which requests crossed the threshold); time-of-day prices
(off-peak discounts) are left out. ``UpdatePrices`` (the package's opt-in download) is
never used: the catalog is exactly the data bundled with the pinned version.

genai-prices is MIT-licensed, Copyright (c) Pydantic Services Inc.; the snapshot says so.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any

CATALOG_PATH = Path(__file__).parent / "data" / "prices" / "catalog.json"
PRICE_KEYS = {
    "input_mtok": "input",
    "output_mtok": "output",
    "cache_read_mtok": "cache_read",
    "cache_write_mtok": "cache_write",
    "cache_write_1h_mtok": "cache_write_1h",
}
CONTEXT_KEYS = ("processing", "service_tier", "speed")


def _clause(clause: Any) -> Any:
    from genai_prices import types as t

    if isinstance(clause, t.ClauseEquals):
        return {"equals": clause.equals}
    if isinstance(clause, t.ClauseStartsWith):
        return {"starts_with": clause.starts_with}
    if isinstance(clause, t.ClauseEndsWith):
        return {"ends_with": clause.ends_with}
    if isinstance(clause, t.ClauseContains):
        return {"contains": clause.contains}
    if isinstance(clause, t.ClauseRegex):
        return {"regex": clause.regex}
    if isinstance(clause, t.ClauseOr):
        return {"or": [_clause(c) for c in clause.or_]}
    if isinstance(clause, t.ClauseAnd):
        return {"and": [_clause(c) for c in clause.and_]}
    raise TypeError(f"unknown match clause {type(clause).__name__}")


def _amount(value: Any) -> tuple[str | None, bool]:
    """A price as exact decimal text and whether it was tiered (base price kept)."""
    from genai_prices import types as t

    if value is None:
        return None, False
    if isinstance(value, t.TieredPrices):
        return _text(value.base), True
    if isinstance(value, Decimal):
        return _text(value), False
    raise TypeError(f"unknown price {type(value).__name__}")


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")


def _prices(model_price: Any) -> dict[str, str] | None:
    out: dict[str, str] = {}
    tiered = False
    for key, short in PRICE_KEYS.items():
        text, was_tiered = _amount(getattr(model_price, key, None))
        if text is not None:
            out[short] = text
            tiered = tiered or was_tiered
    if tiered:
        out["tiered"] = "base"
    return out or None


def _start(constraint: Any) -> str | None:
    from genai_prices import types as t

    if constraint is None:
        return None
    if isinstance(constraint, t.StartDateConstraint):
        day: date = constraint.start_date
        return day.isoformat()
    return "time-of-day"


def _model(model: Any) -> dict[str, Any] | None:
    from genai_prices import types as t

    periods: list[list[Any]] = []
    raw = model.prices if isinstance(model.prices, list) else [t.ConditionalPrice(prices=model.prices)]
    for conditional in raw:
        start = _start(conditional.constraint)
        prices = _prices(conditional.prices)
        if start == "time-of-day" or prices is None or "input" not in prices or "output" not in prices:
            continue
        periods.append([start, prices])
    if not periods:
        return None
    variants: list[dict[str, Any]] = []
    for variant in model.price_variants or ():
        when = {k: v for k, v in variant.when.items() if k in CONTEXT_KEYS}
        start = _start(variant.constraint)
        prices = _prices(variant.prices)
        if len(when) != len(variant.when) or start == "time-of-day" or prices is None:
            continue
        variants.append({"when": when, "from": start, "prices": prices})
    entry: dict[str, Any] = {"id": model.id, "match": _clause(model.match), "prices": periods}
    if model.name:
        entry["name"] = model.name
    if variants:
        entry["variants"] = variants
    return entry


def build_catalog() -> dict[str, Any]:
    """The catalog as a JSON-ready document, from the installed genai-prices' bundled data."""
    from genai_prices.data import providers

    out: list[dict[str, Any]] = []
    for provider in providers:
        models = [m for m in (_model(x) for x in provider.models) if m is not None]
        if not models:
            continue
        entry: dict[str, Any] = {"id": provider.id, "name": provider.name, "models": models}
        if provider.model_match is not None:
            entry["model_match"] = _clause(provider.model_match)
        if provider.fallback_model_providers:
            entry["fallback"] = list(provider.fallback_model_providers)
        out.append(entry)
    return {
        "source": "genai-prices",
        "version": version("genai-prices"),
        "license": "MIT, Copyright (c) Pydantic Services Inc. 2025 to present",
        "generated_by": "python -m quotadesk.prices_build",
        "units": "USD per 1M tokens",
        "providers": out,
    }


def render(catalog: dict[str, Any]) -> str:
    return json.dumps(catalog, separators=(",", ":"), sort_keys=False) + "\n"


def main() -> int:
    text = render(build_catalog())
    if "--check" in sys.argv[1:]:
        current = CATALOG_PATH.read_text(encoding="utf-8") if CATALOG_PATH.is_file() else ""
        if current != text:
            print(f"{CATALOG_PATH} is out of date: run python -m quotadesk.prices_build", file=sys.stderr)
            return 1
        return 0
    CATALOG_PATH.parent.mkdir(parents=True, exist_ok=True)
    CATALOG_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {CATALOG_PATH} ({len(text):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
