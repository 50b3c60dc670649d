"""The public list prices: the genai-prices snapshot, checked against the providers' published
pages, with dated history, cache writes, batch and service tiers; never fetched at run time."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from decimal import Decimal
from importlib.metadata import version

import pytest

from quotadesk.billing.catalog import default_catalog
from quotadesk.billing.pricing import DEFAULT_TABLE, Price, PriceTable, UnknownModelError
from quotadesk.prices_build import CATALOG_PATH, build_catalog, render

D = Decimal


def test_the_snapshot_is_the_pinned_package_data() -> None:
    """Bumping genai-prices without rewriting the snapshot (python -m quotadesk.prices_build) fails here."""
    assert version("genai-prices") == "0.2.3"
    assert CATALOG_PATH.read_text(encoding="utf-8") == render(build_catalog())
    cat = default_catalog()
    assert (cat.source, cat.version) == ("genai-prices", "0.2.3")
    assert cat.license.startswith("MIT")
    assert len(cat.models()) > 1500 and {"openai", "anthropic", "google"} <= set(cat.providers)


# Published list prices per 1M tokens (input, output, cache read, 5-minute write, 1-hour write):
# anthropic.com/pricing and platform.claude.com/docs/en/about-claude/pricing; openai.com/api/pricing.
PUBLISHED = [
    ("claude-opus-4-5-20251101", date(2026, 11, 2), ("5", "25", "0.5", "6.25", "10")),
    ("claude-opus-4-1-20250805", date(2025, 9, 1), ("15", "75", "1.5", "18.75", "30")),
    ("claude-haiku-4-5-20251001", date(2026, 11, 2), ("1", "5", "0.1", "1.25", "2")),
    ("claude-3-5-haiku-20241022", date(2025, 3, 1), ("0.8", "4", "0.08", "1", "1.6")),
    ("claude-sonnet-4-5-20250929", date(2026, 11, 2), ("3", "15", "0.3", "3.75", "6")),
    ("gpt-5-mini-2025-08-07", date(2026, 11, 2), ("0.25", "2", "0.025", None, None)),
    ("gpt-5", date(2026, 11, 2), ("1.25", "10", "0.125", None, None)),
    ("gpt-4o-2024-08-06", date(2025, 10, 27), ("2.5", "10", "1.25", None, None)),
]


@pytest.mark.parametrize(("model", "day", "expected"), PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_prices_match_the_providers_published_pages(model: str, day: date, expected: tuple[str | None, ...]) -> None:
    p = DEFAULT_TABLE.get(model, day)
    got = (p.input_per_mtok, p.output_per_mtok, p.cached_input_per_mtok, p.cache_write_per_mtok, p.cache_write_1h_per_mtok)
    assert got == tuple(None if e is None else D(e) for e in expected)
    assert p.source.startswith("genai-prices 0.2.3 ")


def test_current_opus_is_a_third_of_the_old_opus_on_the_row_date() -> None:
    new = DEFAULT_TABLE.cost_nanos("claude-opus-4-5", 1_000_000, 1_000_000, at=date(2026, 11, 2))
    old = DEFAULT_TABLE.cost_nanos("claude-opus-4-1", 1_000_000, 1_000_000, at=date(2026, 11, 2))
    assert (new, old) == (30_000_000_000, 90_000_000_000)


def test_a_price_change_applies_from_its_date() -> None:
    before = DEFAULT_TABLE.get("o3-2025-04-16", date(2025, 6, 9))
    after = DEFAULT_TABLE.get("o3-2025-04-16", date(2025, 6, 10))
    assert (before.input_per_mtok, before.output_per_mtok) == (D(10), D(40))
    assert (after.input_per_mtok, after.output_per_mtok, after.as_of) == (D(2), D(8), date(2025, 6, 10))


def test_batch_and_service_tiers() -> None:
    day = date(2026, 11, 2)
    batch = DEFAULT_TABLE.get("claude-haiku-4-5", day, batch=True)
    assert (batch.input_per_mtok, batch.output_per_mtok, batch.cache_write_per_mtok) == (D("0.5"), D("2.5"), D("0.625"))
    assert DEFAULT_TABLE.get("claude-haiku-4-5", day, service_tier="batch") == batch  # Anthropic's spelling
    flex = DEFAULT_TABLE.get("gpt-5-mini", day, service_tier="flex")
    assert (flex.input_per_mtok, flex.output_per_mtok) == (D("0.125"), D("1"))
    # no verified flex rate before 2026-10-12: the standard price stands
    assert DEFAULT_TABLE.get("gpt-5-mini", date(2026, 9, 1), service_tier="flex").input_per_mtok == D("0.25")
    assert DEFAULT_TABLE.get("gpt-5-mini", day, service_tier="default").input_per_mtok == D("0.25")
    # the batch price applies on any date (the Batch API billed half from its launch)
    assert DEFAULT_TABLE.get("gpt-4o", date(2024, 9, 1), batch=True).input_per_mtok == D("1.25")
    # a deployment price has no batch variant: half of it
    own = PriceTable.from_mapping({"m": {"input_per_mtok": "2", "output_per_mtok": "8"}}, as_of=day)
    half = own.get("m", day, batch=True)
    assert (half.input_per_mtok, half.output_per_mtok) == (D(1), D(4)) and "half" in half.source


def test_cache_writes_cost_their_published_price_or_the_documented_multiple() -> None:
    opus = DEFAULT_TABLE.get("claude-opus-4-5", date(2026, 11, 2))
    assert opus.cost_nanos(0, 0, write_5m=1_000_000, write_1h=1_000_000) == 16_250_000_000
    plain = Price(D(1), D(2), D("0.1"), "economy", None)
    assert plain.cost_nanos(0, 0, write_5m=1_000_000, write_1h=1_000_000, cache_write_tokens=1_000_000) == (
        1_250_000_000 + 2_000_000_000 + 1_000_000_000
    )


def test_a_deployment_price_overrides_the_catalog_by_name_and_family() -> None:
    table = PriceTable.from_mapping(
        {"claude-opus": {"input_per_mtok": "4", "output_per_mtok": "20", "cache_write_per_mtok": "5"}},
        as_of=date(2026, 11, 20),
    )
    p = table.get("claude-opus-4-5-20251101", date(2026, 11, 2))
    assert (p.input_per_mtok, p.cache_write_per_mtok, p.source) == (D(4), D(5), "deployment")
    assert table.get("gpt-5-mini").source.startswith("genai-prices")


@pytest.mark.parametrize("name", ["claude", "gpt-4o-minix", "my-finetune-x", "", "openai/"])
def test_an_unknown_model_is_still_refused(name: str) -> None:
    with pytest.raises(UnknownModelError):
        DEFAULT_TABLE.get(name)


def test_resolution_is_cached_per_name() -> None:
    table = PriceTable()
    first = table.get("gpt-5-mini-2025-08-07", date(2026, 11, 2))
    assert table.get("gpt-5-mini-2025-08-07", date(2026, 11, 2)) is first
    assert table.source_of("gpt-5-mini-2025-08-07") is table.source_of("gpt-5-mini-2025-08-07")


def test_nothing_is_loaded_at_import_and_genai_prices_is_never_imported() -> None:
    code = (
        "import sys\n"
        "from quotadesk.billing import pricing, catalog\n"
        "assert catalog.default_catalog.cache_info().currsize == 0\n"
        "pricing.DEFAULT_TABLE.get('gpt-5-mini')\n"
        "assert catalog.default_catalog.cache_info().currsize == 1\n"
        "assert not any(m.startswith(('genai_prices', 'httpx')) for m in sys.modules), 'fetching code loaded'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
