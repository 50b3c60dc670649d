"""A real Stripe processor beside the test processor, for top-ups and auto-recharge; off unless
``stripe_api_key`` is set.

With Stripe the card never reaches the desk: the customer adds it in Stripe (Checkout or
Elements) and it arrives through ``payment_method.attached``, so ``attach`` refuses a raw card
number. ``charge`` confirms an off-session PaymentIntent for the card's customer with our
payment id as Stripe's idempotency key and in ``metadata.quotadesk_payment``, so a retried
charge is charged once and the webhooks about it land on the same payment. A decline is a
``ChargeResult`` with the contract's failure code (an ordinary failed payment), not an error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import stripe

from quotadesk.connectors.stripe_events import NANOS_PER_CENT, contract_code
from quotadesk.errors import InputError
from quotadesk.store.errors import PaymentError
from quotadesk.store.processor import AttachedCard, ChargeResult


class StripeProcessor:
    """``Processor`` over Stripe's API (``client``: a ``stripe.StripeClient``; tests pass a fake)."""

    def __init__(self, api_key: str = "", *, client: Any = None, timeout: float = 20.0) -> None:
        if client is None:
            client = stripe.StripeClient(
                api_key, http_client=stripe.HTTPXClient(timeout=timeout), max_network_retries=2
            )
        self.client = client

    def attach(self, card_number: str, exp_month: int, exp_year: int, now: datetime) -> AttachedCard:
        raise PaymentError(
            "with Stripe, the customer adds cards in Stripe (Checkout or Elements); the card reaches the"
            " books through the payment_method.attached webhook",
            "card_number",
            code="processing_error",
        )

    def charge(self, token: str, amount: int, *, idempotency_key: str, now: datetime) -> ChargeResult:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise InputError(f"must be positive nano-dollars, got {amount!r}", "amount")
        if amount % NANOS_PER_CENT:
            raise InputError("Stripe charges whole cents", "amount")
        try:
            method = self.client.v1.payment_methods.retrieve(token)
            intent = self.client.v1.payment_intents.create(
                params={
                    "amount": amount // NANOS_PER_CENT,
                    "currency": "usd",
                    "customer": method.customer,
                    "payment_method": token,
                    "off_session": True,
                    "confirm": True,
                    "metadata": {"quotadesk_payment": idempotency_key},
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.CardError as exc:
            error = exc.error
            intent_id = getattr(getattr(error, "payment_intent", None), "id", None) if error else None
            decline = getattr(error, "decline_code", None) if error else None
            return ChargeResult(False, intent_id or idempotency_key, contract_code(exc.code, decline))
        except stripe.StripeError as exc:
            return ChargeResult(
                False, idempotency_key, contract_code(getattr(exc, "code", None) or "processing_error", None)
            )
        ok = getattr(intent, "status", None) == "succeeded"
        return ChargeResult(ok, str(intent.id), None if ok else "processing_error")
