"""Split a change in cost between two periods exactly into volume, tokens per request and mix.

Each cell (key × model) costs ``R · T_c · Q_c`` where ``R`` is the account's total number
of requests, ``T_c`` the cell's tokens per request and ``Q_c = s_c · P_c`` its share of
the requests times its cost per token (the price mix: which models, and what each token
costs). The change of each cell's cost is split among the three factors with the
Shapley value of a product of three — the average of the change each factor makes when
it moves first, second or last — so there is no residual and no order bias:

    φ_R = ΔR·(2·T₀Q₀ + 2·T₁Q₁ + T₀Q₁ + T₁Q₀)/6   (and likewise for T and Q)

All of it is exact in fractions; each cell's three parts are then rounded to integer
nano-dollars by largest remainder so that they add up to the cell's change exactly, and
the totals are sums of cells, so ``volume + tokens_per_request + price_mix == change``.

Requests and tokens are those of billed (successful, status < 400) requests: failed
calls cost nothing, and counting them would show a retry storm as "more volume, cheaper
tokens". Any cost a failed call did carry stays in its cell's cost (as price).

A cell present in one period only (a new model, a retired key) keeps its tokens per
request and price per token from the period it exists in, so all its change is volume
and mix — a model swap shows as mix, not as a fall and rise of tokens. A cell with
requests but no tokens (per-request pricing, failed calls) is measured per request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

from quotadesk.usage.periods import Period, as_period

COMPONENTS = ("volume", "tokens_per_request", "price_mix")


@dataclass(frozen=True, slots=True)
class Cell:
    """One key × model in one period: requests, tokens (input + output + cached) and cost."""

    key_id: str
    model: str
    requests: int
    tokens: int
    cost_nanos: int


@dataclass(frozen=True, slots=True)
class Part:
    """The change of one key × model, split: the three components add up to ``change_nanos``."""

    key_id: str
    model: str
    before_nanos: int
    after_nanos: int
    volume_nanos: int
    tokens_per_request_nanos: int
    price_mix_nanos: int

    @property
    def change_nanos(self) -> int:
        return self.after_nanos - self.before_nanos


@dataclass(frozen=True, slots=True)
class Totals:
    """The three components summed over some cells (a model, a key, or everything)."""

    before_nanos: int = 0
    after_nanos: int = 0
    volume_nanos: int = 0
    tokens_per_request_nanos: int = 0
    price_mix_nanos: int = 0

    @property
    def change_nanos(self) -> int:
        return self.after_nanos - self.before_nanos

    def plus(self, p: Part) -> Totals:
        return Totals(
            self.before_nanos + p.before_nanos,
            self.after_nanos + p.after_nanos,
            self.volume_nanos + p.volume_nanos,
            self.tokens_per_request_nanos + p.tokens_per_request_nanos,
            self.price_mix_nanos + p.price_mix_nanos,
        )


@dataclass(frozen=True, slots=True)
class Decomposition:
    """Why the cost changed from ``against`` to ``period``, to the nano-dollar.

    ``volume_nanos + tokens_per_request_nanos + price_mix_nanos == change_nanos`` always;
    ``parts`` splits the same way per key × model (largest change first), ``by_model``
    and ``by_key`` sum the parts. ``requests_before/after`` and ``tokens_before/after``
    are the account totals behind the volume and tokens-per-request factors.
    """

    period: Period
    against: Period
    before_nanos: int
    after_nanos: int
    volume_nanos: int
    tokens_per_request_nanos: int
    price_mix_nanos: int
    requests_before: int = 0
    requests_after: int = 0
    tokens_before: int = 0
    tokens_after: int = 0
    parts: tuple[Part, ...] = ()
    by_model: Mapping[str, Totals] = field(default_factory=dict)
    by_key: Mapping[str, Totals] = field(default_factory=dict)

    @property
    def change_nanos(self) -> int:
        return self.after_nanos - self.before_nanos

    def share(self, nanos: int) -> Decimal | None:
        """``nanos`` as a percentage of the change (one decimal), None when nothing changed."""
        if self.change_nanos == 0:
            return None
        return (Decimal(nanos) * 100 / Decimal(self.change_nanos)).quantize(Decimal("0.1"), ROUND_HALF_EVEN)

    def top_driver(self) -> tuple[str, str, Part] | None:
        """The component and cell that moved the cost most in the direction of the change.

        Returns ``(component, label, part)`` with component one of ``COMPONENTS``, e.g.
        ``("price_mix", "claude-sonnet", part)`` for a switch to claude-sonnet.
        """
        sign = 1 if self.change_nanos >= 0 else -1
        best: tuple[int, str, Part] | None = None
        for p in self.parts:
            for name, value in zip(
                COMPONENTS, (p.volume_nanos, p.tokens_per_request_nanos, p.price_mix_nanos), strict=True
            ):
                if best is None or value * sign > best[0]:
                    best = (value * sign, name, p)
        if best is None or best[0] <= 0:
            return None
        return best[1], best[2].model, best[2]


def decompose(data: Any, period: Period | str, against: Period | str) -> Decomposition:
    """Decompose the change of cost from ``against`` to ``period`` over a loaded usage log.

    ``data`` is a ``UsageData``; periods are ``Period`` values or text (``"2026-10"``).
    """
    after_p, before_p = as_period(period), as_period(against)
    before, after = _cells(data, before_p, after_p)
    return decompose_cells(before, after, after_p, before_p)


def _cells(data: Any, before: Period, after: Period) -> tuple[list[Cell], list[Cell]]:
    """Cells of both periods in one pass over the log."""
    import ibis

    if data.table is None:
        return [], []
    t = data.table
    ok = t.status < 400
    in_before = (t.ts >= before.start) & (t.ts < before.end)
    in_after = (t.ts >= after.start) & (t.ts < after.end)
    rows = data.fetch(
        t.filter(in_before | in_after)
        .mutate(side_after=in_after, side_before=in_before)
        .group_by(["side_before", "side_after", "key_id", "model"])
        .aggregate(
            requests=ibis.ifelse(ok, t.requests, 0).sum(),
            tokens=ibis.ifelse(ok, t.input_tokens + t.output_tokens + t.cached_tokens, 0).sum(),
            cost=t.cost_nanos.sum(),
        )
    ).dicts()
    out: tuple[list[Cell], list[Cell]] = ([], [])
    for r in rows:
        cell = Cell(r["key_id"], r["model"], int(r["requests"]), int(r["tokens"]), int(r["cost"]))
        if r["side_before"]:
            out[0].append(cell)
        if r["side_after"]:
            out[1].append(cell)
    return out


def decompose_cells(
    before: Sequence[Cell], after: Sequence[Cell], period: Period, against: Period
) -> Decomposition:
    """The exact decomposition from cell totals (the pure core of ``decompose``)."""
    b = _merge(before)
    a = _merge(after)
    r0 = sum(c.requests for c in b.values())
    r1 = sum(c.requests for c in a.values())
    parts: list[Part] = []
    for key in sorted(set(b) | set(a)):
        c0, c1 = b.get(key), a.get(key)
        parts.append(_split(key, c0, c1, r0, r1))
    parts.sort(key=lambda p: (-abs(p.change_nanos), p.key_id, p.model))
    total = Totals()
    by_model: dict[str, Totals] = {}
    by_key: dict[str, Totals] = {}
    for p in parts:
        total = total.plus(p)
        by_model[p.model] = by_model.get(p.model, Totals()).plus(p)
        by_key[p.key_id] = by_key.get(p.key_id, Totals()).plus(p)
    return Decomposition(
        period=period,
        against=against,
        before_nanos=total.before_nanos,
        after_nanos=total.after_nanos,
        volume_nanos=total.volume_nanos,
        tokens_per_request_nanos=total.tokens_per_request_nanos,
        price_mix_nanos=total.price_mix_nanos,
        requests_before=r0,
        requests_after=r1,
        tokens_before=sum(c.tokens for c in b.values()),
        tokens_after=sum(c.tokens for c in a.values()),
        parts=tuple(parts),
        by_model=by_model,
        by_key=by_key,
    )


def _merge(cells: Sequence[Cell]) -> dict[tuple[str, str], Cell]:
    out: dict[tuple[str, str], Cell] = {}
    for c in cells:
        k = (c.key_id, c.model)
        if k in out:
            o = out[k]
            out[k] = Cell(
                c.key_id, c.model, o.requests + c.requests, o.tokens + c.tokens, o.cost_nanos + c.cost_nanos
            )
        else:
            out[k] = c
    return out


def _factors(c: Cell | None, total_requests: int, per_request: bool) -> tuple[Fraction, Fraction] | None:
    """(tokens per request, share × cost per token) of a cell, None when it has no requests."""
    if c is None or c.requests == 0 or total_requests == 0:
        return None
    share = Fraction(c.requests, total_requests)
    if per_request:
        return Fraction(1), share * Fraction(c.cost_nanos, c.requests)
    return Fraction(c.tokens, c.requests), share * Fraction(c.cost_nanos, c.tokens)


def _split(key: tuple[str, str], c0: Cell | None, c1: Cell | None, r0: int, r1: int) -> Part:
    cost0 = c0.cost_nanos if c0 else 0
    cost1 = c1.cost_nanos if c1 else 0
    per_request = any(c is not None and c.requests > 0 and c.tokens == 0 for c in (c0, c1))
    f0 = _factors(c0, r0, per_request)
    f1 = _factors(c1, r1, per_request)
    one = (Fraction(1), Fraction(0))
    # A side without requests borrows the other side's tokens per request with no share of
    # the requests; if the whole account had none, it borrows the mix too, so a new account
    # is all volume rather than half volume, half mix.
    t0, q0 = f0 or ((f1[0], f1[1] if r0 == 0 else Fraction(0)) if f1 else one)
    t1, q1 = f1 or ((f0[0], f0[1] if r1 == 0 else Fraction(0)) if f0 else one)
    a0, a1 = Fraction(r0), Fraction(r1)
    da, dt, dq = a1 - a0, t1 - t0, q1 - q0
    phi_a = da * (2 * t0 * q0 + 2 * t1 * q1 + t0 * q1 + t1 * q0) / 6
    phi_t = dt * (2 * a0 * q0 + 2 * a1 * q1 + a0 * q1 + a1 * q0) / 6
    phi_q = dq * (2 * a0 * t0 + 2 * a1 * t1 + a0 * t1 + a1 * t0) / 6
    # The factors reproduce each side's cost exactly whenever it has requests; any cost on
    # a side without requests (an adjustment row) is price, not volume.
    phi_q += (cost1 - cost0) - (a1 * t1 * q1 - a0 * t0 * q0)
    v, t, q = _round_exact((phi_a, phi_t, phi_q), cost1 - cost0)
    return Part(key[0], key[1], cost0, cost1, v, t, q)


def _round_exact(values: tuple[Fraction, Fraction, Fraction], total: int) -> tuple[int, int, int]:
    """Integers, each within 1 of its value, that add up to ``total`` (largest remainder)."""
    if sum(values) != total:
        raise ArithmeticError(f"decomposition does not add up: {sum(values)} != {total}")
    floors = [v.numerator // v.denominator for v in values]
    left = total - sum(floors)
    order = sorted(range(3), key=lambda i: (-(values[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return floors[0], floors[1], floors[2]
