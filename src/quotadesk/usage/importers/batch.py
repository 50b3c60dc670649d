"""Collecting canonical usage rows from an export: ids, costs, and what could not be costed.

Every importer turns its documents into calls to ``RowBuilder.add`` (usage) or
``CostBuilder.add`` (costs the provider reported); the builders produce pyarrow tables in
the log's schema (``quotadesk.usage.log.SCHEMA`` / ``COST_SCHEMA``).

Costs: a row keeps the cost the export reports when it has one (LiteLLM's ``spend``, the
contract's ``cost``); otherwise the price table costs it (``quotadesk.billing.pricing``),
and a failing request (status >= 400) costs 0, as providers do not bill it. A row whose
model has no price and that reports no cost is **not** written: it is counted per model
in ``unknown`` and the import reports it. Costing it at $0 would hide real spend.

Cache writes (Anthropic): written prompt-cache tokens are uncached input billed at a
premium over the model's input price, 1.25× for the 5-minute cache and 2× for the
1-hour cache (Anthropic's published multipliers). They are stored as ``input_tokens``
and the premium goes into ``cost_nanos``, rounded half-even once per row, like the price
table's own arithmetic.

Ids: the log is idempotent by (org, request_id). A per-request export has its own ids;
a bucketed one gets ``<source>:<sha256 of the bucket's keys>``, the same on every import
of the same bucket. A contract row without an id gets one from its content and its
ordinal among identical rows of the file, so two identical rows stay two rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pyarrow as pa

from quotadesk.billing.pricing import Price, PriceTable, UnknownModelError
from quotadesk.usage.importers.fields import Loc
from quotadesk.usage.log import COLUMNS, COST_SCHEMA, SCHEMA

CACHE_WRITE_5M = Decimal("1.25")
CACHE_WRITE_1H = Decimal("2")
PROGRESS_EVERY = 10_000
MAX_TOKENS = 10**12
"""More tokens than this in one row is a corrupt value, not usage (the records loader's bound)."""


def derived_id(source: str, *parts: object) -> str:
    """A deterministic request id for a row that has none (a bucket, an id-less contract row)."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return f"{source}:{hashlib.sha256(text.encode()).hexdigest()[:32]}"


@dataclass(frozen=True, slots=True)
class UnknownModel:
    """Rows left out because their model has no price and they report no cost."""

    model: str
    rows: int
    requests: int
    first: str

    def to_json(self) -> dict[str, object]:
        return {
            "model": self.model or "(none)",
            "rows": self.rows,
            "requests": self.requests,
            "first": self.first,
        }


@dataclass(frozen=True, eq=False)
class ImportBatch:
    """What an importer read from its files, ready for the log.

    ``usage`` has the log's ``SCHEMA`` and ``costs`` its ``COST_SCHEMA`` (empty for a usage
    export); ``rows_read`` counts source rows (results, lines) seen; ``unknown`` lists the
    models that could not be costed; ``empty`` counts source rows with no requests and no
    tokens (skipped); ``notes`` say what an export cannot show (no request counts, no
    fingerprints, an unfinished pagination).
    """

    fmt: str
    files: tuple[str, ...]
    usage: pa.Table
    costs: pa.Table
    rows_read: int
    unknown: tuple[UnknownModel, ...] = ()
    empty: int = 0
    notes: tuple[str, ...] = ()


class RowBuilder:
    """Accumulates usage rows column by column (an import can hold millions)."""

    def __init__(self, source: str, prices: PriceTable) -> None:
        self.source = source
        self.prices = prices
        self.read = 0
        self.on_progress: Callable[[int], None] | None = None
        self.empty = 0
        self.notes: list[str] = []
        self._cols: dict[str, list[object]] = {name: [] for name in COLUMNS}
        self._price: dict[str, Price | None] = {}
        self._rates: dict[str, tuple[int, int, int] | None] = {}
        self._unknown: dict[str, tuple[int, int, str]] = {}
        self._ordinals: dict[str, int] = {}

    def seen(self) -> None:
        """Count one source row (a result, a line); reports progress every ``PROGRESS_EVERY`` rows."""
        self.read += 1
        if self.on_progress is not None and self.read % PROGRESS_EVERY == 0:
            self.on_progress(self.read)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def ordinal_id(self, *parts: object) -> str:
        """An id from ``parts`` plus how many identical rows came before in this import."""
        base = derived_id(self.source, *parts)
        n = self._ordinals.get(base, 0)
        self._ordinals[base] = n + 1
        return base if n == 0 else derived_id(self.source, base, n)

    def add(
        self,
        loc: Loc,
        *,
        ts: datetime,
        request_id: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cached_tokens: int = 0,
        requests: int = 1,
        status: int = 200,
        cost_nanos: int | None = None,
        key_id: str = "",
        environment: str = "",
        fingerprint: str = "",
        ip: str = "",
        write_5m: int = 0,
        write_1h: int = 0,
        price_factor: Decimal | None = None,
    ) -> bool:
        """Add one row (``input_tokens`` uncached, cache writes excluded); False if not costable.

        ``price_factor`` scales the list price (OpenAI's Batch API bills half of it).
        """
        for name, value in (
            ("input_tokens", input_tokens),
            ("output_tokens", output_tokens),
            ("cached_tokens", cached_tokens),
            ("cache_creation_input_tokens", write_5m + write_1h),
        ):
            if value > MAX_TOKENS:
                raise loc.error(f"{name}: implausibly large ({value})")
        if requests < 1:
            raise loc.error(f"requests: must be at least 1 (got {requests})")
        if not 100 <= status <= 599:
            raise loc.error(f"status: not an HTTP status ({status})")
        if cost_nanos is None:
            cost_nanos = (
                0
                if status >= 400
                else self._cost(
                    model, input_tokens, output_tokens, cached_tokens, write_5m, write_1h, price_factor
                )
            )
            if cost_nanos is None:
                rows, reqs, first = self._unknown.get(model, (0, 0, str(loc)))
                self._unknown[model] = (rows + 1, reqs + requests, first)
                return False
        cols = self._cols
        cols["ts"].append(ts)
        cols["request_id"].append(request_id)
        cols["key_id"].append(key_id)
        cols["environment"].append(environment)
        cols["model"].append(model)
        cols["input_tokens"].append(input_tokens + write_5m + write_1h)
        cols["output_tokens"].append(output_tokens)
        cols["cached_tokens"].append(cached_tokens)
        cols["requests"].append(requests)
        cols["status"].append(status)
        cols["cost_nanos"].append(cost_nanos)
        cols["fingerprint"].append(fingerprint)
        cols["ip"].append(ip)
        return True

    def _cost(
        self,
        model: str,
        uncached: int,
        output: int,
        cached: int,
        write_5m: int,
        write_1h: int,
        factor: Decimal | None,
    ) -> int | None:
        if model not in self._price:
            self._learn(model)
        price = self._price[model]
        if price is None:
            return None
        if not write_5m and not write_1h and factor is None:
            rates = self._rates[model]
            if rates is not None:  # whole nano-dollars per token: the same exact sum, without Decimal
                return uncached * rates[0] + output * rates[1] + cached * rates[2]
            return price.cost_nanos(uncached, output, cached)
        with localcontext() as ctx:
            ctx.prec = 60
            total = (
                uncached * price.input_per_mtok
                + output * price.output_per_mtok
                + cached * price.cached_input_per_mtok
                + write_5m * price.input_per_mtok * CACHE_WRITE_5M
                + write_1h * price.input_per_mtok * CACHE_WRITE_1H
            ) * 1000  # $ per 1M tokens -> nano-dollars per token
            if factor is not None:
                total *= factor
            return int(total.to_integral_value(rounding=ROUND_HALF_EVEN))

    def _learn(self, model: str) -> None:
        try:
            price = self.prices.get(model) if model else None
        except UnknownModelError:
            price = None
        self._price[model] = price
        self._rates[model] = None
        if price is not None:
            per_token = [
                p * 1000 for p in (price.input_per_mtok, price.output_per_mtok, price.cached_input_per_mtok)
            ]
            if all(v == v.to_integral_value() for v in per_token):
                self._rates[model] = (int(per_token[0]), int(per_token[1]), int(per_token[2]))

    @property
    def unknown(self) -> tuple[UnknownModel, ...]:
        out = [UnknownModel(m, rows, reqs, first) for m, (rows, reqs, first) in self._unknown.items()]
        return tuple(sorted(out, key=lambda u: (-u.rows, u.model)))

    def table(self) -> pa.Table:
        return pa.table(
            {name: pa.array(self._cols[name], type=SCHEMA.field(name).type) for name in COLUMNS},
            schema=SCHEMA,
        )


class CostBuilder:
    """Accumulates costs a provider reported (one row per bucket × group)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._rows: list[dict[str, object]] = []
        self._ordinals: dict[str, int] = {}

    def add(
        self,
        *,
        ts: datetime,
        end: datetime,
        amount_nanos: int,
        id_parts: Sequence[object],
        project: str = "",
        line_item: str = "",
        model: str = "",
        cost_type: str = "",
        token_type: str = "",
    ) -> None:
        base = derived_id(self.source, *id_parts)
        n = self._ordinals.get(base, 0)
        self._ordinals[base] = n + 1
        self._rows.append(
            {
                "ts": ts,
                "end": end,
                "request_id": base if n == 0 else derived_id(self.source, base, n),
                "source": self.source,
                "amount_nanos": amount_nanos,
                "project": project,
                "line_item": line_item,
                "model": model,
                "cost_type": cost_type,
                "token_type": token_type,
            }
        )

    def table(self) -> pa.Table:
        return pa.Table.from_pylist(self._rows, schema=COST_SCHEMA)


def empty_costs() -> pa.Table:
    return COST_SCHEMA.empty_table()
