"""Collecting canonical usage rows from an export: ids, costs, and what could not be costed.

Every importer turns its documents into calls to ``RowBuilder.add`` (usage) or
``CostBuilder.add`` (costs the provider reported); the builders produce pyarrow tables in
the log's schema (``quotadesk.usage.log.SCHEMA`` / ``COST_SCHEMA``).

Costs: a row keeps the cost the export reports when it has one (LiteLLM's ``spend``, the
contract's ``cost``); otherwise the price table costs it (``quotadesk.billing.pricing``),
and a failing request (status >= 400) costs 0, as providers do not bill it. A row whose
model has no price and that reports no cost is **not** written to the usage rows: it goes, with its
volume, tokens and request count, to the log's ``unpriced`` rows (``UNPRICED_SCHEMA``),
is counted per model in ``unknown`` and the import reports it. Costing it at $0 would
hide real spend; dropping it would hide real traffic (an OpenAI export not grouped by
model has no model at all).

Prices are those in force on each row's own day (``PriceTable.get(model, at=ts)``), for
its context: a batch row at the batch price, a ``flex`` or ``priority`` row at that
tier's price.

Cache writes: written prompt-cache tokens are uncached input billed at the model's
cache-write price. Without a published one, a plain write (OpenAI's
``input_cache_write_tokens``) costs the input price and Anthropic's 5-minute and 1-hour
writes 1.25× and 2× the input price (Anthropic's published multipliers). They are stored
as ``input_tokens`` and the premium goes into ``cost_nanos``, rounded half-even once per
row, like the price table's own arithmetic.

Ids: the log is idempotent by (org, request_id). A per-request export has its own ids;
a bucketed one gets ``<source>:<sha256 of the bucket's keys>``, the same on every import
of the same bucket. A contract row without an id gets one from its content and its
ordinal among identical rows of the file, so two identical rows stay two rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import pyarrow as pa

from quotadesk.billing.pricing import CACHE_WRITE_1H, CACHE_WRITE_5M, Price, PriceTable, UnknownModelError
from quotadesk.usage.dedupe import Seen
from quotadesk.usage.importers.fields import Loc
from quotadesk.usage.log import COLUMNS, COST_SCHEMA, SCHEMA, UNPRICED_COLUMNS, UNPRICED_SCHEMA

__all__ = ["CACHE_WRITE_1H", "CACHE_WRITE_5M", "CostBuilder", "ImportBatch", "RowBuilder", "derived_id"]
PROGRESS_EVERY = 10_000
MAX_TOKENS = 10**12
"""More tokens than this in one row is a corrupt value, not usage (the records loader's bound)."""


def derived_id(source: str, *parts: object) -> str:
    """A deterministic request id for a row that has none (a bucket, an id-less contract row)."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return f"{source}:{hashlib.sha256(text.encode()).hexdigest()[:32]}"


@dataclass(frozen=True, slots=True)
class UnknownModel:
    """Rows not costed because their model has no price (or no model) and they report no cost."""

    model: str
    rows: int
    requests: int
    first: str
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reason: str = "no price"

    def to_json(self) -> dict[str, object]:
        return {
            "model": self.model or "(none)",
            "reason": self.reason,
            "rows": self.rows,
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "first": self.first,
        }


@dataclass(frozen=True, eq=False)
class ImportBatch:
    """What an importer read from its files, ready for the log.

    ``usage`` has the log's ``SCHEMA`` and ``costs`` its ``COST_SCHEMA`` (empty for a usage
    export); ``unpriced`` holds the rows that could not be costed (``UNPRICED_SCHEMA``);
    ``rows_read`` counts source rows (results, lines) seen; ``unknown`` lists, per model,
    what could not be costed; ``empty`` counts source rows with no requests and no
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
    unpriced: pa.Table | None = None
    detected: str = ""


@dataclass(slots=True)
class _Tally:
    first: str
    rows: int = 0
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


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
        self._free: dict[str, list[object]] = {name: [] for name in UNPRICED_COLUMNS}
        self._price: dict[tuple[str, date, bool, str, str], Price | None] = {}
        self._rates: dict[tuple[str, date, bool, str, str], tuple[int, int, int] | None] = {}
        self._unknown: dict[tuple[str, str], _Tally] = {}
        self._ordinals: dict[str, int] = {}
        self.events = Seen()
        """One event per request id (``quotadesk.usage.dedupe``): identical repeats collapse."""

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
        cache_write: int = 0,
        batch: bool = False,
        service_tier: str = "",
        speed: str = "",
        unpriced_reason: str = "",
    ) -> bool:
        """Add one row (``input_tokens`` uncached, cache writes excluded); False if not costable.

        ``batch``/``service_tier`` select the price variant (a Batch API row at the batch
        price). ``unpriced_reason`` says why a row cannot be priced at all (an export not
        grouped by model); such a row goes to the unpriced rows with that reason.
        """
        content = (
            ts, model, input_tokens, output_tokens, cached_tokens, requests, status, cost_nanos, key_id,
            environment, fingerprint, ip, write_5m, write_1h, cache_write, batch, service_tier, speed,
        )  # fmt: skip
        if not self.events.fresh(request_id, content, str(loc)):
            return True
        writes = write_5m + write_1h + cache_write
        for name, value in (
            ("input_tokens", input_tokens),
            ("output_tokens", output_tokens),
            ("cached_tokens", cached_tokens),
            ("cache_creation_input_tokens", writes),
        ):
            if value > MAX_TOKENS:
                raise loc.error(f"{name}: implausibly large ({value})")
        if requests < 1:
            raise loc.error(f"requests: must be at least 1 (got {requests})")
        if not 100 <= status <= 599:
            raise loc.error(f"status: not an HTTP status ({status})")
        if cost_nanos is None:
            if status >= 400:
                cost_nanos = 0
            elif not unpriced_reason:
                cost_nanos = self._cost(
                    model, ts, input_tokens, output_tokens, cached_tokens,
                    (cache_write, write_5m, write_1h), batch, service_tier, speed,
                )  # fmt: skip
            if cost_nanos is None:
                reason = unpriced_reason or ("no model" if not model else "no price")
                self._keep_unpriced(
                    loc, reason, ts=ts, request_id=request_id, key_id=key_id, environment=environment,
                    model=model, input_tokens=input_tokens + writes, output_tokens=output_tokens,
                    cached_tokens=cached_tokens, requests=requests, status=status,
                    fingerprint=fingerprint, ip=ip,
                )  # fmt: skip
                return False
        cols = self._cols
        cols["ts"].append(ts)
        cols["request_id"].append(request_id)
        cols["key_id"].append(key_id)
        cols["environment"].append(environment)
        cols["model"].append(model)
        cols["input_tokens"].append(input_tokens + writes)
        cols["output_tokens"].append(output_tokens)
        cols["cached_tokens"].append(cached_tokens)
        cols["requests"].append(requests)
        cols["status"].append(status)
        cols["cost_nanos"].append(cost_nanos)
        cols["fingerprint"].append(fingerprint)
        cols["ip"].append(ip)
        return True

    def _keep_unpriced(self, loc: Loc, reason: str, **row: object) -> None:
        for name in UNPRICED_COLUMNS:
            self._free[name].append(reason if name == "reason" else row[name])
        tally = self._unknown.setdefault((str(row["model"]), reason), _Tally(str(loc)))
        tally.rows += 1
        tally.requests += _int(row["requests"])
        tally.input_tokens += _int(row["input_tokens"])
        tally.output_tokens += _int(row["output_tokens"])
        tally.cached_tokens += _int(row["cached_tokens"])

    def _cost(
        self,
        model: str,
        ts: datetime,
        uncached: int,
        output: int,
        cached: int,
        writes: tuple[int, int, int],
        batch: bool,
        tier: str,
        speed: str,
    ) -> int | None:
        key: tuple[str, date, bool, str, str] = (model, ts.date(), batch, tier, speed)
        if key not in self._price:
            self._learn(key)
        price = self._price[key]
        if price is None:
            return None
        if not any(writes):
            rates = self._rates[key]
            if rates is not None:  # whole nano-dollars per token: the same exact sum, without Decimal
                return uncached * rates[0] + output * rates[1] + cached * rates[2]
        return price.cost_nanos(
            uncached, output, cached, cache_write_tokens=writes[0], write_5m=writes[1], write_1h=writes[2]
        )

    def _learn(self, key: tuple[str, date, bool, str, str]) -> None:
        model, day, batch, tier, speed = key
        try:
            price = (
                self.prices.get(model, day, batch=batch, service_tier=tier, speed=speed) if model else None
            )
        except UnknownModelError:
            price = None
        self._price[key] = price
        self._rates[key] = price.whole_rates() if price is not None else None

    @property
    def unknown(self) -> tuple[UnknownModel, ...]:
        out = [
            UnknownModel(
                m, t.rows, t.requests, t.first, t.input_tokens, t.output_tokens, t.cached_tokens, reason
            )
            for (m, reason), t in self._unknown.items()
        ]
        return tuple(sorted(out, key=lambda u: (-u.rows, u.model)))

    def unpriced_table(self) -> pa.Table:
        return pa.table(
            {n: pa.array(self._free[n], type=UNPRICED_SCHEMA.field(n).type) for n in UNPRICED_COLUMNS},
            schema=UNPRICED_SCHEMA,
        )

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
