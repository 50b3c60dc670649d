"""Model prices as data, and the exact cost of a request to the nano-dollar.

Where prices come from, in the order a name is looked up:

1. the deployment's or bundle's own table (``overrides``: the platform's prices for its
   customers), matched by name, stripped name or family, as below;
2. the public list prices of the genai-prices snapshot (``quotadesk.billing.catalog``):
   hundreds of models of every major provider, each with its dated price periods, cache
   read and write prices and batch and service-tier variants;
3. the project's own family table (``DEFAULT_PRICES``), for the bare family names case
   bundles and the simulator use (``claude-haiku``, ``gpt-4o``, ``gemini-flash``; an exact
   family name is looked up here before the catalog, so the books, tiers and bundles keep
   one price for it) and for dated names the catalog does not know; it also gives tiers
   their model classes.

Prices are US dollars per 1M tokens. ``get(model, at)`` answers the price in force on the
day of ``at`` (a usage row's own timestamp), ``at=None`` the newest one. Each price says
where it came from (``source``) and since when it applies (``as_of``, None when the source
gives no start date). Each model has a class (economy / standard / premium) so triage can
say "usage moved to a pricier class" without comparing raw figures.

Token convention (the one the usage log and the gateway use): ``input_tokens`` are the
UNCACHED input tokens and ``cached_tokens`` the input tokens served from the prompt cache,
so a request's whole prompt is ``input_tokens + cached_tokens`` (+ cache writes). Each is
billed at its own price; the sum is rounded half-even to the nano-dollar once, at the end,
so a bill summed from many requests does not inherit per-part rounding. Cache writes are
billed at the published cache-write price; without one, a plain write at the input price
and Anthropic-style 5-minute / 1-hour writes at 1.25x / 2x the input price (Anthropic's
published multipliers).

A model with no price is an error (``UnknownModelError``), never a cost of $0: an unpriced
model costed at zero is free traffic that nobody notices until the invoice.

Speed: a table resolves each name once and keeps the answer (a dict lookup afterwards);
the snapshot is read on the first lookup that needs it, never at import.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from types import MappingProxyType

from quotadesk.billing.catalog import Catalog, CatalogModel, default_catalog
from quotadesk.money import MoneyError, dollars

PRICE_CLASSES: tuple[str, ...] = ("economy", "standard", "premium")
"""Price classes from cheapest to dearest; the index is the class's rank."""

_NANOS_PER_DOLLAR_PER_MTOK = 1000
"""A price of $1 per 1M tokens is 1000 nano-dollars per token (1e9 / 1e6)."""


def _check_class(value: object, field: str) -> str:
    if value not in PRICE_CLASSES:
        raise ValueError(f"{field}: expected one of {', '.join(PRICE_CLASSES)}, got {value!r}")
    return str(value)


class UnknownModelError(ValueError):
    """A model that has no price: refusing to cost it rather than charging $0."""

    def __init__(self, model: str) -> None:
        self.model = model
        super().__init__(f"model: no price for {model!r}; refusing to cost it at $0")


CACHE_WRITE_5M = Decimal("1.25")
CACHE_WRITE_1H = Decimal("2")
BATCH_FACTOR = Decimal("0.5")
"""Batch APIs (OpenAI, Anthropic) bill half the list price: used when no batch price is published."""


def _count(name: str, count: object) -> int:
    if isinstance(count, bool) or not isinstance(count, int):
        raise ValueError(f"{name}: expected an int token count, got {type(count).__name__}")
    if count < 0:
        raise ValueError(f"{name}: must not be negative (got {count})")
    return count


@dataclass(frozen=True, slots=True)
class Price:
    """One model's price per 1M tokens, its class, since when it applies and where it came from.

    Fields: ``input_per_mtok`` (uncached input), ``output_per_mtok``,
    ``cached_input_per_mtok`` (cache read), ``price_class`` (economy/standard/premium),
    ``as_of`` (the day the price starts or was taken; None when the source gives no date),
    the optional cache-write prices and ``source``. Validated on construction so a bad
    price fails where it is written, not at the first request that uses it.
    """

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal
    price_class: str
    as_of: date | None
    cache_write_per_mtok: Decimal | None = None
    cache_write_1h_per_mtok: Decimal | None = None
    source: str = "quotadesk"

    def __post_init__(self) -> None:
        for name in ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok"):
            value = getattr(self, name)
            if not isinstance(value, Decimal):
                raise MoneyError(f"expected a Decimal, got {type(value).__name__}", name)
            dollars(value, name, allow_negative=False)
        for name in ("cache_write_per_mtok", "cache_write_1h_per_mtok"):
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, Decimal):
                    raise MoneyError(f"expected a Decimal, got {type(value).__name__}", name)
                dollars(value, name, allow_negative=False)
        _check_class(self.price_class, "price_class")
        if self.as_of is not None and not isinstance(self.as_of, date):
            raise ValueError(f"as_of: expected a date, got {type(self.as_of).__name__}")

    @property
    def rank(self) -> int:
        return PRICE_CLASSES.index(self.price_class)

    @property
    def write_rates(self) -> tuple[Decimal, Decimal, Decimal]:
        """$/1M for a plain cache write, a 5-minute write and a 1-hour write."""
        plain = self.cache_write_per_mtok if self.cache_write_per_mtok is not None else self.input_per_mtok
        five = (
            self.cache_write_per_mtok
            if self.cache_write_per_mtok is not None
            else self.input_per_mtok * CACHE_WRITE_5M
        )
        hour = (
            self.cache_write_1h_per_mtok
            if self.cache_write_1h_per_mtok is not None
            else self.input_per_mtok * CACHE_WRITE_1H
        )
        return plain, five, hour

    def scaled(self, factor: Decimal, note: str) -> Price:
        """Every rate times ``factor`` (a batch discount), with the reason added to ``source``."""
        w5, w1 = self.cache_write_per_mtok, self.cache_write_1h_per_mtok
        return replace(
            self,
            input_per_mtok=self.input_per_mtok * factor,
            output_per_mtok=self.output_per_mtok * factor,
            cached_input_per_mtok=self.cached_input_per_mtok * factor,
            cache_write_per_mtok=None if w5 is None else w5 * factor,
            cache_write_1h_per_mtok=None if w1 is None else w1 * factor,
            source=f"{self.source}; {note}",
        )

    def cost_nanos(
        self,
        input_tokens: int,
        output_tokens: int,
        cached_tokens: int = 0,
        *,
        cache_write_tokens: int = 0,
        write_5m: int = 0,
        write_1h: int = 0,
    ) -> int:
        """Exact cost in nano-dollars; ``input_tokens`` are uncached (see the module docstring)."""
        counts = (
            _count("input_tokens", input_tokens),
            _count("output_tokens", output_tokens),
            _count("cached_tokens", cached_tokens),
            _count("cache_write_tokens", cache_write_tokens),
            _count("write_5m", write_5m),
            _count("write_1h", write_1h),
        )
        with localcontext() as ctx:
            ctx.prec = 60
            total = (
                counts[0] * self.input_per_mtok
                + counts[1] * self.output_per_mtok
                + counts[2] * self.cached_input_per_mtok
            )
            if counts[3] or counts[4] or counts[5]:
                plain, five, hour = self.write_rates
                total += counts[3] * plain + counts[4] * five + counts[5] * hour
            total *= _NANOS_PER_DOLLAR_PER_MTOK
            return int(total.to_integral_value(rounding=ROUND_HALF_EVEN))

    def whole_rates(self) -> tuple[int, int, int] | None:
        """Whole nano-dollars per token (input, output, cached), or None when a price is finer."""
        per_token = [
            p * _NANOS_PER_DOLLAR_PER_MTOK
            for p in (self.input_per_mtok, self.output_per_mtok, self.cached_input_per_mtok)
        ]
        if all(v == v.to_integral_value() for v in per_token):
            return int(per_token[0]), int(per_token[1]), int(per_token[2])
        return None


def _p(inp: str, out: str, cached: str, price_class: str, as_of: str) -> Price:
    return Price(Decimal(inp), Decimal(out), Decimal(cached), price_class, date.fromisoformat(as_of))


DEFAULT_PRICES: Mapping[str, Price] = MappingProxyType(
    {
        # OpenAI (platform.openai.com/pricing, standard tier, per 1M tokens)
        "gpt-4o-mini": _p("0.15", "0.60", "0.075", "economy", "2024-07-18"),
        "gpt-4o": _p("2.50", "10.00", "1.25", "standard", "2024-10-01"),
        "gpt-4.1": _p("2.00", "8.00", "0.50", "standard", "2025-04-14"),
        "gpt-4.1-mini": _p("0.40", "1.60", "0.10", "economy", "2025-04-14"),
        "gpt-4.1-nano": _p("0.10", "0.40", "0.025", "economy", "2025-04-14"),
        "o1": _p("15.00", "60.00", "7.50", "premium", "2024-12-17"),
        "o1-mini": _p("1.10", "4.40", "0.55", "standard", "2025-01-31"),
        "o3": _p("2.00", "8.00", "0.50", "standard", "2025-06-10"),
        "o3-mini": _p("1.10", "4.40", "0.55", "standard", "2025-01-31"),
        "o4-mini": _p("1.10", "4.40", "0.275", "standard", "2025-04-16"),
        # Anthropic, by family as the case bundles name them (cached = cache read)
        "claude-haiku": _p("0.80", "4.00", "0.08", "economy", "2024-11-04"),
        "claude-sonnet": _p("3.00", "15.00", "0.30", "standard", "2024-10-22"),
        "claude-opus": _p("15.00", "75.00", "1.50", "premium", "2025-05-22"),
        # Google Gemini 2.5 (prompts up to 200k tokens)
        "gemini-flash-lite": _p("0.10", "0.40", "0.025", "economy", "2025-07-22"),
        "gemini-flash": _p("0.30", "2.50", "0.075", "economy", "2025-06-17"),
        "gemini-pro": _p("1.25", "10.00", "0.31", "standard", "2025-06-17"),
        # Others
        "deepseek-chat": _p("0.27", "1.10", "0.07", "economy", "2025-02-08"),
        "deepseek-reasoner": _p("0.55", "2.19", "0.14", "economy", "2025-02-08"),
        "mistral-large": _p("2.00", "6.00", "2.00", "standard", "2024-11-18"),
        "llama-3.3-70b": _p("0.59", "0.79", "0.59", "economy", "2024-12-06"),
    }
)
"""The project's own price table. A bundle's ``prices`` section overrides entries by name."""


_VENDOR_PREFIX = re.compile(
    r"^(?:models/|openai/|anthropic/|google/|meta-llama/|deepseek/|mistralai/|"
    r"anthropic\.|meta\.|us\.anthropic\.|eu\.anthropic\.)"
)
_SUFFIXES = (
    re.compile(r"-\d{4}-\d{2}-\d{2}$"),  # gpt-4o-2024-08-06
    re.compile(r"[-@]\d{8}$"),  # claude-3-5-sonnet-20241022, vertex @20241022
    re.compile(r"-v\d+(?::\d+)?$"),  # bedrock -v1:0
    re.compile(r"-latest$"),
    re.compile(r"-preview(?:-\d{2}-\d{2})?$"),  # gemini-2.5-pro-preview-05-06, o1-preview
    re.compile(r"-exp(?:-\d{4})?$"),
    re.compile(r"-\d{3}$"),  # gemini-1.5-pro-002
    re.compile(r"-\d{4}$"),  # mistral-large-2411
)
_FAMILIES = (
    (re.compile(r"^claude-(?:[\d.]+-)*(haiku|sonnet|opus)(?:-[\d.]+)*$"), "claude-{}"),
    (re.compile(r"^gemini-(?:[\d.]+-)?(flash-lite|flash|pro)$"), "gemini-{}"),
    (re.compile(r"^llama-3\.3-70b(?:-(?:instruct|turbo|versatile|specdec))*$"), "llama-3.3-70b"),
)


def _strip(name: str) -> str:
    name = _VENDOR_PREFIX.sub("", name.strip().lower())
    changed = True
    while changed:
        changed = False
        for pattern in _SUFFIXES:
            stripped = pattern.sub("", name)
            if stripped != name and stripped:
                name, changed = stripped, True
    return name


def resolve_name(model: str, known: Collection[str]) -> str | None:
    """The entry of ``known`` that ``model`` names, or None.

    Exact name first (a table may price one dated version on its own), then the name
    without vendor prefix and date/version suffixes, then its family. Never a prefix
    match, so ``gpt-4o-mini`` cannot fall back to ``gpt-4o``.
    """
    if model in known:
        return model
    lowered = model.strip().lower()
    if lowered in known:
        return lowered
    base = _strip(lowered)
    if base in known:
        return base
    for pattern, template in _FAMILIES:
        match = pattern.match(base)
        if match:
            family = template.format(*match.groups())
            if family in known:
                return family
    return None


def _day(at: date | datetime | None) -> date | None:
    if at is None:
        return None
    return at.date() if isinstance(at, datetime) else at


_DEFAULT_TIERS = frozenset({"", "default", "standard", "auto", "on_demand", "scale"})


def _class_of(name: str, families: Mapping[str, Price], input_price: Decimal) -> str:
    family = resolve_name(name, families)
    if family is not None:
        return families[family].price_class
    return "economy" if input_price < 1 else "premium" if input_price >= 10 else "standard"


@dataclass(frozen=True, slots=True)
class PriceSource:
    """Where a name's price comes from: the table entry it resolved to and its origin."""

    name: str
    origin: str  # "override", "catalog" or "family"
    price: Price | None = None
    model: CatalogModel | None = None
    price_class: str = "standard"


class PriceTable:
    """The deployment's or a bundle's own prices over the public catalog and the family table.

    Overrides win by name (and by family: a deployment price for ``claude-sonnet`` covers
    every Sonnet); then the catalog; then the family table. Built as a value once per
    bundle or deployment so every cost in one diagnosis uses the same prices.

    ``base`` replaces the family table; when it is given the catalog is not consulted
    unless passed as ``catalog`` (a closed table, for tests and deployments that price
    only what they list).
    """

    def __init__(
        self,
        overrides: Mapping[str, Price] | None = None,
        base: Mapping[str, Price] | None = None,
        *,
        catalog: Catalog | None = None,
    ):
        self._families: dict[str, Price] = {
            k.lower(): v for k, v in (DEFAULT_PRICES if base is None else base).items()
        }
        self._overrides: dict[str, Price] = {}
        for name, price in (overrides or {}).items():
            if not isinstance(price, Price):
                raise ValueError(f"prices.{name}: expected a Price, got {type(price).__name__}")
            self._overrides[name.lower()] = price
        self._use_catalog = base is None or catalog is not None
        self._catalog = catalog
        self._sources: dict[str, PriceSource | None] = {}
        self._prices: dict[tuple[str, date | None, bool, str, str], Price] = {}

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Mapping[str, object]], as_of: date, base: Mapping[str, Price] | None = None
    ) -> PriceTable:
        """Build from a bundle's or deployment's ``prices`` (decimal strings per 1M tokens).

        A missing ``cached_input_per_mtok`` means no cache discount (cached = input);
        ``cache_write_per_mtok`` / ``cache_write_1h_per_mtok`` are optional. The class comes
        from ``price_class``/``class`` if given, else from the family table, else from the
        input price (< $1 economy, >= $10 premium).
        """
        families = DEFAULT_PRICES if base is None else base
        overrides: dict[str, Price] = {}
        for name, entry in data.items():
            where = f"prices.{name}"
            if not isinstance(entry, Mapping):
                raise ValueError(f"{where}: expected an object, got {type(entry).__name__}")
            for required in ("input_per_mtok", "output_per_mtok"):
                if entry.get(required) is None:
                    raise MoneyError("missing", f"{where}.{required}")
            inp = dollars(entry["input_per_mtok"], f"{where}.input_per_mtok", allow_negative=False)
            out = dollars(entry["output_per_mtok"], f"{where}.output_per_mtok", allow_negative=False)
            raw_cached = entry.get("cached_input_per_mtok")
            cached = (
                inp
                if raw_cached is None
                else dollars(raw_cached, f"{where}.cached_input_per_mtok", allow_negative=False)
            )
            writes: list[Decimal | None] = []
            for key in ("cache_write_per_mtok", "cache_write_1h_per_mtok"):
                raw = entry.get(key)
                writes.append(None if raw is None else dollars(raw, f"{where}.{key}", allow_negative=False))
            raw_class = entry.get("price_class", entry.get("class"))
            if raw_class is not None:
                klass = _check_class(raw_class, f"{where}.price_class")
            else:
                klass = _class_of(name, families, inp)
            overrides[name] = Price(inp, out, cached, klass, as_of, writes[0], writes[1], "deployment")
        return cls(overrides, base)

    # --- lookup ---------------------------------------------------------------------------------

    @property
    def catalog(self) -> Catalog | None:
        if not self._use_catalog:
            return None
        if self._catalog is None:
            self._catalog = default_catalog()
        return self._catalog

    def source_of(self, model: str) -> PriceSource | None:
        """Where ``model``'s price comes from (None: it has none). Cached per name."""
        if model in self._sources:
            return self._sources[model]
        found = self._find(model) if isinstance(model, str) and model.strip() else None
        self._sources[model] = found
        return found

    def _find(self, model: str) -> PriceSource | None:
        name = resolve_name(model, self._overrides)
        if name is not None:
            price = self._overrides[name]
            return PriceSource(name, "override", price=price, price_class=price.price_class)
        bare = model.strip().lower()
        if bare in self._families:  # a bare family name is the project's own entry (case bundles, tiers)
            price = self._families[bare]
            return PriceSource(bare, "family", price=price, price_class=price.price_class)
        catalog = self.catalog
        if catalog is not None:
            found = catalog.find(model)
            if found is not None:
                klass = _class_of(found.id, self._families, found.period_at(None)[1].input)
                return PriceSource(found.id, "catalog", model=found, price_class=klass)
        name = resolve_name(model, self._families)
        if name is not None:
            price = self._families[name]
            return PriceSource(name, "family", price=price, price_class=price.price_class)
        return None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def names(self) -> list[str]:
        """The names this table lists itself (overrides and families; the catalog is listed apart)."""
        return list(dict.fromkeys([*self._overrides, *self._families]))

    def items(self) -> tuple[tuple[str, Price], ...]:
        """Every override and family price (override names as given, lower-cased)."""
        merged = dict(self._families)
        merged.update(self._overrides)
        return tuple(merged.items())

    def __len__(self) -> int:
        return len(self.names())

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.source_of(model) is not None

    def resolve(self, model: str) -> str:
        """The table entry ``model`` is billed as; UnknownModelError if none."""
        if not isinstance(model, str) or not model.strip():
            raise UnknownModelError(str(model))
        found = self.source_of(model)
        if found is None:
            raise UnknownModelError(model)
        return found.name

    def get(
        self,
        model: str,
        at: date | datetime | None = None,
        *,
        batch: bool = False,
        service_tier: str | None = None,
        speed: str | None = None,
    ) -> Price:
        """The price of ``model`` in force on ``at``'s day (None: the newest), for the request's
        context; UnknownModelError when it has none (there is no default price)."""
        if not isinstance(model, str) or not model.strip():
            raise UnknownModelError(str(model))
        tier = (service_tier or "").strip().lower()
        if tier == "batch":
            batch, tier = True, ""
        if tier in _DEFAULT_TIERS:
            tier = ""
        fast = (speed or "").strip().lower()
        fast = "" if fast in ("", "standard") else fast
        day = _day(at)
        key = (model, day, batch, tier, fast)
        cached = self._prices.get(key)
        if cached is not None:
            return cached
        found = self.source_of(model)
        if found is None:
            raise UnknownModelError(model)
        price = self._price(found, day, batch, tier, fast)
        self._prices[key] = price
        return price

    def catalog_price(self, model: CatalogModel, at: date | datetime | None = None) -> Price:
        """The standard price of one catalog model on ``at``'s day (for listings)."""
        klass = _class_of(model.id, self._families, model.period_at(None)[1].input)
        return self._price(
            PriceSource(model.id, "catalog", model=model, price_class=klass), _day(at), False, "", ""
        )

    def _price(self, found: PriceSource, day: date | None, batch: bool, tier: str, speed: str) -> Price:
        if found.model is None:
            assert found.price is not None
            return found.price.scaled(BATCH_FACTOR, "batch: half the list price") if batch else found.price
        context: dict[str, str] = {}
        if batch:
            context["processing"] = "batch"
        if tier:
            context["service_tier"] = tier
        if speed:
            context["speed"] = speed
        cm = found.model
        start, rates = cm.rates_at(day, context)
        label = self.catalog.label if self.catalog is not None else "catalog"
        price = Price(
            rates.input,
            rates.output,
            rates.cache_read if rates.cache_read is not None else rates.input,
            found.price_class,
            start,
            rates.cache_write,
            rates.cache_write_1h,
            f"{label} {cm.provider}/{cm.id}" + (" (base of a tiered price)" if rates.tiered else ""),
        )
        if batch and not cm.has_variant({"processing": "batch"}):
            price = price.scaled(BATCH_FACTOR, "batch: half the list price")
        return price

    def cost_nanos(
        self,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cached_tokens: int = 0,
        *,
        at: date | datetime | None = None,
        batch: bool = False,
        service_tier: str | None = None,
        cache_write_tokens: int = 0,
        write_5m: int = 0,
        write_1h: int = 0,
    ) -> int:
        """Exact cost of one request in nano-dollars at the price in force on ``at``."""
        price = self.get(model, at, batch=batch, service_tier=service_tier)
        return price.cost_nanos(
            input_tokens,
            output_tokens,
            cached_tokens,
            cache_write_tokens=cache_write_tokens,
            write_5m=write_5m,
            write_1h=write_1h,
        )

    def price_class(self, model: str) -> str:
        found = self.source_of(model)
        if found is None:
            raise UnknownModelError(model)
        return found.price_class

    def rank(self, model: str) -> int:
        return PRICE_CLASSES.index(self.price_class(model))


DEFAULT_TABLE = PriceTable()


def cost_nanos(
    model: str,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int = 0,
    prices: PriceTable | None = None,
    *,
    at: date | datetime | None = None,
) -> int:
    """Exact cost in nano-dollars with ``prices`` (default: the project's table) on ``at``'s day."""
    table = DEFAULT_TABLE if prices is None else prices
    return table.cost_nanos(model, input_tokens, output_tokens, cached_tokens, at=at)


def price_class(model: str, prices: PriceTable | None = None) -> str:
    """economy / standard / premium; UnknownModelError for a model with no price."""
    return (DEFAULT_TABLE if prices is None else prices).price_class(model)


def rank(model: str, prices: PriceTable | None = None) -> int:
    """0 economy, 1 standard, 2 premium: a rise means usage moved to a pricier class."""
    return (DEFAULT_TABLE if prices is None else prices).rank(model)
