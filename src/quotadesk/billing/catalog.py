"""Public list prices from the genai-prices snapshot: dated price periods and request-context variants.

The snapshot (``quotadesk/data/prices/catalog.json``) is written from the pinned
``genai-prices`` package by ``quotadesk.prices_build``; this module only reads it, once, on
the first lookup (about 10 ms; nothing at import), so ``quotadesk triage`` starts as fast as
before and the gateway's per-request lookup is a dict hit after the first.

Names resolve as the package resolves them, first match wins: a model id or an ``equals``
clause anywhere (first-party providers first, so ``claude-haiku-4-5`` is Anthropic's price
and not a reseller's), then the match clauses of the providers whose own ``model_match``
claims the name (``gpt-…`` is OpenAI's, ``claude…`` Anthropic's), then the same with a vendor
prefix stripped (``openai/gpt-4o``, ``anthropic.claude-…``). Every answer, found or not,
is cached per name.

Dates: each price period starts on its date (or has always applied); the price in force on
a day is the last period started by then, else the first one (the package's own rule).
Variants carry the date from which the package verified them: a service-tier price
(``flex``, ``priority``) applies from that date only, before it the standard price stands;
the batch price applies on any date, because the Batch APIs it models (OpenAI, Anthropic)
have billed half the list price since they launched and the package verified the rate
rather than introduced it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

FIRST_PARTY = (
    "openai",
    "anthropic",
    "google",
    "mistral",
    "deepseek",
    "x-ai",
    "cohere",
    "moonshotai",
    "zhipuai",
    "minimax",
    "meta",
    "groq",
    "together",
    "fireworks",
    "aws",
    "azure",
    "openrouter",
)
"""Providers whose price wins when several list the same model name: the model's maker first."""

_VENDOR = re.compile(
    r"^(?:models/|openai/|anthropic/|google/|meta-llama/|deepseek/|mistralai/|x-ai/|"
    r"(?:us|eu|apac|global)\.anthropic\.|anthropic\.|vertex_ai/|gemini/|azure/|bedrock/)"
)


@dataclass(frozen=True, slots=True)
class Rates:
    """Prices per 1M tokens as the catalog writes them (decimal text kept exact)."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_1h: Decimal | None = None
    tiered: bool = False

    @classmethod
    def parse(cls, raw: Mapping[str, str]) -> Rates:
        def d(key: str) -> Decimal | None:
            return Decimal(raw[key]) if key in raw else None

        inp, out = d("input"), d("output")
        if inp is None or out is None:
            raise ValueError("catalog: a price period without input or output price")
        return cls(inp, out, d("cache_read"), d("cache_write"), d("cache_write_1h"), "tiered" in raw)


@dataclass(frozen=True, slots=True)
class Variant:
    """A partial price for a request context (``processing: batch``, ``service_tier: flex``, …)."""

    when: tuple[tuple[str, str], ...]
    start: date | None
    prices: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class CatalogModel:
    """One model of one provider: its price periods (oldest first) and variants."""

    provider: str
    id: str
    periods: tuple[tuple[date | None, Rates], ...]
    variants: tuple[Variant, ...] = ()

    def period_at(self, day: date | None) -> tuple[date | None, Rates]:
        """The period in force on ``day``; ``None`` means the newest one."""
        if day is None:
            return self.periods[-1]
        chosen = self.periods[0]
        for start, rates in self.periods:
            if start is None or start <= day:
                chosen = (start, rates)
        return chosen

    def rates_at(
        self, day: date | None, context: Mapping[str, str] | None = None
    ) -> tuple[date | None, Rates]:
        """Standard rates on ``day`` with the variants of ``context`` laid over them."""
        start, rates = self.period_at(day)
        if not context:
            return start, rates
        overrides: dict[str, str] = {}
        for v in self.variants:
            if not all(context.get(k) == value for k, value in v.when):
                continue
            batch = dict(v.when).get("processing") == "batch"
            if v.start is not None and day is not None and day < v.start and not batch:
                continue
            for key, value in v.prices.items():
                overrides.setdefault(key, value)
            if v.start is not None and (start is None or v.start > start):
                start = v.start
        if not overrides:
            return start, rates
        merged = {"input": str(rates.input), "output": str(rates.output)}
        for key in ("cache_read", "cache_write", "cache_write_1h"):
            value = getattr(rates, key)
            if value is not None:
                merged[key] = str(value)
        merged.update({k: v for k, v in overrides.items() if k != "tiered"})
        return start, Rates.parse(merged)

    def has_variant(self, context: Mapping[str, str]) -> bool:
        return any(all(context.get(k) == value for k, value in v.when) for v in self.variants)


def _match(clause: Any, name: str) -> bool:
    """genai-prices' match clauses on a lower-cased name (regexes as written)."""
    if "equals" in clause:
        return name == str(clause["equals"]).lower()
    if "starts_with" in clause:
        return name.startswith(str(clause["starts_with"]).lower())
    if "ends_with" in clause:
        return name.endswith(str(clause["ends_with"]).lower())
    if "contains" in clause:
        return str(clause["contains"]).lower() in name
    if "regex" in clause:
        return re.search(str(clause["regex"]), name) is not None
    if "or" in clause:
        return any(_match(c, name) for c in clause["or"])
    if "and" in clause:
        return all(_match(c, name) for c in clause["and"])
    raise ValueError(f"catalog: unknown match clause {sorted(clause)}")


def _equals(clause: Any) -> list[str]:
    if "equals" in clause:
        return [str(clause["equals"]).lower()]
    if "or" in clause:
        return [n for c in clause["or"] for n in _equals(c)]
    return []


@dataclass(eq=False)
class Catalog:
    """The snapshot, indexed for lookup by name (exact names in a dict; clauses on a miss)."""

    source: str
    version: str
    license: str
    providers: tuple[str, ...]
    _raw: Sequence[Mapping[str, Any]] = field(repr=False)
    _exact: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)
    _models: dict[tuple[int, int], CatalogModel] = field(default_factory=dict, repr=False)
    _found: dict[str, CatalogModel | None] = field(default_factory=dict, repr=False)

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Catalog:
        raw = list(doc["providers"])
        order = {p: i for i, p in enumerate(FIRST_PARTY)}
        ranked = sorted(range(len(raw)), key=lambda i: (order.get(raw[i]["id"], len(order)), i))
        raw = [raw[i] for i in ranked]
        cat = cls(
            source=str(doc.get("source", "")),
            version=str(doc.get("version", "")),
            license=str(doc.get("license", "")),
            providers=tuple(str(p["id"]) for p in raw),
            _raw=raw,
        )
        for pi, provider in enumerate(raw):
            for mi, model in enumerate(provider["models"]):
                for name in (str(model["id"]).lower(), *_equals(model["match"])):
                    cat._exact.setdefault(name, (pi, mi))
        return cat

    @property
    def label(self) -> str:
        return f"{self.source} {self.version}".strip()

    def model(self, pi: int, mi: int) -> CatalogModel:
        key = (pi, mi)
        found = self._models.get(key)
        if found is None:
            provider = self._raw[pi]
            raw = provider["models"][mi]
            periods = tuple(
                (date.fromisoformat(start) if start else None, Rates.parse(prices))
                for start, prices in raw["prices"]
            )
            variants = tuple(
                Variant(
                    tuple(sorted((str(k), str(v)) for k, v in x["when"].items())),
                    date.fromisoformat(x["from"]) if x.get("from") else None,
                    dict(x["prices"]),
                )
                for x in raw.get("variants", ())
            )
            found = CatalogModel(str(provider["id"]), str(raw["id"]), periods, variants)
            self._models[key] = found
        return found

    def find(self, name: str) -> CatalogModel | None:
        """The model ``name`` is billed as, or None; every answer is cached."""
        key = name.strip().lower()
        if key in self._found:
            return self._found[key]
        stripped = _VENDOR.sub("", key)
        found = None
        if stripped != key:  # "openai/gpt-4o": the maker's own entry is the most complete
            maker = self._lookup(stripped)
            found = maker if maker is not None and maker.provider in FIRST_PARTY[:6] else None
        found = found or self._lookup(key) or (self._lookup(stripped) if stripped != key else None)
        self._found[key] = found
        return found

    def _lookup(self, name: str) -> CatalogModel | None:
        if not name:
            return None
        hit = self._exact.get(name)
        if hit is not None:
            return self.model(*hit)
        for pi, provider in enumerate(self._raw):
            claim = provider.get("model_match")
            if claim is None or not _match(claim, name):
                continue
            for scope in (pi, *self._fallbacks(provider)):
                for mi, model in enumerate(self._raw[scope]["models"]):
                    if _match(model["match"], name):
                        return self.model(scope, mi)
        return None

    def _fallbacks(self, provider: Mapping[str, Any]) -> list[int]:
        ids = list(provider.get("fallback", ()))
        return [i for i, p in enumerate(self._raw) if p["id"] in ids]

    def models(self) -> list[CatalogModel]:
        """Every model, providers in lookup order (for listings)."""
        return [self.model(pi, mi) for pi, p in enumerate(self._raw) for mi in range(len(p["models"]))]


@cache
def default_catalog() -> Catalog:
    """The shipped snapshot, read on first use."""
    text = resources.files("quotadesk.data").joinpath("prices/catalog.json").read_text(encoding="utf-8")
    return Catalog.from_document(json.loads(text))
