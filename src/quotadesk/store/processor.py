"""Payments go through a processor interface; the built-in one follows Stripe's test cards.

The books never see a card number after ``attach``: they keep the processor's token, the
brand, the last four digits and the expiry. A charge returns a result rather than raising
for an ordinary decline, because a decline is business as usual (a failed payment, a
notice), while an unreadable card at attach time is bad input (``PaymentError``).

``TestProcessor`` is stateless: the token names the card's behaviour and expiry, so any
process (a gateway worker, a test's child process) charges the same way without shared
memory. Cards, as Stripe documents them for test mode:

    4242424242424242  visa        attaches, every charge succeeds
    5555555555554444  mastercard  attaches, every charge succeeds
    378282246310005   amex        attaches, every charge succeeds
    4000000000000002  visa        attach declined: card_declined
    4000000000009995  visa        attach declined: insufficient_funds
    4000000000000069  visa        attach declined: expired_card
    4000000000000119  visa        attach fails: processing_error
    4000000000000341  visa        attaches, then every charge fails: card_declined

A card also fails with ``expired_card`` when charged after its expiry month, so an expired
card on file (the runbook's most common payment failure) happens for real.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from quotadesk.errors import InputError
from quotadesk.store.errors import PaymentError


@dataclass(frozen=True, slots=True)
class AttachedCard:
    """What the books keep of a card: the processor's token, brand, last4 and expiry."""

    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True, slots=True)
class ChargeResult:
    """A finished charge: succeeded, or failed with a Stripe-style ``failure_code``."""

    succeeded: bool
    reference: str
    failure_code: str | None = None


class Processor(Protocol):
    """A payment processor: turn a card into a token, charge a token."""

    def attach(self, card_number: str, exp_month: int, exp_year: int, now: datetime) -> AttachedCard:
        """Validate and tokenize a card; ``PaymentError`` when the processor refuses it."""
        ...

    def charge(self, token: str, amount: int, *, idempotency_key: str, now: datetime) -> ChargeResult:
        """Charge ``amount`` nano-dollars; the same ``idempotency_key`` never charges twice."""
        ...


@dataclass(frozen=True, slots=True)
class _TestCard:
    brand: str
    attach_failure: str | None = None
    charge_failure: str | None = None


TEST_CARDS: dict[str, _TestCard] = {
    "4242424242424242": _TestCard("visa"),
    "5555555555554444": _TestCard("mastercard"),
    "378282246310005": _TestCard("amex"),
    "4000000000000002": _TestCard("visa", attach_failure="card_declined"),
    "4000000000009995": _TestCard("visa", attach_failure="insufficient_funds"),
    "4000000000000069": _TestCard("visa", attach_failure="expired_card"),
    "4000000000000119": _TestCard("visa", attach_failure="processing_error"),
    "4000000000000341": _TestCard("visa", charge_failure="card_declined"),
}

_MESSAGES = {
    "card_declined": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
    "processing_error": "An error occurred while processing your card. Try again in a little bit.",
}


def luhn_ok(number: str) -> bool:
    """The card-number checksum every real and test card passes."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def normalize_card_number(card_number: str) -> str:
    digits = card_number.replace(" ", "").replace("-", "")
    if not digits.isdigit() or not 12 <= len(digits) <= 19 or not luhn_ok(digits):
        raise PaymentError("incorrect card number", "card_number", code="incorrect_number")
    return digits


def check_expiry(exp_month: int, exp_year: int) -> None:
    if isinstance(exp_month, bool) or not isinstance(exp_month, int) or not 1 <= exp_month <= 12:
        raise InputError(f"expected a month 1-12, got {exp_month!r}", "exp_month")
    if isinstance(exp_year, bool) or not isinstance(exp_year, int) or not 2000 <= exp_year <= 2100:
        raise InputError(f"expected a four-digit year, got {exp_year!r}", "exp_year")


def expired(exp_month: int, exp_year: int, now: datetime) -> bool:
    """A card is good through the last day of its expiry month."""
    return (exp_year, exp_month) < (now.year, now.month)


class TestProcessor:
    """Stripe's test-mode cards, without a network: see the module docstring."""

    __test__ = False  # not a pytest test class, despite the name

    def attach(self, card_number: str, exp_month: int, exp_year: int, now: datetime) -> AttachedCard:
        digits = normalize_card_number(card_number)
        check_expiry(exp_month, exp_year)
        card = TEST_CARDS.get(digits)
        if card is None:
            raise PaymentError(
                "not a test card: the test processor accepts only Stripe's documented test numbers",
                "card_number",
                code="card_declined",
            )
        if card.attach_failure is not None:
            raise PaymentError(_MESSAGES[card.attach_failure], "card_number", code=card.attach_failure)
        if expired(exp_month, exp_year, now):
            raise PaymentError(_MESSAGES["expired_card"], "exp_year", code="expired_card")
        behaviour = "fail" if card.charge_failure else "ok"
        stamp = f"{exp_year:04d}{exp_month:02d}"
        token = f"tok_test_{behaviour}_{card.brand}_{digits[-4:]}_{stamp}_{secrets.token_hex(4)}"
        return AttachedCard(token, card.brand, digits[-4:], exp_month, exp_year)

    def charge(self, token: str, amount: int, *, idempotency_key: str, now: datetime) -> ChargeResult:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise InputError(f"must be positive nano-dollars, got {amount!r}", "amount")
        parts = token.split("_")
        if len(parts) != 7 or parts[:2] != ["tok", "test"] or parts[2] not in ("ok", "fail"):
            raise PaymentError(f"unknown payment token {token!r}", "payment_method", code="processing_error")
        reference = "ch_test_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        stamp = parts[5]
        if expired(int(stamp[4:]), int(stamp[:4]), now):
            return ChargeResult(False, reference, "expired_card")
        if parts[2] == "fail":
            return ChargeResult(False, reference, "card_declined")
        return ChargeResult(True, reference)
