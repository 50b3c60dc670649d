"""Model prices kept as data, and the exact cost of a request to the nano-dollar.

Prices are US dollars per 1M tokens (input, output, cached input) with the date each was
last checked: a price without a date cannot be audited against an invoice. Each model has
a class (economy / standard / premium) so triage can say "usage moved to a pricier class"
without comparing raw figures.

Token convention (the one the usage log and the gateway use): ``input_tokens`` are the
UNCACHED input tokens and ``cached_tokens`` the input tokens served from the prompt cache,
so a request's whole prompt is ``input_tokens + cached_tokens``. Each is billed at its own
price; the sum is rounded half-even to the nano-dollar once, at the end, so a bill summed
from many requests does not inherit per-part rounding.

A model with no price is an error (``UnknownModelError``), never a cost of $0: an unpriced
model costed at zero is free traffic that nobody notices until the invoice.

Names: providers publish dated or versioned names (``gpt-4o-2024-08-06``,
``claude-3-5-sonnet-20241022``, ``openai/gpt-4o``). ``PriceTable.get`` strips a vendor
prefix and date/version suffixes and maps Claude/Gemini/Llama variants to their family,
but never matches by prefix: ``gpt-4o-mini`` is its own model, not ``gpt-4o``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from types import MappingProxyType

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


@dataclass(frozen=True, slots=True)
class Price:
    """One model's price per 1M tokens, its class and the date the price was taken.

    Fields: ``input_per_mtok`` (uncached input), ``output_per_mtok``,
    ``cached_input_per_mtok`` (Decimal dollars), ``price_class`` (economy/standard/premium)
    and ``as_of``. Validated on construction so a bad price fails where it is written,
    not at the first request that uses it.
    """

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal
    price_class: str
    as_of: date

    def __post_init__(self) -> None:
        for name in ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok"):
            value = getattr(self, name)
            if not isinstance(value, Decimal):
                raise MoneyError(f"expected a Decimal, got {type(value).__name__}", name)
            dollars(value, name, allow_negative=False)
        _check_class(self.price_class, "price_class")
        if not isinstance(self.as_of, date):
            raise ValueError(f"as_of: expected a date, got {type(self.as_of).__name__}")

    @property
    def rank(self) -> int:
        return PRICE_CLASSES.index(self.price_class)

    def cost_nanos(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> int:
        """Exact cost in nano-dollars; ``input_tokens`` are uncached (see the module docstring)."""
        counts = (
            ("input_tokens", input_tokens),
            ("output_tokens", output_tokens),
            ("cached_tokens", cached_tokens),
        )
        for name, count in counts:
            if isinstance(count, bool) or not isinstance(count, int):
                raise ValueError(f"{name}: expected an int token count, got {type(count).__name__}")
            if count < 0:
                raise ValueError(f"{name}: must not be negative (got {count})")
        with localcontext() as ctx:
            ctx.prec = 60
            total = (
                input_tokens * self.input_per_mtok
                + output_tokens * self.output_per_mtok
                + cached_tokens * self.cached_input_per_mtok
            ) * _NANOS_PER_DOLLAR_PER_MTOK
            return int(total.to_integral_value(rounding=ROUND_HALF_EVEN))


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


class PriceTable:
    """The default prices overlaid with a bundle's or deployment's own.

    Overrides win by name; a model only in the defaults keeps the default price. Built as
    a value once per bundle so every cost in one diagnosis uses the same prices.
    """

    def __init__(self, overrides: Mapping[str, Price] | None = None, base: Mapping[str, Price] | None = None):
        merged = {k.lower(): v for k, v in (DEFAULT_PRICES if base is None else base).items()}
        for name, price in (overrides or {}).items():
            if not isinstance(price, Price):
                raise ValueError(f"prices.{name}: expected a Price, got {type(price).__name__}")
            merged[name.lower()] = price
        self._prices: dict[str, Price] = merged

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Mapping[str, object]], as_of: date, base: Mapping[str, Price] | None = None
    ) -> PriceTable:
        """Build from a bundle's ``prices`` section (decimal strings per 1M tokens).

        A missing ``cached_input_per_mtok`` means no cache discount (cached = input). The
        class comes from ``price_class``/``class`` if given, else from the default entry
        of the same family, else from the input price (< $1 economy, >= $10 premium).
        """
        defaults = PriceTable(base=base)
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
            raw_class = entry.get("price_class", entry.get("class"))
            if raw_class is not None:
                klass = _check_class(raw_class, f"{where}.price_class")
            elif name in defaults:
                klass = defaults.price_class(name)
            else:
                klass = "economy" if inp < 1 else "premium" if inp >= 10 else "standard"
            overrides[name] = Price(inp, out, cached, klass, as_of)
        return cls(overrides, base)

    def __iter__(self) -> Iterator[str]:
        return iter(self._prices)

    def items(self) -> tuple[tuple[str, Price], ...]:
        """Every priced name and its price (override names as given, lower-cased)."""
        return tuple(self._prices.items())

    def __len__(self) -> int:
        return len(self._prices)

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and resolve_name(model, self._prices) is not None

    def resolve(self, model: str) -> str:
        """The table entry ``model`` is billed as; UnknownModelError if none."""
        if not isinstance(model, str) or not model.strip():
            raise UnknownModelError(str(model))
        name = resolve_name(model, self._prices)
        if name is None:
            raise UnknownModelError(model)
        return name

    def get(self, model: str) -> Price:
        """The price of ``model``; UnknownModelError when it has none (there is no default)."""
        return self._prices[self.resolve(model)]

    def cost_nanos(self, model: str, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> int:
        """Exact cost of one request in nano-dollars (uncached input + output + cached input)."""
        return self.get(model).cost_nanos(input_tokens, output_tokens, cached_tokens)

    def price_class(self, model: str) -> str:
        return self.get(model).price_class

    def rank(self, model: str) -> int:
        return self.get(model).rank


DEFAULT_TABLE = PriceTable()


def cost_nanos(
    model: str,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int = 0,
    prices: PriceTable | None = None,
) -> int:
    """Exact cost in nano-dollars with ``prices`` (default: the project's table)."""
    table = DEFAULT_TABLE if prices is None else prices
    return table.cost_nanos(model, input_tokens, output_tokens, cached_tokens)


def price_class(model: str, prices: PriceTable | None = None) -> str:
    """economy / standard / premium; UnknownModelError for a model with no price."""
    return (DEFAULT_TABLE if prices is None else prices).price_class(model)


def rank(model: str, prices: PriceTable | None = None) -> int:
    """0 economy, 1 standard, 2 premium: a rise means usage moved to a pricier class."""
    return (DEFAULT_TABLE if prices is None else prices).rank(model)
