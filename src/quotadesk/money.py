"""Exact money: Decimal US dollars at the edges, integer nano-dollars in storage.

Why nano-dollars: token prices are quoted per million tokens with up to four decimals
(``$0.075`` per 1M cached tokens is ``$0.000000075`` per token), so one token of the
cheapest model costs a whole number of nano-dollars. An int64 of nano-dollars holds
about $9.2 billion, far beyond any organization's month. Floats never enter: a float
given where money is expected is an error, not a silent rounding.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from quotadesk.parse import ParseError, money

NANOS_PER_DOLLAR = 1_000_000_000
ZERO = Decimal(0)
CENT = Decimal("0.01")
NANO = Decimal("0.000000001")


MoneyError = ParseError
"""A value that cannot be money (``quotadesk.parse``: a float, NaN, exponent, junk, too many digits)."""


def dollars(value: object, field: str | None = None, *, allow_negative: bool = True) -> Decimal:
    """Parse US dollars by the one money rule (``quotadesk.parse.money``).

    A float is refused on purpose: ``0.1`` has no exact binary form, and money that was a
    float once has already lost cents somewhere.
    """
    return money(value, field, negative=allow_negative)


def to_nanos(amount: Decimal) -> int:
    """Exact conversion of dollars to integer nano-dollars; refuses anything finer."""
    scaled = amount * NANOS_PER_DOLLAR
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"finer than a nano-dollar: {amount}")
    return int(scaled)


def from_nanos(nanos: int) -> Decimal:
    """Exact conversion of integer nano-dollars to dollars."""
    if isinstance(nanos, bool) or not isinstance(nanos, int):
        raise MoneyError(f"nano-dollars must be an int, got {type(nanos).__name__}")
    return (Decimal(nanos) / NANOS_PER_DOLLAR).quantize(NANO)


def nanos(value: object, field: str | None = None, *, allow_negative: bool = True) -> int:
    """Parse dollars (string/int/Decimal) straight to nano-dollars."""
    return to_nanos(dollars(value, field, allow_negative=allow_negative))


def fmt(amount: Decimal | int, *, places: int = 2) -> str:
    """Display dollars as ``$1,234.56``; ints are taken as nano-dollars.

    Amounts under a cent that are not zero keep their significant digits, so a
    ``$0.0042`` request is not shown as ``$0.00``.
    """
    d = from_nanos(amount) if isinstance(amount, int) and not isinstance(amount, bool) else Decimal(amount)
    sign = "-" if d < 0 else ""
    d = abs(d)
    if d != 0 and d < CENT:
        text = format(d.normalize(), "f")
        return f"{sign}${text}"
    q = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return f"{sign}${q:,.{places}f}"


def plain(amount: Decimal | int, *, places: int = 2) -> str:
    """Display as a bare decimal string with fixed places (``1234.50``), as the contract spells money."""
    d = from_nanos(amount) if isinstance(amount, int) and not isinstance(amount, bool) else Decimal(amount)
    return f"{d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN):.{places}f}"
