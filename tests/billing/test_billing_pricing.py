"""Prices as data, name resolution, and exact cost (rule: cost = tokens x price; no price → error, never $0)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quotadesk.billing.pricing import (
    DEFAULT_PRICES,
    DEFAULT_TABLE,
    PRICE_CLASSES,
    Price,
    PriceTable,
    UnknownModelError,
    cost_nanos,
    price_class,
    rank,
)
from quotadesk.money import MoneyError

REQUIRED = [
    "gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o1", "o1-mini", "o3", "o3-mini",
    "o4-mini", "claude-haiku", "claude-sonnet", "claude-opus", "gemini-flash", "gemini-pro",
    "deepseek-chat", "mistral-large", "llama-3.3-70b",
]  # fmt: skip


@pytest.mark.parametrize("model", REQUIRED)
def test_default_table_prices_every_required_family_with_a_date_and_class(model: str) -> None:
    price = DEFAULT_PRICES[model]
    assert isinstance(price.as_of, date)
    assert price.price_class in PRICE_CLASSES
    assert price.input_per_mtok > 0 and price.output_per_mtok > 0
    assert price.cached_input_per_mtok <= price.input_per_mtok


@pytest.mark.parametrize(
    ("model", "inp", "out", "cached"),
    [
        ("claude-sonnet", "3.00", "15.00", "0.30"),
        ("claude-haiku", "0.80", "4.00", "0.08"),
        ("claude-opus", "15.00", "75.00", "1.50"),
        ("gpt-4o", "2.50", "10.00", "1.25"),
        ("gpt-4o-mini", "0.15", "0.60", "0.075"),
        ("o1", "15.00", "60.00", "7.50"),
    ],
)
def test_default_prices_match_the_case_bundles(model: str, inp: str, out: str, cached: str) -> None:
    p = DEFAULT_PRICES[model]
    assert (p.input_per_mtok, p.output_per_mtok, p.cached_input_per_mtok) == (
        Decimal(inp),
        Decimal(out),
        Decimal(cached),
    )


def test_default_prices_cannot_be_mutated() -> None:
    with pytest.raises(TypeError):
        DEFAULT_PRICES["free-model"] = DEFAULT_PRICES["gpt-4o"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("GPT-4o", "gpt-4o"),
        ("openai/gpt-4o", "gpt-4o"),
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("o1-2024-12-17", "o1"),
        ("claude-3-5-sonnet-20241022", "claude-sonnet"),
        ("claude-sonnet-4-5", "claude-sonnet"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet"),
        ("claude-3-7-sonnet-latest", "claude-sonnet"),
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", "claude-sonnet"),
        ("claude-3-5-haiku-20241022", "claude-haiku"),
        ("claude-opus-4-1", "claude-opus"),
        ("gemini-2.5-flash", "gemini-flash"),
        ("gemini-2.5-flash-lite", "gemini-flash-lite"),
        ("gemini-2.5-pro", "gemini-pro"),
        ("gemini-1.5-pro-002", "gemini-pro"),
        ("meta-llama/Llama-3.3-70B-Instruct-Turbo", "llama-3.3-70b"),
        ("llama-3.3-70b-versatile", "llama-3.3-70b"),
        ("mistral-large-latest", "mistral-large"),
        ("mistral-large-2411", "mistral-large"),
    ],
)
def test_versioned_names_resolve_to_their_family(name: str, family: str) -> None:
    """Without the catalog (a closed table), dated and vendor names fall back to the families."""
    assert FAMILIES_ONLY.resolve(name) == family
    assert FAMILIES_ONLY.get(name) is DEFAULT_PRICES[family]


FAMILIES_ONLY = PriceTable(base=DEFAULT_PRICES)


@pytest.mark.parametrize("name", ["claude", "gpt-4o-minix", "my-finetune-x", "", "  "])
def test_unknown_models_are_an_error_never_zero(name: str) -> None:
    with pytest.raises(UnknownModelError) as info:
        DEFAULT_TABLE.get(name)
    assert isinstance(info.value, ValueError)
    assert info.value.model == name
    with pytest.raises(UnknownModelError):
        cost_nanos(name, 1000, 1000)


def test_mini_never_falls_back_to_its_bigger_sibling() -> None:
    assert DEFAULT_TABLE.get("gpt-4o-mini") != DEFAULT_TABLE.get("gpt-4o")
    table = PriceTable(base={"gpt-4o": DEFAULT_PRICES["gpt-4o"]})
    with pytest.raises(UnknownModelError):
        table.get("gpt-4o-mini")


@pytest.mark.parametrize(
    ("model", "inp", "out", "cached", "expected_nanos"),
    [
        ("gpt-4o", 1_000_000, 0, 0, 2_500_000_000),
        ("gpt-4o", 0, 1_000_000, 0, 10_000_000_000),
        ("gpt-4o", 0, 0, 1_000_000, 1_250_000_000),
        ("gpt-4o", 1000, 500, 200, 7_750_000),  # 1000*2.5 + 500*10 + 200*1.25 micro-dollars
        ("gpt-4o-mini", 1, 0, 0, 150),
        ("gpt-4o-mini", 0, 0, 1, 75),
        ("claude-sonnet", 12_345, 678, 9_000, 49_905_000),
        ("o1", 0, 0, 0, 0),
    ],
)
def test_cost_is_exact_to_the_nano_dollar(
    model: str, inp: int, out: int, cached: int, expected_nanos: int
) -> None:
    assert cost_nanos(model, inp, out, cached) == expected_nanos


def test_cached_tokens_are_billed_at_the_cached_price_and_input_is_uncached() -> None:
    # 1000 uncached + 1000 cached input: not 2000 at the input price, not 1000 at both.
    assert cost_nanos("claude-sonnet", 1000, 0, 1000) == 1000 * 3000 + 1000 * 300


def _tiny(price: str) -> Price:
    return Price(Decimal(price), Decimal(price), Decimal(price), "economy", date(2026, 1, 1))


def test_rounding_is_half_even_and_only_once_at_the_end() -> None:
    p = _tiny("0.0005")  # half a nano-dollar per token
    assert p.cost_nanos(1, 0, 0) == 0  # 0.5 -> 0 (half-even)
    assert p.cost_nanos(3, 0, 0) == 2  # 1.5 -> 2
    assert p.cost_nanos(1, 1, 0) == 1  # 0.5 + 0.5 = 1: rounding each part first would give 0


@pytest.mark.parametrize("field", ["input_tokens", "output_tokens", "cached_tokens"])
def test_negative_token_counts_name_the_field(field: str) -> None:
    counts = {"input_tokens": 1, "output_tokens": 1, "cached_tokens": 1, field: -1}
    with pytest.raises(ValueError, match=field):
        DEFAULT_TABLE.cost_nanos("gpt-4o", **counts)


@pytest.mark.parametrize("bad", [1.5, True, "10"])
def test_token_counts_must_be_ints(bad: object) -> None:
    with pytest.raises(ValueError, match="input_tokens"):
        DEFAULT_TABLE.cost_nanos("gpt-4o", bad, 0)  # type: ignore[arg-type]


def test_price_validates_its_fields() -> None:
    with pytest.raises(MoneyError, match="input_per_mtok"):
        Price(Decimal("-1"), Decimal(1), Decimal(1), "economy", date(2026, 1, 1))
    with pytest.raises(MoneyError, match="output_per_mtok"):
        Price(Decimal(1), 1.5, Decimal(1), "economy", date(2026, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="price_class"):
        Price(Decimal(1), Decimal(1), Decimal(1), "luxury", date(2026, 1, 1))


def test_bundle_prices_override_defaults_and_keep_the_rest() -> None:
    table = PriceTable.from_mapping(
        {"gpt-4o": {"input_per_mtok": "5.00", "output_per_mtok": "20.00", "cached_input_per_mtok": "2.50"}},
        as_of=date(2026, 11, 20),
    )
    assert table.get("gpt-4o-2024-08-06").input_per_mtok == Decimal("5.00")
    assert table.get("gpt-4o").price_class == "standard"  # class inherited from the default family
    assert table.get("gpt-4o").as_of == date(2026, 11, 20)
    assert table.get("claude-sonnet") is DEFAULT_PRICES["claude-sonnet"]


def test_bundle_price_for_a_new_model_is_classed_by_its_input_price() -> None:
    table = PriceTable.from_mapping(
        {
            "cheap-x": {"input_per_mtok": "0.20", "output_per_mtok": "0.80"},
            "dear-x": {"input_per_mtok": "30", "output_per_mtok": "120"},
            "mid-x": {"input_per_mtok": "3", "output_per_mtok": "12", "price_class": "premium"},
        },
        as_of=date(2026, 11, 20),
    )
    assert table.price_class("cheap-x") == "economy"
    assert table.get("cheap-x").cached_input_per_mtok == Decimal("0.20")  # no cache price: no discount
    assert table.price_class("dear-x") == "premium"
    assert table.price_class("mid-x") == "premium"


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"input_per_mtok": "abc", "output_per_mtok": "1"}, "prices.m.input_per_mtok"),
        ({"input_per_mtok": 0.5, "output_per_mtok": "1"}, "prices.m.input_per_mtok"),
        ({"input_per_mtok": "1", "output_per_mtok": "-1"}, "prices.m.output_per_mtok"),
        ({"input_per_mtok": "1"}, "prices.m.output_per_mtok"),
        (
            {"input_per_mtok": "1", "output_per_mtok": "1", "cached_input_per_mtok": "x"},
            "cached_input_per_mtok",
        ),
        ({"input_per_mtok": "1", "output_per_mtok": "1", "price_class": "gold"}, "prices.m.price_class"),
    ],
)
def test_malformed_bundle_prices_name_the_field(entry: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        PriceTable.from_mapping({"m": entry}, as_of=date(2026, 11, 20))


def test_non_object_price_entry_is_refused() -> None:
    with pytest.raises(ValueError, match=r"prices\.m"):
        PriceTable.from_mapping({"m": "3.00"}, as_of=date(2026, 11, 20))  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("model", "klass", "r"),
    [
        ("gpt-4o-mini", "economy", 0),
        ("gpt-4o", "standard", 1),
        ("o1", "premium", 2),
        ("claude-opus", "premium", 2),
    ],
)
def test_price_class_and_rank(model: str, klass: str, r: int) -> None:
    assert price_class(model) == klass
    assert rank(model) == r


def test_rank_orders_the_runbook_model_swaps() -> None:
    assert rank("gpt-4o-mini") < rank("gpt-4o") < rank("o1")
    assert rank("claude-haiku") < rank("claude-sonnet") < rank("claude-opus")


tokens = st.integers(min_value=0, max_value=10**9)


@given(model=st.sampled_from(sorted(DEFAULT_PRICES)), i=tokens, o=tokens, c=tokens)
def test_cost_equals_exact_decimal_arithmetic(model: str, i: int, o: int, c: int) -> None:
    p = DEFAULT_PRICES[model]
    exact = (i * p.input_per_mtok + o * p.output_per_mtok + c * p.cached_input_per_mtok) * 1000
    assert exact == exact.to_integral_value()  # every family price is a whole nano-dollar per token
    assert cost_nanos(model, i, o, c, FAMILIES_ONLY) == int(exact)


@given(
    price=st.decimals(min_value=0, max_value=100, places=6),
    i=tokens,
    o=tokens,
    c=tokens,
    di=st.integers(0, 10**6),
    do=st.integers(0, 10**6),
    dc=st.integers(0, 10**6),
)
def test_cost_is_monotone_in_every_token_count(
    price: Decimal, i: int, o: int, c: int, di: int, do: int, dc: int
) -> None:
    p = Price(price, price * 4, price / 10, "standard", date(2026, 1, 1))
    assert p.cost_nanos(i, o, c) <= p.cost_nanos(i + di, o, c)
    assert p.cost_nanos(i, o, c) <= p.cost_nanos(i, o + do, c)
    assert p.cost_nanos(i, o, c) <= p.cost_nanos(i, o, c + dc)
