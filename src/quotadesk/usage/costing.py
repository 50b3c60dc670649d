"""Cost for rows that came without one: the price table, exactly, in the engine when it can.

Prices are dollars per 1M tokens; when every price of a model is a whole number of
nano-dollars per token (``$0.15`` → 150) the engine multiplies integers; a finer price
(``$0.0375`` → 37.5 per token) is costed in Python per distinct token combination. A
failing request (status >= 400) without a cost costs 0; a model with no price and no
cost is an error naming its first row, never $0.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from quotadesk.billing.pricing import PriceTable, UnknownModelError
from quotadesk.errors import UsageFileError
from quotadesk.usage import engine
from quotadesk.usage.checks import MAX_TOKENS, blank
from quotadesk.usage.sources import Source, field_of

_DAY = 86_400
_EPOCH = date(1970, 1, 1)


def rates_for(con: Any, normal: Any, prices: PriceTable) -> tuple[dict[str, tuple[int, int, int]], set[str]]:
    """Per model in the log: whole nano-dollars per token (input, output, cached), if it has a price.

    Returns the rates the engine can apply exactly and the models it cannot: unknown to
    the price table, priced finer than a nano-dollar per token, or whose price changed
    between its first and last row (costed in Python, each row at the price of its day).
    """
    spans = engine.fetch_rows(
        con, normal.group_by("model").aggregate(lo=normal.ts.min(), hi=normal.ts.max())
    ).columns()
    rates: dict[str, tuple[int, int, int]] = {}
    unpriced: set[str] = set()
    for model, lo, hi in zip(spans["model"], spans["lo"], spans["hi"], strict=True):
        if model is None:
            continue
        try:
            first, last = prices.get(model, _when(lo)), prices.get(model, _when(hi))
        except UnknownModelError:
            unpriced.add(model)
            continue
        whole = first.whole_rates()
        if whole is not None and whole == last.whole_rates() and first.cached_input_per_mtok == last.cached_input_per_mtok:
            rates[model] = whole
        else:
            unpriced.add(model)
    return rates, unpriced


def _when(value: Any) -> Any:
    """A row time from the engine as a datetime (None stays None: the newest price)."""
    return value if value is None or hasattr(value, "date") else None


def cost_expr(t: Any, rates: Mapping[str, tuple[int, int, int]]) -> Any:
    """Given cost, else 0 for a failing request, else tokens × whole nano-dollars per token.

    NULL marks a row that needs a price the engine does not have; ``price_missing``
    settles those. Token counts are bounded by ``MAX_TOKENS`` so the products fit int64.
    """
    import ibis

    def rate(i: int) -> Any:
        if not rates:
            return ibis.null("int64")
        return ibis.cases(*[(t.model == m, r[i]) for m, r in rates.items()], else_=ibis.null("int64"))

    sane = (t.input_tokens <= MAX_TOKENS) & (t.output_tokens <= MAX_TOKENS) & (t.cached_tokens <= MAX_TOKENS)
    priced = t.input_tokens * rate(0) + t.output_tokens * rate(1) + t.cached_tokens * rate(2)
    return ibis.cases(
        (t.given_nanos.notnull(), t.given_nanos),
        (t.status >= 400, 0),
        (sane, priced),
        else_=ibis.null("int64"),
    ).cast("int64")


def price_missing(
    con: Any,
    stored: Any,
    prices: PriceTable,
    unpriced: set[str],
    census: list[dict[str, Any]],
    source: Source,
) -> Any:
    """Cost the rows the engine could not (prices finer than a nano-dollar per token), or
    name the first row of a model that has no price at all."""

    for c in census:
        model = str(c["model"])
        if c["open"] and (model not in unpriced or not _has_price(prices, model)):
            raise_unknown(source, model)
            raise UsageFileError(
                f"no price for model {model!r} and no cost given ({c['open']} rows); refusing to cost it at $0",
                f"{field_of(source)}.model",
            )
    keys = ["model", "input_tokens", "output_tokens", "cached_tokens", "p_day"]
    open_rows = stored.filter(stored.cost_nanos.isnull())
    day_of = engine.epoch_seconds(con, open_rows.ts) // _DAY  # the UTC day, whatever the session zone
    distinct = engine.fetch_rows(con, open_rows.mutate(p_day=day_of).select(*keys).distinct()).columns()
    costs = [
        prices.cost_nanos(m, int(i), int(o), int(c), at=_EPOCH + timedelta(days=int(day)))
        for m, i, o, c, day in zip(*(distinct[k] for k in keys), strict=True)
    ]
    lookup = engine.from_columns(
        con,
        {
            "p_model": (distinct["model"], "string"),
            "p_in": (distinct["input_tokens"], "int64"),
            "p_out": (distinct["output_tokens"], "int64"),
            "p_cached": (distinct["cached_tokens"], "int64"),
            "p_day": ([int(d) for d in distinct["p_day"]], "int64"),
            "p_cost": (costs, "int64"),
        },
        "prices",
    )
    joined = stored.left_join(
        lookup,
        [
            stored.model == lookup.p_model,
            stored.input_tokens == lookup.p_in,
            stored.output_tokens == lookup.p_out,
            stored.cached_tokens == lookup.p_cached,
            (engine.epoch_seconds(con, stored.ts) // _DAY) == lookup.p_day,
        ],
    )
    fixed = joined.select(
        *[c for c in stored.columns if c != "cost_nanos" and not c.startswith("_f")],
        cost_nanos=joined.cost_nanos.fill_null(joined.p_cost),
    )
    return engine.materialize(con, fixed, "usage")


def _has_price(prices: PriceTable, model: str) -> bool:
    try:
        prices.get(model)
    except UnknownModelError:
        return False
    return True


def raise_unknown(source: Source, model: str) -> None:
    for where, row in source.scan():
        if (row["model"] or "").strip() == model and blank(row["cost"]):
            status = row["status"]
            try:
                failing = status is not None and int(float(status)) >= 400
            except ValueError:
                failing = False
            if not failing:
                raise UsageFileError(
                    f"no price for model {model!r} and no cost given; refusing to cost it at $0",
                    f"{where}.model",
                )
